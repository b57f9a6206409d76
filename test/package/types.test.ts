import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installPackedPackage } from '../support/packed-package.ts';

// DESIGN.md "The package": `.d.ts` that type a user's code from the installed tarball. A consumer
// and a producer `.ts` compiled by the repository's TypeScript with `moduleResolution: nodenext`,
// strict, no `skipLibCheck` and no ambient types (the project has no TypeScript of its own). Each
// `// @ts-expect-error` marks a mistake the types must catch; the same sources with those markers
// defused must then fail at exactly those lines — so the checks are known to bite.
//
// The sources live here, not as fixture files: the repository's own `tsc -p .` checks every `.ts`
// under test/, and these are meant to be checked only against the installed package.

const run = promisify(execFile);
const TSC = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url));
const MARK = '// @ts-expect-error';
const DEFUSED = '// (an error expected here)';

const COMPILER_OPTIONS = {
  module: 'nodenext',
  moduleResolution: 'nodenext',
  strict: true,
  noEmit: true,
  types: [],
};

/** A consuming service: `event.data` typed by the integration event's schema. */
const CONSUMER = `import {
  createLibsqlInbox,
  createWebhookApp,
  defineHandler,
  defineIntegrationEvent,
  type HandlerDefinition,
} from 'hookmesh/handler';
import * as v from 'valibot';

export const PaymentReceivedV1 = defineIntegrationEvent(
  'payment.received.v1',
  v.object({ paymentId: v.string(), amount: v.number(), note: v.optional(v.string()) }),
);

export const onPaymentReceived = defineHandler(PaymentReceivedV1, async (event, ctx) => {
  const amount: number = event.data.amount;
  const paymentId: string = event.data.paymentId;
  const note: string | undefined = event.data.note;
  const type: 'payment.received.v1' = event.type;
  const attempt: number = ctx.attempt;
  ${MARK} amount is a number, not a string
  const wrong: string = event.data.amount;
  ${MARK} the schema has no such field
  const missing = event.data.customerId;
  ${MARK} an optional field may be undefined
  const required: string = event.data.note;
  console.log(amount, paymentId, note, type, attempt, wrong, missing, required);
});

export const handlers: HandlerDefinition[] = [onPaymentReceived];

export const webhooks = createWebhookApp({
  handlers,
  signingKeys: { current: 'sig_current', next: 'sig_next' },
  inbox: createLibsqlInbox({ url: 'file:./data/inbox.db' }),
  publicUrl: 'https://payments.example.com',
});
export const answer: Promise<Response> = Promise.resolve(webhooks.fetch(new Request('https://payments.example.com/')));

${MARK} a handler is for an integration event definition, not a type name
defineHandler('payment.received.v1', () => {});
`;

/** A producing service: `publish(Definition, data)` typed by the domain event's schema. */
const PRODUCER = `import { defineDomainEvent } from 'hookmesh';
import { createMeshClient, MeshApiError, type PublishResult } from 'hookmesh/client';
import * as v from 'valibot';

export const PaymentReceived = defineDomainEvent(
  'PaymentReceived',
  v.object({ payment: v.object({ id: v.string(), amount: v.number() }) }),
);
const Refunded = defineDomainEvent('Refunded', v.object({ paymentId: v.string() }));

const mesh = createMeshClient({ url: 'https://mesh.example.com', token: 'producer-token' });

export async function publishAll(): Promise<PublishResult> {
  const sent = await mesh.publish(
    PaymentReceived,
    { payment: { id: 'p-1', amount: 12.5 } },
    { id: 'payment-p-1', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
  );
  const status: 200 | 202 = sent.status;
  const firstType: string | undefined = sent.integrationEvents[0]?.type;
  await mesh.publishMany([
    { event: PaymentReceived, data: { payment: { id: 'p-2', amount: 1 } }, id: 'payment-p-2' },
    { event: Refunded, data: { paymentId: 'p-1' } },
  ]);
  const read = await mesh.getEvent('payment-p-1');
  const deliveryStatus: string | undefined = read?.integrationEvents[0]?.deliveries[0]?.status;
  console.log(status, firstType, deliveryStatus, MeshApiError.name);

  ${MARK} amount must be a number
  await mesh.publish(PaymentReceived, { payment: { id: 'p-3', amount: '12.5' } });
  ${MARK} payment is required
  await mesh.publish(PaymentReceived, {});
  ${MARK} another definition's data
  await mesh.publish(PaymentReceived, { paymentId: 'p-1' });
  ${MARK} no such field in the schema
  await mesh.publish(PaymentReceived, { payment: { id: 'p-4', amount: 1 }, extra: true });
  await mesh.publishMany([
    ${MARK} each item is typed by its own definition
    { event: Refunded, data: { payment: { id: 'p-5', amount: 1 } } },
  ]);
  return sent;
}
`;

/** The platform team: definitions and a mesh served on Node or as a Worker. */
const PLATFORM = `import { defineConverter, defineDomainEvent, defineIntegrationEvent, defineMesh, defineSubscription } from 'hookmesh';
import { defineHandler } from 'hookmesh/handler';
import { serveMesh } from 'hookmesh/node';
import { createWorker } from 'hookmesh/worker';
import * as v from 'valibot';

const ShipmentSent = defineDomainEvent('ShipmentSent', v.object({ shipment: v.object({ id: v.string(), parcels: v.number() }) }));
const ShipmentSentV1 = defineIntegrationEvent('shipment.sent.v1', v.object({ shipmentId: v.string(), parcels: v.number() }));

const toV1 = defineConverter(ShipmentSent, ShipmentSentV1, (event) => ({
  shipmentId: event.data.shipment.id,
  parcels: event.data.shipment.parcels,
}));
${MARK} a converter returns the integration event's payload
defineConverter(ShipmentSent, ShipmentSentV1, (event) => ({ shipmentId: event.data.shipment.parcels }));

export const mesh = defineMesh(({ publicUrl }) => ({
  converters: [toV1],
  subscriptions: [defineSubscription(ShipmentSentV1, \`\${publicUrl}/webhooks/shipment.sent.v1\`)],
}));
const onSent = defineHandler(ShipmentSentV1, (event) => {
  const parcels: number = event.data.parcels;
  console.log(parcels);
});

export async function start(): Promise<string> {
  const served = await serveMesh({ mesh, handlers: ({ publicUrl }) => (publicUrl ? [onSent] : []) });
  await served.close();
  return served.url;
}
export default createWorker({ mesh, handlers: [onSent] });
`;

interface Compiled {
  readonly code: number;
  readonly output: string;
}

/** Runs the repository's tsc on a tsconfig in the project; the exit code and what it printed. */
async function compile(tsconfig: string, cwd: string, flags: readonly string[] = []): Promise<Compiled> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      [TSC, '-p', tsconfig, '--pretty', 'false', ...flags],
      {
        cwd,
        maxBuffer: 16 * 1024 * 1024,
      },
    );
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

/**
 * Packages whose declarations hookmesh's own may import: what its public signatures are made of
 * (valibot schemas, the Hono app of `createWebhookApp`, the libSQL client `createLibsqlInbox` takes).
 */
const PUBLIC_TYPE_PACKAGES = new Set(['hookmesh', 'valibot', 'hono', '@libsql/client', '@libsql/core']);

/** `…/node_modules/<pkg>/…` → `<pkg>` (the innermost; scoped names kept whole); null outside node_modules. */
function packageOf(file: string): string | null {
  const m = file.match(/.*node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  return m ? m[1]! : null;
}

/**
 * What hookmesh's declarations import beyond PUBLIC_TYPE_PACKAGES — internals leaking into a public
 * entry's types — from tsc's file list, without type checking (about a second). Each leak is shown
 * as the chain of declarations from the entry the user imported down to the foreign package.
 */
async function leakedDeclarations(tsconfig: string, cwd: string): Promise<string[]> {
  const { output } = await compile(tsconfig, cwd, ['--listFilesOnly', '--explainFiles']);
  const importers = new Map<string, string[]>();
  const imports: { file: string; from: string; specifier: string }[] = [];
  let file: string | null = null;
  for (const line of output.split('\n')) {
    if (!line.startsWith(' ')) {
      file = line.trim();
      continue;
    }
    const via = line.match(/Imported via '([^']+)' from file '([^']+)'/);
    if (!via || file === null) continue;
    importers.set(file, [...(importers.get(file) ?? []), via[2]!]);
    imports.push({ file, from: via[2]!, specifier: via[1]! });
  }
  const short = (f: string) => f.replace(/^.*node_modules\/hookmesh\/dist\//, '');
  const leaks = new Set<string>();
  for (const { file: target, from, specifier } of imports) {
    const pkg = packageOf(target);
    if (pkg === null || PUBLIC_TYPE_PACKAGES.has(pkg) || packageOf(from) !== 'hookmesh') continue;
    // Up from the importer to the declaration the user's file imported.
    const chain = [from];
    for (let up = importers.get(from)?.find((f) => packageOf(f) === 'hookmesh'); up !== undefined; ) {
      if (chain.includes(up)) break;
      chain.unshift(up);
      up = importers.get(up)?.find((f) => packageOf(f) === 'hookmesh');
    }
    leaks.add(`${chain.map(short).join(' → ')} → ${pkg} ('${specifier}')`);
  }
  return [...leaks].sort();
}

/** The 1-based lines right below each `// @ts-expect-error`: where the defused copy must fail. */
function expectedErrorLines(source: string): number[] {
  return source.split('\n').flatMap((line, i) => (line.trimStart().startsWith(MARK) ? [i + 2] : []));
}

/**
 * Where a compile that should pass failed, in brief: the user's files by name, installed packages by
 * package (`node_modules/drizzle-orm: 70`), so a failure names its source without a screenful of
 * messages. Empty when the output holds no error.
 */
function errorSummary(output: string): Record<string, number> {
  const summary: Record<string, number> = {};
  for (const m of output.matchAll(/^(.+?)\(\d+,\d+\): error TS\d+/gm)) {
    const pkg = packageOf(m[1]!);
    const key = pkg === null ? m[1]! : `node_modules/${pkg}`;
    summary[key] = (summary[key] ?? 0) + 1;
  }
  if (Object.keys(summary).length === 0 && output.trim() !== '') summary[output.trim().slice(0, 200)] = 1;
  return summary;
}

/** `file(line,col): error TSxxxx` lines of tsc's output, as `file:line`. */
function errorLocations(output: string): string[] {
  return [...output.matchAll(/^(.+?)\((\d+),\d+\): error TS\d+/gm)].map((m) => `${m[1]}:${m[2]}`);
}

/**
 * Writes the files and a tsconfig listing them. `skipLibCheck` only for the defused copies: their
 * errors are in the user's files, and checking every `.d.ts` again would only cost time.
 */
function writeProject(
  dir: string,
  name: string,
  files: Record<string, string>,
  extra: { skipLibCheck?: boolean } = {},
): string {
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  const tsconfig = join(dir, `tsconfig.${name}.json`);
  const compilerOptions = { ...COMPILER_OPTIONS, ...extra };
  writeFileSync(tsconfig, `${JSON.stringify({ compilerOptions, files: Object.keys(files) }, null, 2)}\n`);
  return tsconfig;
}

/** The user's files: a consuming service, a producing service, the platform team's mesh. */
const SOURCES = { 'consumer.ts': CONSUMER, 'producer.ts': PRODUCER, 'platform.ts': PLATFORM };
/** The same files with every marker defused: tsc must fail at each marked line, and nowhere else. */
const DEFUSED_SOURCES = Object.fromEntries(
  Object.entries(SOURCES).map(([file, text]) => [
    file.replace('.ts', '.defused.ts'),
    text.replaceAll(MARK, DEFUSED),
  ]),
);

describe('the packed package types a user’s TypeScript (nodenext, strict, no skipLibCheck)', () => {
  let dir: string;
  // One program per question, all three files in each (the declarations are checked once, not per
  // file), run side by side: the public entries' import graph, the files as written, the defused ones.
  let leaks: Promise<string[]>;
  let checked: Promise<Compiled>;
  let defused: Promise<Compiled>;

  beforeAll(async () => {
    const project = await installPackedPackage();
    dir = join(project.dir, 'types');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const tsconfig = writeProject(dir, 'checked', SOURCES);
    leaks = leakedDeclarations(tsconfig, dir);
    checked = compile(tsconfig, dir);
    defused = compile(writeProject(dir, 'defused', DEFUSED_SOURCES, { skipLibCheck: true }), dir);
    // Settled here so a failure surfaces in the test that reads it, never as an unhandled rejection.
    await Promise.allSettled([leaks, checked, defused]);
  }, 240_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The checked program's errors in `files` and in any installed package's declarations. */
  const errorsFor = async (files: readonly string[]) => {
    const { output } = await checked;
    const summary = errorSummary(output);
    return Object.fromEntries(
      Object.entries(summary).filter(([where]) => files.includes(where) || where.startsWith('node_modules/')),
    );
  };

  /** Where the defused copies of `files` failed, and where they should have. */
  const defusedErrors = async (files: readonly string[]) => {
    const { output } = await defused;
    const names = files.map((f) => f.replace('.ts', '.defused.ts'));
    const found = [...new Set(errorLocations(output))].filter((at) =>
      names.some((n) => at.startsWith(`${n}:`)),
    );
    const expected = files.flatMap((file) =>
      expectedErrorLines(SOURCES[file as keyof typeof SOURCES]).map(
        (line) => `${file.replace('.ts', '.defused.ts')}:${line}`,
      ),
    );
    return { found: found.sort(), expected: expected.sort(), output };
  };

  it('the public entries’ declarations import no internals (only valibot, hono and libSQL’s client)', async () => {
    // A store's query builder reached from `hookmesh/node`, say: the user's compiler would have to
    // check that package's own declarations too, and without skipLibCheck they may not pass.
    expect(await leaks).toEqual([]);
  });

  it('types event.data in a handler and the data of publish: the mistakes marked are errors, and only those', async () => {
    const files = ['consumer.ts', 'producer.ts'];
    const { output } = await checked;
    expect(await errorsFor(files), output.slice(0, 2000)).toEqual({});
    const { found, expected, output: defusedOutput } = await defusedErrors(files);
    expect(expected).toHaveLength(9);
    expect(found, defusedOutput).toEqual(expected);
  });

  it('types the platform team’s mesh on hookmesh/node and hookmesh/worker under the same settings', async () => {
    const files = ['platform.ts'];
    const { output } = await checked;
    expect(await errorsFor(files), output.slice(0, 2000)).toEqual({});
    const { found, expected, output: defusedOutput } = await defusedErrors(files);
    expect(expected).toHaveLength(1);
    expect(found, defusedOutput).toEqual(expected);
  });

  it('the whole program compiles: exit 0 as written, non-zero once the markers are defused', async () => {
    expect((await checked).code).toBe(0);
    expect((await defused).code).not.toBe(0);
  });
});
