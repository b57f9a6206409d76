import { type Client, createClient } from '@libsql/client';
import { drizzle } from 'drizzle-orm/libsql';
import type { OutboxStore } from '../core/outbox-store.ts';
import { createLibsqlDriver } from './libsql-driver.ts';
import * as schema from './schema.ts';
import type { SqlDriver } from './sql-driver.ts';
import { createSqlOutboxStore } from './sql-outbox-store.ts';

export interface LibsqlOptions {
  /** `file:./data/hookmesh.db`, `:memory:`, `libsql://…` (Turso), `http(s)://…` (sqld). */
  url: string;
  authToken?: string | undefined;
}

/**
 * Opens a libSQL database for the outbox. A local file runs in WAL mode with `synchronous=FULL`:
 * "accepted" means on disk, surviving power loss, and group commit — not weaker syncing — makes
 * ingest fast.
 */
export async function openLibsql(options: LibsqlOptions): Promise<{ client: Client; driver: SqlDriver }> {
  const client = createClient({
    url: options.url,
    ...(options.authToken ? { authToken: options.authToken } : {}),
    // Waits for another process's write lock instead of failing at once (several meshes, one file).
    timeout: 10_000,
  });
  if (options.url.startsWith('file:')) {
    await client.execute('PRAGMA journal_mode = WAL');
    await client.execute('PRAGMA synchronous = FULL');
  }
  return { client, driver: createLibsqlDriver(client) };
}

/** @example const store = createLibsqlStore(client, driver); */
export function createLibsqlStore(
  client: Client,
  driver: SqlDriver = createLibsqlDriver(client),
): OutboxStore {
  return createSqlOutboxStore({ db: drizzle(client, { schema }), driver });
}
