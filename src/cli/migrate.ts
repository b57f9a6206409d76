import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { readMigrations } from '../runtime/migrations.ts';
import { redactUrl } from '../runtime/startup.ts';
import { openLibsql } from '../store/libsql-store.ts';
import { applyMigrations } from '../store/migrate.ts';
import { type CliIo, oneLine } from './cli-io.ts';

/** `hookmesh migrate`: applies the package's migrations to `DATABASE_URL`. */
export async function migrate(io: CliIo): Promise<number> {
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
