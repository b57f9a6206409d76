import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { readMigrations } from '../runtime/migrations.ts';
import { redactUrl } from '../runtime/startup.ts';
import { openLibsql } from '../store/libsql-store.ts';
import { applyMigrations } from '../store/migrate.ts';

export interface CliIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

const HELP = `hookmesh — an edge-native HTTP webhook event mesh

Usage:
  hookmesh migrate      apply pending migrations to DATABASE_URL
  hookmesh help         show this text (also --help, -h)
  hookmesh --version    print the version

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
  return usage(io, `unknown command ${JSON.stringify(command)}`);
}

function usage(io: CliIo, message: string): number {
  io.err(`hookmesh: ${message}; see hookmesh --help`);
  return 2;
}

async function migrate(io: CliIo): Promise<number> {
  const url = io.env.DATABASE_URL || 'file:./data/hookmesh.db';
  const shown = redactUrl(url);
  if (!/^(file:|libsql:\/\/|https?:\/\/)/.test(url)) {
    io.err(`hookmesh: DATABASE_URL must start with file:, libsql:// or https:// (got ${shown})`);
    return 2;
  }
  try {
    if (url.startsWith('file:') && !url.includes(':memory:')) {
      mkdirSync(dirname(resolve(url.slice('file:'.length).replace(/^\/\//, ''))), { recursive: true });
    }
    const database = await openLibsql({ url, authToken: io.env.DATABASE_AUTH_TOKEN || undefined });
    try {
      const applied = await applyMigrations(database.driver, readMigrations());
      io.out(
        applied.length > 0
          ? `hookmesh: applied ${applied.join(', ')} to ${shown}`
          : `hookmesh: ${shown} is up to date`,
      );
      return 0;
    } finally {
      database.client.close();
    }
  } catch (error) {
    io.err(`hookmesh: cannot migrate ${shown}: ${oneLine(error)}`);
    return 1;
  }
}

/** An error as one line, its cause included, never a stack. */
function oneLine(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error; e && parts.length < 3; e = (e as { cause?: unknown }).cause) {
    parts.push(e instanceof Error ? e.message : String(e));
  }
  return parts.join(': ').replace(/\s+/g, ' ');
}

async function readVersion(): Promise<string> {
  const { readFileSync } = await import('node:fs');
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}
