import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { createClient } from '@libsql/client';
import { redactUrl } from '../runtime/startup.ts';
import { vacuumLibsqlFile } from '../store/libsql-store.ts';
import { type CliIo, oneLine, usage } from './cli-io.ts';

const DEFAULT_URL = 'file:./data/hookmesh.db';

/**
 * `hookmesh backup <file>`: a consistent copy of the `DATABASE_URL` file, taken online. `VACUUM
 * INTO` reads one snapshot (WAL: the mesh keeps writing meanwhile) and writes a compact, complete
 * database, so every event acknowledged before it started is in the copy. Restoring is copying
 * the file back with the mesh stopped. An existing target is never overwritten.
 */
export async function backupCommand(args: readonly string[], io: CliIo): Promise<number> {
  if (args.length !== 1 || args[0] === '' || args[0]!.startsWith('-')) {
    return usage(io, 'backup takes one argument: the file to write (hookmesh backup <file>)');
  }
  const source = toLocalFile(io);
  if (typeof source === 'number') return source;
  const target = resolve(io.cwd ?? process.cwd(), args[0]!);
  if (existsSync(target)) {
    io.err(`hookmesh: ${target} exists; backup never overwrites: name a new file`);
    return 2;
  }
  const client = createClient({ url: `file:${source}`, timeout: 10_000 });
  try {
    await client.execute({ sql: 'VACUUM INTO ?', args: [target] });
  } catch (error) {
    io.err(`hookmesh: cannot back up ${source}: ${oneLine(error)}`);
    return 1;
  } finally {
    client.close();
  }
  io.out(`hookmesh: backed up ${source} to ${target} (${formatBytes(statSync(target).size)})`);
  return 0;
}

/**
 * `hookmesh vacuum`: rewrites the `DATABASE_URL` file with incremental auto-vacuum, for a file
 * made before hookmesh set it and too large to convert at start. Stop the mesh first.
 */
export async function vacuumCommand(args: readonly string[], io: CliIo): Promise<number> {
  if (args.length > 0) return usage(io, `vacuum takes no arguments (got ${args.join(' ')})`);
  const source = toLocalFile(io);
  if (typeof source === 'number') return source;
  try {
    const { before, after } = await vacuumLibsqlFile(source);
    io.out(`hookmesh: vacuumed ${source}: ${formatBytes(before)} → ${formatBytes(after)}`);
    return 0;
  } catch (error) {
    io.err(`hookmesh: cannot vacuum ${source} (is the mesh still running?): ${oneLine(error)}`);
    return 1;
  }
}

/** The database file `DATABASE_URL` names, or exit 2 when it is not a local file that exists. */
function toLocalFile(io: CliIo): string | number {
  const url = io.env.DATABASE_URL || DEFAULT_URL;
  const path =
    url.startsWith('file:') && !/[?#]|:memory:/.test(url)
      ? url.slice('file:'.length).replace(/^\/\//, '')
      : null;
  if (path === null) {
    io.err(
      `hookmesh: backup and vacuum work on a local file database (DATABASE_URL=file:…), not ${redactUrl(url)}; ` +
        'Turso and D1 have their own (see the README, "Backups")',
    );
    return 2;
  }
  const file = resolve(io.cwd ?? process.cwd(), path);
  if (!existsSync(file)) {
    io.err(`hookmesh: no database at ${file}`);
    return 2;
  }
  return file;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
