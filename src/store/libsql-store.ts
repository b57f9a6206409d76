import { fileURLToPath } from 'node:url';
import { type Client, createClient } from '@libsql/client';
import { createLibsqlDriver } from './libsql-driver.ts';
import { openLibsqlFileDriver } from './libsql-file-driver.ts';
import type { SqlDatabase } from './sql-database.ts';
import type { SqlDriver } from './sql-driver.ts';
import { createSqlStores, type SqlStores } from './sql-stores.ts';

export interface LibsqlOptions {
  /** `file:./data/hookmesh.db`, `:memory:`, `libsql://…` (Turso), `http(s)://…` (sqld). */
  url: string;
  authToken?: string | undefined;
}

/** A libSQL database as the SQL stores take it (`createSqlStores`), and the client that owns it. */
export interface LibsqlDatabase extends SqlDatabase {
  readonly client: Client;
}

/** Waits for another process's write lock instead of failing at once (several meshes, one file). */
const BUSY_TIMEOUT_MS = 10_000;

/**
 * Opens a libSQL database for the outbox. A local file runs in WAL mode with `synchronous=FULL`:
 * "accepted" means on disk, surviving power loss, and group commit — not weaker syncing — makes
 * ingest fast.
 *
 * For a local file the driver, which every store runs on, gets a connection of its own with cached
 * prepared statements; the client stays for what takes a client (the handlers' inbox). Closing the
 * client closes both.
 */
export async function openLibsql(options: LibsqlOptions): Promise<LibsqlDatabase> {
  const client = createClient({
    url: options.url,
    ...(options.authToken ? { authToken: options.authToken } : {}),
    timeout: BUSY_TIMEOUT_MS,
  });
  if (!options.url.startsWith('file:')) return { client, driver: createLibsqlDriver(client) };
  await client.execute('PRAGMA journal_mode = WAL');
  await client.execute('PRAGMA synchronous = FULL');
  const path = toFilePath(options.url);
  if (path === null) return { client, driver: createLibsqlDriver(client) };
  const fileDriver = openLibsqlFileDriver(path, { timeoutMs: BUSY_TIMEOUT_MS });
  const closeClient = client.close.bind(client);
  client.close = () => {
    fileDriver.closeNow();
    closeClient();
  };
  // Closing the driver closes the database, as the client's own driver does.
  return { client, driver: { ...fileDriver, close: async () => client.close() } };
}

/**
 * The file behind a `file:` URL, or null when a second connection would not reach the same
 * database (in-memory, URL options or escapes the client interprets).
 */
function toFilePath(url: string): string | null {
  if (/[?#%]|:memory:/.test(url)) return null;
  if (url.startsWith('file://')) return fileURLToPath(url);
  return url.slice('file:'.length);
}

/**
 * Every store over a libSQL client (and, for a local file, the driver `openLibsql` made for it).
 * @example const stores = createLibsqlStores(client, driver);
 */
export function createLibsqlStores(
  client: Client,
  driver: SqlDriver = createLibsqlDriver(client),
): SqlStores {
  return createSqlStores({ driver });
}
