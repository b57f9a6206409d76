import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Client, createClient } from '@libsql/client';
import { pauseForLockShare, RETENTION_LOCK_SHARE } from '../core/retention.ts';
import { createBusyRetry } from './libsql-busy-retry.ts';
import { createLibsqlDriver } from './libsql-driver.ts';
import {
  type LibsqlFileDriver,
  openLibsqlFileDriver,
  type WalSync,
  waitOnTimer,
} from './libsql-file-driver.ts';
import { openLibsqlWorkerDriver } from './libsql-worker-driver.ts';
import type { SqlDatabase } from './sql-database.ts';
import type { SqlDriver } from './sql-driver.ts';
import { createSqlStores, type SqlStores } from './sql-stores.ts';

export interface LibsqlOptions {
  /** `file:./data/hookmesh.db`, `:memory:`, `libsql://…` (Turso), `http(s)://…` (sqld). */
  url: string;
  authToken?: string | undefined;
  /**
   * Where a local file's statements run: `worker`, a worker thread owning the connection (each
   * commit's fsync off the event loop), or `main`, the calling thread (the default).
   */
  sqliteThread?: SqliteThread | undefined;
  /**
   * How the calling thread's connection syncs its commits (`HOOKMESH_SQLITE_SYNC`): `flush`, the
   * log on the thread pool before anything answers (Node's default), or `full`, inside COMMIT
   * (`synchronous=FULL`; Deno's default, and always so in a worker thread).
   */
  walSync?: WalSync | undefined;
}

export type SqliteThread = 'worker' | 'main';

/** A libSQL database as the SQL stores take it (`createSqlStores`), and the client that owns it. */
export interface LibsqlDatabase extends SqlDatabase {
  readonly client: Client;
}

/** Waits for another process's write lock instead of failing at once (several meshes, one file). */
const BUSY_TIMEOUT_MS = 10_000;

/**
 * The stores' own connection: SQLite blocks the event loop only this long for a lock, the driver
 * then retries on timers up to `STORE_BUSY_WAIT_MS` and gives up with a 503 (see the file driver).
 * One sleep of SQLite's busy handler: its sleeps grow 1, 2, 5 ms, so at 10 ms a commit meeting a
 * 4 ms retention batch woke only 8-10 ms after it began waiting, the event loop stopped meanwhile;
 * the driver's own tries come every few ms (issue 11: ingest p99 while purging).
 */
const STORE_BUSY_TIMEOUT_MS = 1;
const STORE_BUSY_WAIT_MS = 3_000;

/**
 * An existing file without incremental auto-vacuum is converted at open (one `VACUUM`, which
 * rewrites the file under an exclusive lock and needs as much free disk again) only up to this
 * size: a few seconds at most. A larger one keeps reusing freed pages without shrinking until an
 * operator runs `hookmesh vacuum` with the mesh stopped.
 */
export const AUTO_CONVERT_MAX_BYTES = 64 * 1024 * 1024;

/** The write-ahead log is cut back to this size each time it restarts (sustained load included). */
const JOURNAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

/**
 * Pages released per incremental-vacuum transaction (512 KiB). A round holds the write lock no
 * longer than a purge batch: 128 pages took 1-2 ms, 256 took 4.5-7 ms and 1024 took 33-39 ms
 * (measured on a purged 200k store, 2026-12-03), and a pass ends with dozens of rounds (issue 11:
 * ingest p99 while purging).
 */
const VACUUM_PAGES_PER_ROUND = 128;
/** Rounds per reclaim: at most 256 MiB handed back per retention pass. */
const VACUUM_ROUNDS = 512;

/**
 * Opens a libSQL database for the outbox. A local file runs in WAL mode, every commit's log synced
 * before anything answers or acts on it: "accepted" means on disk, surviving power loss, and group
 * commit — not weaker syncing — makes ingest fast. The client's connections run
 * `synchronous=FULL`; the driver's commits at NORMAL and syncs the log itself on the thread pool
 * before it answers (`walSync`, wal-flush.ts), which is as durable and keeps the event loop
 * working while the disk syncs.
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
  const path = toFilePath(options.url);
  // Before anything creates the file's first page (WAL mode included): only then does the setting
  // take without a VACUUM. Freed pages are then handed back by the retention pass (`reclaimSpace`).
  await client.execute('PRAGMA auto_vacuum = INCREMENTAL');
  if (
    path !== null &&
    (await pragmaNumber(client, 'auto_vacuum')) !== 2 &&
    fileSize(path) <= AUTO_CONVERT_MAX_BYTES
  ) {
    // Another process on the file (several meshes) makes it busy: the next start tries again.
    await client.execute('VACUUM').catch(() => undefined);
  }
  await client.execute('PRAGMA journal_mode = WAL');
  await client.execute('PRAGMA synchronous = FULL');
  await client.execute(`PRAGMA journal_size_limit = ${JOURNAL_SIZE_LIMIT_BYTES}`);
  if (path === null) return { client, driver: createLibsqlDriver(client) };
  const open =
    (options.sqliteThread ?? DEFAULT_SQLITE_THREAD) === 'worker'
      ? openLibsqlWorkerDriver
      : openLibsqlFileDriver;
  const fileDriver = open(path, {
    busyTimeoutMs: STORE_BUSY_TIMEOUT_MS,
    busyWaitMs: STORE_BUSY_WAIT_MS,
    // The log's checkpoints mostly off the writer's thread (libsql-checkpointer.ts, issue 12).
    checkpointThread: true,
    walSync: options.walSync,
  });
  await fileDriver.query(`PRAGMA journal_size_limit = ${JOURNAL_SIZE_LIMIT_BYTES}`);
  const closeClient = client.close.bind(client);
  // The driver first (a worker thread's runs what was queued, then its thread ends), then the
  // client. Either order is safe for the file: both connections use one SQLite library, whose
  // in-process locks keep a closing connection from checkpointing or removing the WAL under the
  // other (test/store/libsql-lock-loss.test.ts). The file's last connection to really close
  // checkpoints it and removes `-wal` and `-shm`, as any SQLite program does.
  let closing: Promise<void> | undefined;
  const closeBoth = () => {
    closing ??= fileDriver.close().finally(closeClient);
    return closing;
  };
  client.close = () => {
    void closeBoth();
  };
  // Closing the driver closes the database, as the client's own driver does.
  return {
    client,
    driver: {
      ...fileDriver,
      close: closeBoth,
      reclaimSpace: () => reclaimFileSpace(fileDriver),
    },
  };
}

/**
 * Hands free pages back to the file system in short transactions, then checkpoints the log
 * (PASSIVE: it never makes ingest wait; `journal_size_limit` trims the log when it restarts).
 */
async function reclaimFileSpace(driver: LibsqlFileDriver): Promise<{ pagesFreed: number }> {
  // `exec` tries once: a round that meets another process's commit waits it out as statements do,
  // instead of failing the pass (whose purged batches stay purged, but whose caller then waited an
  // hour for the next pass with a backlog left).
  const whileBusy = createBusyRetry({ busyWaitMs: STORE_BUSY_WAIT_MS, wait: waitOnTimer });
  const pause = pauseForLockShare(RETENTION_LOCK_SHARE);
  const freeBefore = await freelistCount(driver);
  let free = freeBefore;
  let held = 0;
  for (let round = 0; round < VACUUM_ROUNDS && free > 0; round++) {
    // Each round after the first pauses as the purge's batches do: back to back, 16 rounds held
    // ingest off for 0.45–0.67 s (issue 11).
    if (round > 0) await pause(held);
    const started = performance.now();
    await whileBusy(() => driver.exec(`PRAGMA incremental_vacuum(${VACUUM_PAGES_PER_ROUND})`), true);
    held = performance.now() - started;
    const left = await freelistCount(driver);
    // A file still without auto-vacuum (too large to convert at open) frees nothing: stop.
    if (left >= free) break;
    free = left;
  }
  await driver.query('PRAGMA wal_checkpoint(PASSIVE)');
  return { pagesFreed: freeBefore - free };
}

/**
 * Where a file's statements run unless the caller chooses (`HOOKMESH_SQLITE_THREAD`): the calling
 * thread. Measured on a quiet machine with a fast fsync (~0.25 ms, issue 12), an API process on
 * the worker thread made 2.8–4.5k events/s at 202–237 µs of CPU each and p99 22–42 ms, on the
 * calling thread 4.7–5.9k/s at 157–176 µs and p99 21–23 ms: the round trip per commit and the
 * copies cost more than the overlapped fsync saves. The thread paid only on a day of slow syncs
 * (~0.35 ms each, the machine ~3× slower): p99 35 ms vs 258–533 ms, at the same throughput.
 * bench:scale's "database disk image is malformed" after a mesh with the worker thread stopped was
 * the bench's own: it copied the file with `copyFileSync` while holding a libSQL connection on it,
 * which drops the process's POSIX locks; the stopping mesh's complete close then unlinked `-wal`
 * and `-shm` that the bench still mapped (test/store/libsql-lock-loss.test.ts). The file was sound.
 */
export const DEFAULT_SQLITE_THREAD: SqliteThread = 'main';

async function freelistCount(driver: SqlDriver): Promise<number> {
  const [row] = await driver.query('PRAGMA freelist_count');
  return Number(row?.freelist_count ?? 0);
}

async function pragmaNumber(client: Client, name: string): Promise<number> {
  const result = await client.execute(`PRAGMA ${name}`);
  return Number(result.rows[0]?.[0] ?? 0);
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/**
 * Rewrites a libSQL file with incremental auto-vacuum (`hookmesh vacuum`), for a file too large
 * to convert at open. Needs the mesh stopped and as much free disk again as the file.
 * @example const { before, after } = await vacuumLibsqlFile('./data/hookmesh.db');
 */
export async function vacuumLibsqlFile(path: string): Promise<{ before: number; after: number }> {
  const before = fileSize(path);
  const client = createClient({ url: `file:${path}`, timeout: BUSY_TIMEOUT_MS });
  try {
    await client.execute('PRAGMA auto_vacuum = INCREMENTAL');
    await client.execute('VACUUM');
    await client.execute('PRAGMA wal_checkpoint(TRUNCATE)');
  } finally {
    client.close();
  }
  return { before, after: fileSize(path) };
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
