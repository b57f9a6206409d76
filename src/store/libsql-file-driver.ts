import { resolve } from 'node:path';
import Database from 'libsql';
import { toSqlArgs } from './libsql-args.ts';
import { createBusyRetry } from './libsql-busy-retry.ts';
import {
  type LibsqlCheckpointer,
  type LibsqlCheckpointerOptions,
  startLibsqlCheckpointer,
} from './libsql-checkpointer.ts';
import { nodeWalFiles } from './node-wal-files.ts';
import type { SqlDriver, SqlRow, SqlStatement } from './sql-driver.ts';
import { createWalFlusher, type WalFiles, type WalFlusher } from './wal-flush.ts';

/** Prepared statements kept per connection; ingest and the dispatcher reuse a few dozen shapes. */
const STATEMENT_CACHE_SIZE = 256;

type Statement = Database.Statement;

export interface LibsqlFileDriver extends SqlDriver {
  /**
   * Closes the connection at once (idempotent): nothing called after it runs. A worker thread's
   * connection closes once the statements called before have run; `close()` waits for that.
   */
  closeNow(): void;
  /**
   * Runs SQL to completion, uncached: for a PRAGMA such as `incremental_vacuum`, which yields a
   * row per page without declaring columns, so a single step (`run`) would leave it half done.
   */
  exec(sql: string): Promise<void>;
}

export interface LibsqlFileDriverOptions {
  /**
   * How long SQLite itself waits for another process's write lock, blocking the event loop: keep
   * it short (a few ms covers a neighbour's commit); longer waits go through `busyWaitMs`.
   */
  readonly busyTimeoutMs: number;
  /**
   * How long statements keep retrying a locked database, off the event loop (backoff between
   * tries), counted from when the lock was first met: past it, each fails after one try (the
   * store maps it to `StoreUnavailableError('busy')`) until a write gets the lock. Default 3 s.
   */
  readonly busyWaitMs?: number;
  /** The pause between tries (tests observe or drive it); default a timer. */
  readonly wait?: (ms: number) => Promise<void>;
  /**
   * Checkpoints the write-ahead log from a worker thread as well (`startLibsqlCheckpointer`, true
   * or its options), so the commit that crosses SQLite's threshold finds the copying done. Default
   * false: SQLite's auto-checkpoint alone, in that commit.
   */
  readonly checkpointThread?: boolean | LibsqlCheckpointerOptions;
  /**
   * Where a commit's log is synced (`HOOKMESH_SQLITE_SYNC`): `flush` (the default on Node),
   * committed at `synchronous = NORMAL` and answered once an fdatasync of the log on the thread
   * pool has covered it (`createWalFlusher`); `full`, `synchronous = FULL`, the sync inside COMMIT
   * on this thread. Either way nothing is answered before it is on disk; `flush` keeps the event
   * loop working while the disk syncs.
   */
  readonly walSync?: WalSync | undefined;
  /** How `flush` opens and syncs the log (default `nodeWalFiles`); tests observe the order. */
  readonly walFiles?: WalFiles;
}

/**
 * `flush` on Node; `full` under Deno, whose permissions would have to grant reading the log
 * beside whatever file the mesh is pointed at, and whose `node:fs` sync was not measured.
 */
export const DEFAULT_WAL_SYNC: WalSync = 'Deno' in globalThis ? 'full' : 'flush';

/** How a local file's commits reach the disk: see `LibsqlFileDriverOptions.walSync`. */
export type WalSync = 'flush' | 'full';

/** How long statements keep retrying a locked database unless told (`busyWaitMs`). */
export const DEFAULT_BUSY_WAIT_MS = 3_000;

/** The pause between busy retries unless told (`wait`). */
export const waitOnTimer = (ms: number) => new Promise<void>((ok) => setTimeout(ok, ms));

/**
 * libSQL on a local file, through its own connection and with prepared statements cached by SQL
 * text. `@libsql/client` prepares every statement anew on each call, which costs more than the
 * insert itself on the ingest path. Runs in WAL mode, every answer given once what it committed
 * (and, for a read, this connection's commits it may show) is on disk (`walSync`); a batch is one
 * `BEGIN IMMEDIATE … COMMIT`, run synchronously, so no other statement of this process can slip
 * into it.
 *
 * The native calls are synchronous: a long SQLite busy timeout would freeze the whole process
 * (health checks, reads, keep-alive connections) while another process holds the write lock. So
 * SQLite waits only `busyTimeoutMs`; past it the driver backs off on timers, the event loop free,
 * and retries until `busyWaitMs` is spent — then the database is locked, an answer (503), not a hang.
 * `openLibsqlWorkerDriver` is the same driver with the connection in a worker thread.
 * @example const driver = openLibsqlFileDriver('./data/hookmesh.db', { busyTimeoutMs: 10 });
 */
export function openLibsqlFileDriver(path: string, options: LibsqlFileDriverOptions): LibsqlFileDriver {
  const db = new Database(path, { timeout: options.busyTimeoutMs });
  const mode = (db.prepare('PRAGMA journal_mode = WAL').get([]) as { journal_mode?: unknown } | undefined)
    ?.journal_mode;
  // Only a log can be synced apart from its commit: without WAL (`:memory:`), FULL as before.
  const flusher: WalFlusher | null =
    (options.walSync ?? DEFAULT_WAL_SYNC) === 'flush' && mode === 'wal'
      ? // Absolute: SQLite resolved the path when it opened the file, whatever the process's cwd later.
        createWalFlusher(`${resolve(path)}-wal`, options.walFiles ?? nodeWalFiles)
      : null;
  db.exec(`PRAGMA synchronous = ${flusher === null ? 'FULL' : 'NORMAL'}`);
  const cache = new Map<string, Statement>();
  const returning = new Map<string, boolean>();

  const prepare = (sql: string): Statement => {
    const cached = cache.get(sql);
    if (cached !== undefined) return cached;
    const statement = db.prepare(sql);
    if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value!);
    cache.set(sql, statement);
    return statement;
  };
  const begin = prepare('BEGIN IMMEDIATE');
  const commit = prepare('COMMIT');
  const { checkpointThread } = options;
  const checkpointer: LibsqlCheckpointer | null = checkpointThread
    ? startLibsqlCheckpointer(path, checkpointThread === true ? {} : checkpointThread)
    : null;

  const whileBusy = createBusyRetry({
    busyWaitMs: options.busyWaitMs ?? DEFAULT_BUSY_WAIT_MS,
    wait: options.wait ?? waitOnTimer,
  });

  return {
    maxParams: 30_000,
    query(sql, args = []) {
      let seq = 0;
      return settle(
        whileBusy(() => {
          const statement = prepare(sql);
          const bound = toSqlArgs(args);
          if (!statement.reader) {
            statement.run(bound);
            seq = committed();
            return [];
          }
          const rows = statement.all(bound) as SqlRow[];
          // A write that answers rows (`… RETURNING`, the leases) committed as it finished.
          if (returnsWrites(sql)) seq = committed();
          return rows;
        }, false),
        () => seq,
      );
    },
    batch(statements) {
      return transact(() => statements.map(run));
    },
    queryAfter(statements, sql, args = []) {
      // The read in the write's transaction: what the statements wrote, without a read
      // transaction of its own after the commit.
      return transact(() => {
        for (const statement of statements) run(statement);
        return prepare(sql).all(toSqlArgs(args)) as SqlRow[];
      });
    },
    isConstraintError: isLibsqlConstraintError,
    async close() {
      // What was committed is synced (a sync in flight, or one asked for now) on the flusher's own
      // descriptor, so the connection closes at once; if it was the file's last, SQLite has
      // checkpointed the log into the database, synced, and the sync finds no log to sync.
      const syncing = flusher?.settled().catch(() => undefined);
      closeNow();
      await syncing;
      await checkpointer?.close();
    },
    closeNow,
    async exec(sql) {
      db.exec(sql);
      if (flusher !== null) await flusher.durable(flusher.committed());
    },
  };

  /**
   * Whether a statement that answers rows also writes them: in SQLite only `RETURNING` does (the
   * PRAGMAs that answer rows change settings, not data). Read from the text, once a text; a
   * `returning` inside a literal only costs a sync's wait.
   */
  function returnsWrites(sql: string): boolean {
    let writes = returning.get(sql);
    if (writes === undefined) {
      writes = /\bRETURNING\b/i.test(sql);
      if (returning.size >= STATEMENT_CACHE_SIZE) returning.clear();
      returning.set(sql, writes);
    }
    return writes;
  }

  /** Counts a commit just made; what `settle` waits for. */
  function committed(): number {
    checkpointer?.committed();
    return flusher === null ? 0 : flusher.committed();
  }

  /**
   * The answer of `work` once what it committed (`seq()`, 0 for nothing) is on disk — and, for a
   * read, once this connection's commits it may show are. Another process's commit may show up
   * to one sync early; whatever acts on it commits first (a lease, a record), and that commit's
   * sync covers it: the log is one file, appended in order.
   */
  async function settle<T>(work: Promise<T>, seq: () => number): Promise<T> {
    const result = await work;
    if (flusher === null) return result;
    const wrote = seq();
    if (wrote > 0) await flusher.durable(wrote);
    else if (flusher.pending) await flusher.settled();
    return result;
  }

  /** `fn` in a transaction (`inTransaction`), retried while the database is busy, answered once durable. */
  function transact<T>(fn: () => T): Promise<T> {
    let seq = 0;
    return settle(
      whileBusy(() => {
        const result = inTransaction(fn);
        seq = committed();
        return result;
      }, true),
      () => seq,
    );
  }

  /** `fn` inside `BEGIN IMMEDIATE … COMMIT`, rolled back if it throws. */
  function inTransaction<T>(fn: () => T): T {
    begin.run([]);
    try {
      const result = fn();
      commit.run([]);
      return result;
    } finally {
      if (db.inTransaction) db.exec('ROLLBACK');
    }
  }

  function run(statement: SqlStatement): number {
    const prepared = prepare(statement.sql);
    const args = toSqlArgs(statement.args);
    // Like @libsql/client: a statement that returns rows reports no changed rows.
    if (prepared.reader) {
      prepared.all(args);
      return 0;
    }
    return prepared.run(args).changes;
  }

  function closeNow() {
    void checkpointer?.close();
    flusher?.close();
    if (!db.open) return;
    cache.clear();
    db.close();
  }
}

/** A UNIQUE / PRIMARY KEY (or other) constraint refused a row: the native binding's error codes. */
export function isLibsqlConstraintError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_CONSTRAINT');
}
