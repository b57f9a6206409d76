import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeImportFailure } from '../../src/cli/load-mesh.ts';
import { runCli } from '../../src/cli/run.ts';

// `hookmesh catalog` and `hookmesh check-compat`, run in process on the fixture meshes of
// ./fixtures (each change one export of compat-meshes.ts, picked with --export).

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const MESHES = 'test/cli/fixtures/compat-meshes.ts';

async function run(args: string[], cwd = ROOT) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { env: {}, cwd, out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

let dir: string;
let baselinePath: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hookmesh-catalog-'));
  baselinePath = join(dir, 'catalog.json');
  const printed = await run(['catalog', '--mesh', MESHES, '--export', 'baseline']);
  expect(printed).toMatchObject({ code: 0, err: '' });
  writeFileSync(baselinePath, `${printed.out}\n`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const checkAgainstBaseline = (exportName: string) =>
  run(['check-compat', '--baseline', baselinePath, '--mesh', MESHES, '--export', exportName]);

describe('hookmesh catalog', () => {
  it("prints the example app's catalog exactly as committed in catalog.json (so it cannot drift)", async () => {
    const printed = await run(['catalog', '--mesh', 'src/example/orders.ts', '--export', 'ordersMesh']);
    expect(printed).toMatchObject({ code: 0, err: '' });
    expect(
      `${printed.out}\n`,
      'after an intended change: npx tsx src/cli/main.ts catalog --mesh src/example/orders.ts --export ordersMesh > catalog.json',
    ).toBe(readFileSync(join(ROOT, 'catalog.json'), 'utf8'));
  });

  it('prints one JSON document of the schemas by type, keys sorted at every depth', async () => {
    const { code, out } = await run(['catalog', '--mesh', MESHES, '--export', 'newType']);
    expect(code).toBe(0);
    const catalog = JSON.parse(out) as { integrationEvents: Record<string, Record<string, unknown>> };
    expect(Object.keys(catalog)).toEqual(['integrationEvents']);
    expect(Object.keys(catalog.integrationEvents)).toEqual([
      'order.created.v1',
      'order.paid.v1',
      'order.shipped.v1',
    ]);
    const created = catalog.integrationEvents['order.created.v1']!;
    expect(Object.keys(created)).toEqual(['properties', 'required', 'title', 'type']);
    expect(created.required).toEqual([
      'code',
      'customer',
      'customerId',
      'extra',
      'lines',
      'orderId',
      'status',
      'tags',
    ]);
    expect(created.properties).toMatchObject({
      status: { enum: ['open', 'paid', 'cancelled'], type: 'string' },
      lines: { items: { properties: { quantity: { minimum: 1, type: 'integer' } } }, type: 'array' },
      tags: { additionalProperties: { type: 'string' } },
    });
  });

  it('finds the integration events of converters (a plain .mjs module exporting `mesh`) and of a default export', async () => {
    const plain = await run(['catalog', '--mesh', './test/cli/fixtures/plain-mesh.mjs']);
    expect(plain.code).toBe(0);
    expect(Object.keys(JSON.parse(plain.out).integrationEvents)).toEqual(['thing.created.v1']);
    const fromDefault = await run(['catalog', '--mesh', 'fixtures/default-mesh.mjs'], join(ROOT, 'test/cli'));
    expect(fromDefault.code).toBe(0);
    expect(Object.keys(JSON.parse(fromDefault.out).integrationEvents)).toEqual(['thing.deleted.v1']);
  });

  it('calls a mesh function with a placeholder URL: the same catalog as the plain definitions', async () => {
    const fromFunction = await run(['catalog', '--mesh', MESHES, '--export', 'asFunction']);
    const plain = await run(['catalog', '--mesh', MESHES, '--export', 'baseline']);
    expect(fromFunction).toMatchObject({ code: 0, out: plain.out });
  });

  it.each([
    [
      ['catalog'],
      /^hookmesh: name the module that exports your mesh with --mesh <module>; see hookmesh --help$/,
    ],
    [['catalog', '--mesh', 'nowhere/mesh.js'], /^hookmesh: cannot find the mesh module nowhere\/mesh\.js$/],
    [
      ['catalog', '--mesh', 'src/example/orders.ts'],
      /^hookmesh: src\/example\/orders\.ts has no "mesh" export and no default export \(it exports .*ordersMesh.*\); name the export with --export <name>$/,
    ],
    [['catalog', '--mesh', MESHES, '--export', 'nope'], /has no export "nope" \(it exports /],
    [['catalog', '--mesh', MESHES, '--export', 'notAMesh'], /"notAMesh" is not a mesh: expected defineMesh/],
    [
      ['catalog', '--mesh', MESHES, '--export', 'throwing'],
      /"throwing" threw when called with \{ publicUrl \}: HOOKMESH_SECRET is not set$/,
    ],
    [
      ['catalog', '--mesh', MESHES, '--export', 'duplicated'],
      /"duplicated" is not a valid mesh: .*defined twice/,
    ],
    [
      ['catalog', '--mesh', 'test/cli/fixtures/failing-import.mjs'],
      /^hookmesh: cannot load test\/cli\/fixtures\/failing-import\.mjs: cannot start: configuration missing$/,
    ],
    [['catalog', '--mesh', MESHES, '--bogus'], /^hookmesh: Unknown option '--bogus'.*; see hookmesh --help$/],
    [['catalog', '--mesh', MESHES, 'extra'], /^hookmesh: .*positional.*; see hookmesh --help$/],
  ])('%j is a one-line error and exit 2, never a stack trace', async (args, message) => {
    const result = await run(args);
    expect(result.code).toBe(2);
    expect(result.out).toBe('');
    expect(result.err.split('\n')).toHaveLength(1);
    expect(result.err).toMatch(message);
    expect(result.err).not.toMatch(/\bat \S+ \(|node:internal/);
  });

  it('tells how to load a TypeScript module when Node cannot', () => {
    const error = Object.assign(new TypeError('Unknown file extension ".ts"'), {
      code: 'ERR_UNKNOWN_FILE_EXTENSION',
    });
    expect(describeImportFailure('src/mesh.ts', error)).toMatch(/^cannot load src\/mesh\.ts: .*--import tsx/);
    expect(describeImportFailure('src/mesh.js', new SyntaxError('Unexpected token'))).toBe(
      'cannot load src/mesh.js: Unexpected token',
    );
  });
});

describe('hookmesh check-compat', () => {
  it.each([
    ['baseline', []],
    ['asFunction', []],
    ['optionalFieldAdded', ['order.created.v1: /coupon added (optional)']],
    ['enumWidened', ['order.created.v1: /status enum widened: "refunded" added']],
    ['constraintLoosened', ['order.created.v1: /code maxLength loosened (20 → 40)']],
    ['newType', ['order.shipped.v1: new type']],
    ['newVersion', ['order.created.v2: new type']],
  ])('%s is compatible: exit 0 and a summary', async (exportName, listed) => {
    const result = await checkAgainstBaseline(exportName);
    expect(result).toMatchObject({ code: 0, err: '' });
    const [summary, ...lines] = result.out.split('\n');
    expect(summary).toMatch(
      /^hookmesh: compatible with .*catalog\.json: 2 types compared, \d changed compatibly, \d new$/,
    );
    expect(lines.map((line) => line.trim())).toEqual(listed);
  });

  it.each([
    ['fieldRemoved', 'order.created.v1: /customerId removed'],
    ['fieldRetyped', 'order.created.v1: /customerId retyped from string to number'],
    ['fieldMadeNullable', 'order.created.v1: /customerId retyped from string to null | string'],
    ['fieldMadeOptional', 'order.created.v1: /customerId made optional'],
    ['optionalMadeRequired', 'order.created.v1: /note made required'],
    ['requiredFieldAdded', 'order.created.v1: /coupon added as required'],
    ['enumNarrowed', 'order.created.v1: /status enum narrowed: "cancelled" removed'],
    ['nestedFieldRemoved', 'order.created.v1: /customer/email removed'],
    ['arrayItemRetyped', 'order.created.v1: /lines/* retyped from object to string'],
    ['arrayItemFieldRetyped', 'order.created.v1: /lines/*/quantity retyped from integer to string'],
    ['additionalPropertiesTightened', 'order.created.v1: /extra additionalProperties tightened (any → none)'],
    ['mapValueRetyped', 'order.created.v1: /tags/* retyped from string to number'],
    ['maxLengthTightened', 'order.created.v1: /code maxLength tightened (20 → 10)'],
    ['minimumTightened', 'order.created.v1: /lines/*/quantity minimum tightened (>= 1 → >= 2)'],
    ['typeRemoved', 'order.paid.v1: type removed'],
  ])('%s breaks: exit 1, naming type and field', async (exportName, line) => {
    const result = await checkAgainstBaseline(exportName);
    expect(result.code).toBe(1);
    expect(result.out).toBe('');
    const lines = result.err.split('\n');
    expect(lines.slice(0, -1)).toEqual([line]);
    expect(lines.at(-1)).toMatch(/^hookmesh: 1 breaking change in order\.\w+\.v1 against .*catalog\.json: /);
  });

  it('the example app is compatible with its committed catalog', async () => {
    const result = await run([
      'check-compat',
      '--baseline',
      'catalog.json',
      '--mesh',
      'src/example/orders.ts',
      '--export',
      'ordersMesh',
    ]);
    expect(result).toMatchObject({ code: 0, err: '' });
    expect(result.out).toBe(
      'hookmesh: compatible with catalog.json: 2 types compared, 0 changed compatibly, 0 new',
    );
  });

  it.each([
    [[], /^hookmesh: name the catalog to compare with: --baseline <catalog\.json>; see hookmesh --help$/],
    [['--baseline', 'missing.json'], /^hookmesh: cannot find the baseline missing\.json$/],
    [
      ['--baseline', 'package.json'],
      /^hookmesh: the baseline package\.json is not a catalog: "integrationEvents" must be/,
    ],
    [['--baseline', 'README.md'], /^hookmesh: the baseline README\.md is not JSON: /],
  ])('a bad baseline %j is a one-line error and exit 2', async (args, message) => {
    const result = await run(['check-compat', ...args, '--mesh', MESHES, '--export', 'baseline']);
    expect(result.code).toBe(2);
    expect(result.err.split('\n')).toHaveLength(1);
    expect(result.err).toMatch(message);
  });

  it('a bad --mesh is a one-line error and exit 2', async () => {
    const result = await run(['check-compat', '--baseline', baselinePath, '--mesh', 'nowhere.mjs']);
    expect(result).toMatchObject({ code: 2, err: 'hookmesh: cannot find the mesh module nowhere.mjs' });
  });
});
