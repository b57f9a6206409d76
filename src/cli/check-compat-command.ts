import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  type CatalogChange,
  checkCatalogCompat,
  type ParseCatalogResult,
  parseEventCatalog,
  toChangeLine,
} from '../core/schema-compat.ts';
import { MESH_OPTIONS, parseOptions, readCurrentCatalog } from './catalog-command.ts';
import { type CliIo, oneLine, usage } from './cli-io.ts';

const OPTIONS = { ...MESH_OPTIONS, baseline: { type: 'string' } } as const;

/**
 * `hookmesh check-compat --baseline <catalog.json> --mesh <module>`: 0 when every type of the
 * baseline is still served by a schema its consumers survive (a summary on stdout), 1 naming each
 * breaking change (stderr), 2 when the baseline or the mesh cannot be read.
 */
export async function checkCompatCommand(args: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseOptions(args, OPTIONS, io);
  if (typeof parsed === 'number') return parsed;
  const { baseline: baselinePath } = parsed.values;
  if (baselinePath === undefined || baselinePath === '') {
    return usage(io, 'name the catalog to compare with: --baseline <catalog.json>');
  }
  const baseline = readBaseline(baselinePath, io.cwd ?? process.cwd());
  if (!baseline.ok) {
    io.err(`hookmesh: ${baseline.error}`);
    return 2;
  }
  const current = await readCurrentCatalog(parsed.values, io);
  if (typeof current === 'number') return current;

  const report = checkCatalogCompat(baseline.catalog, current);
  if (report.breaking.length > 0) {
    for (const change of report.breaking) io.err(toChangeLine(change));
    const types = [...new Set(report.breaking.map((change) => change.type))];
    io.err(
      `hookmesh: ${count(report.breaking.length, 'breaking change')} in ${types.join(', ')} against ${baselinePath}: ` +
        'publish the new schema as a new version (a new .vN type), or update the baseline if the break is intended',
    );
    return 1;
  }
  const changedTypes = new Set(changesOf(report.changes, false).map((change) => change.type));
  const added = changesOf(report.changes, true);
  io.out(
    `hookmesh: compatible with ${baselinePath}: ${count(report.compared, 'type')} compared, ` +
      `${changedTypes.size} changed compatibly, ${added.length} new`,
  );
  for (const change of report.changes) io.out(`  ${toChangeLine(change)}`);
  return 0;
}

function changesOf(changes: readonly CatalogChange[], typeAdded: boolean): CatalogChange[] {
  return changes.filter((change) => (change.kind === 'type-added') === typeAdded);
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function readBaseline(path: string, cwd: string): ParseCatalogResult {
  let text: string;
  try {
    text = readFileSync(resolve(cwd, path), 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return {
      ok: false,
      error:
        code === 'ENOENT'
          ? `cannot find the baseline ${path}`
          : `cannot read the baseline ${path}: ${oneLine(error)}`,
    };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, error: `the baseline ${path} is not JSON: ${oneLine(error)}` };
  }
  const parsed = parseEventCatalog(json);
  return parsed.ok ? parsed : { ok: false, error: `the baseline ${path} is not a catalog: ${parsed.error}` };
}
