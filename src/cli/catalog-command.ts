import { parseArgs } from 'node:util';
import type { EventCatalog } from '../core/schema-compat.ts';
import { type CliIo, usage } from './cli-io.ts';
import { loadMesh } from './load-mesh.ts';
import { toEventCatalog } from './to-event-catalog.ts';

export const MESH_OPTIONS = {
  mesh: { type: 'string' },
  export: { type: 'string' },
} as const;

/** `hookmesh catalog --mesh <module> [--export <name>]`: prints the app's integration event schemas. */
export async function catalogCommand(args: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseOptions(args, MESH_OPTIONS, io);
  if (typeof parsed === 'number') return parsed;
  const current = await readCurrentCatalog(parsed.values, io);
  if (typeof current === 'number') return current;
  io.out(JSON.stringify(current, null, 2));
  return 0;
}

/**
 * The catalog of the mesh `--mesh` names, exactly as `hookmesh catalog` prints it (a JSON round
 * trip, so a comparison sees what the committed file holds); or the exit code of a failure.
 */
export async function readCurrentCatalog(
  options: { mesh?: string | undefined; export?: string | undefined },
  io: CliIo,
): Promise<EventCatalog | number> {
  if (options.mesh === undefined || options.mesh === '') {
    return usage(io, 'name the module that exports your mesh with --mesh <module>');
  }
  const loaded = await loadMesh(options.mesh, options.export, io.cwd ?? process.cwd());
  if (!loaded.ok) {
    io.err(`hookmesh: ${loaded.error}`);
    return 2;
  }
  return JSON.parse(JSON.stringify(toEventCatalog(loaded.registry))) as EventCatalog;
}

type OptionSpec = Record<string, { type: 'string' }>;

/** `--name value` / `--name=value` options, no positionals; a mistake is a usage error (exit 2). */
export function parseOptions<TSpec extends OptionSpec>(
  args: readonly string[],
  options: TSpec,
  io: CliIo,
): { values: { [K in keyof TSpec]?: string | undefined } } | number {
  try {
    const { values } = parseArgs({ args: [...args], options, strict: true, allowPositionals: false });
    return { values: values as { [K in keyof TSpec]?: string } };
  } catch (error) {
    return usage(
      io,
      (error instanceof Error ? error.message : String(error)).split('\n')[0]!.replace(/\.$/, ''),
    );
  }
}
