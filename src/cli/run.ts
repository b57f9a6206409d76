import { backupCommand, vacuumCommand } from './backup-command.ts';
import { catalogCommand } from './catalog-command.ts';
import { checkCompatCommand } from './check-compat-command.ts';
import { type CliIo, usage } from './cli-io.ts';
import { migrate } from './migrate.ts';

export type { CliIo } from './cli-io.ts';

const HELP = `hookmesh — an edge-native HTTP webhook event mesh

Usage:
  hookmesh migrate              apply pending migrations to DATABASE_URL
  hookmesh catalog --mesh <module> [--export <name>]
                                print the mesh's integration event payloads as JSON Schema:
                                { "integrationEvents": { "<type>": <schema>, … } }, keys sorted
  hookmesh check-compat --baseline <catalog.json> --mesh <module> [--export <name>]
                                compare with a catalog printed before: exit 1, naming type and
                                field, when a schema of the same type and version would break
                                its consumers; 0 for additions (new optional fields, enum
                                values, types, .vN versions)
  hookmesh backup <file>        copy a file DATABASE_URL to a new <file> while the mesh runs
                                (VACUUM INTO: one consistent snapshot); restore = copy it back
                                with the mesh stopped. Exit 2 when <file> exists
  hookmesh vacuum               rewrite a file DATABASE_URL so freed space goes back to the disk
                                (once, for a file older than incremental auto-vacuum; mesh stopped)
  hookmesh help                 show this text (also --help, -h)
  hookmesh --version            print the version

The mesh module (--mesh):
  A JavaScript module (.js, .mjs; the path relative to the current directory) exporting your
  mesh as "mesh" or as its default export: defineMesh(...) or a function of { publicUrl } (called
  with a placeholder URL). --export <name> picks another export. A TypeScript module needs a
  loader: NODE_OPTIONS="--import tsx" npx hookmesh catalog --mesh src/mesh.ts (or Node >= 22.18).

What check-compat calls breaking: a field removed, retyped (any change of its JSON types), made
optional or made required; a required field added; enum values removed; minimum/maximum,
min/maxLength, min/maxItems, min/maxProperties, multipleOf, pattern or format tightened;
additionalProperties tightened; a type removed. Nested objects, array items, map values and
variants (anyOf/oneOf) are compared the same way. Exit 2: a wrong command line, a baseline that
is missing or not a catalog, or a mesh module that cannot be loaded.

Environment:
  DATABASE_URL          file:./data/hookmesh.db (default), libsql://… (Turso) or https://… (sqld)
  DATABASE_AUTH_TOKEN   the token for libsql:// and https:// databases

A Cloudflare D1 database is migrated by wrangler instead:
  migrations_dir = "node_modules/hookmesh/migrations" in wrangler.toml, then
  npx wrangler d1 migrations apply <database>`;

/** Exit codes: 0 done, 1 the work failed, 2 the command line is wrong (as most CLIs do). */
export async function runCli(args: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = args;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    io.out(HELP);
    return command === undefined ? 2 : 0;
  }
  if (command === '--version' || command === '-v') {
    io.out(await readVersion());
    return 0;
  }
  if (command === 'migrate') {
    if (rest.length > 0) return usage(io, `migrate takes no arguments (got ${rest.join(' ')})`);
    return migrate(io);
  }
  if (command === 'backup') return backupCommand(rest, io);
  if (command === 'vacuum') return vacuumCommand(rest, io);
  if (command === 'catalog') return catalogCommand(rest, io);
  if (command === 'check-compat') return checkCompatCommand(rest, io);
  return usage(io, `unknown command ${JSON.stringify(command)}`);
}

async function readVersion(): Promise<string> {
  const { readFileSync } = await import('node:fs');
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}
