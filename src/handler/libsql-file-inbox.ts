// Node only (reached from src/handler/node.ts): the `libsql` package's native binding and
// `node:fs` are loaded lazily, when the inbox is first used, so importing the Node entry loads
// neither.
import type Database from 'libsql';
import { isStatementFault, type LibsqlInbox, type LibsqlInboxOptions } from './libsql-inbox.ts';
import {
  createSqlInbox,
  type SqlInboxExecutor,
  type SqlInboxStatement,
  type SqlInboxValue,
} from './sql-inbox.ts';

/**
 * How long SQLite itself waits for another process's write lock. Its wait blocks the event loop,
 * so it stays short: a neighbour's commit (an fsync, about a millisecond) fits in it.
 */
const NATIVE_BUSY_TIMEOUT_MS = 10;
/**
 * How long a statement keeps retrying a locked database in all, between tries on timers with the
 * event loop free: as long as `@libsql/client` waits in the client inbox (its `timeout`).
 */
const BUSY_WAIT_MS = 10_000;
const FIRST_BACKOFF_MS = 2;
const MAX_BACKOFF_MS = 100;

/** The inbox's connection: its statements prepared once, each transaction one commit. */
interface Connection {
  /**
   * One `BEGIN IMMEDIATE … COMMIT`; the rows each statement changed. Committed, not yet durable:
   * `durable()` makes it so.
   */
  run(statements: readonly SqlInboxStatement[]): number[];
  query(sql: string, args: readonly SqlInboxValue[]): Record<string, unknown>[];
  /**
   * Resolves once everything committed to the file before the call — by this connection or any
   * other — is on disk; rejects, for good, if the disk says it may not be.
   */
  durable(): Promise<void>;
  /** Throws the failed sync that ended this connection's durability, if one did (WalFlusher). */
  assertDurable(): void;
  close(): Promise<void>;
}

/**
 * Flushes an open file to the disk, data and size (`fdatasync`, on libuv's thread pool). An
 * option only so tests can stand in for the disk: see LibsqlFileInboxOptions.syncFile.
 */
export type SyncFile = (fd: number) => Promise<void>;

export interface LibsqlFileInboxOptions extends Omit<LibsqlInboxOptions, 'url'> {
  /** Stands in for `fdatasync` of the WAL (tests: a failing disk, a sync held back). */
  readonly syncFile?: SyncFile | undefined;
}

/**
 * The file behind a `file:` URL, or null when the path is not plainly in the URL (in-memory, URL
 * options, or escapes that only `@libsql/client` interprets): such an inbox stays on the client.
 */
export function toInboxFilePath(url: string): string | null {
  if (!url.startsWith('file:') || /[?#%]|:memory:/.test(url)) return null;
  // `file:///abs` and `file://localhost/abs` are URLs (no escapes left to decode); `file:rel` and
  // `file:/abs` are paths.
  if (!url.startsWith('file://')) return url.slice('file:'.length);
  const { pathname } = new URL(url);
  // `file:///C:/inbox.db` names `C:/inbox.db` on Windows.
  return /^\/[A-Za-z]:\//.test(pathname) ? pathname.slice(1) : pathname;
}

/**
 * `createLibsqlInbox({ url: 'file:…' })` on Node: the inbox on a connection of its own, through the
 * `libsql` package's synchronous API, each statement prepared once and kept — `@libsql/client`
 * prepares every statement anew on each call, which cost the handler route more than everything
 * else the inbox does. Group commit shares each commit between the requests that arrive together.
 *
 * Durable as with WAL and `synchronous = FULL` — an entry is on disk before the route answers
 * 2xx, and before a handler runs on its claim — but the fsync is not on the event loop: each
 * transaction commits at `synchronous = NORMAL` (SQLite writes the WAL frames and skips their
 * sync), then the WAL file is flushed with `fdatasync` on libuv's thread pool, and the callers
 * are answered only once that flush, started after their commit, has completed. The WAL's frames
 * then stand on disk exactly as FULL's own sync would have left them (see WalFlusher). Issue 12
 * measured the fsync on the event loop: at 20 events in flight, a FULL commit held the loop for
 * 20–110 µs per event more than a NORMAL one, the route's server sat 55–94 % busy, and its ratio to
 * bare Hono was 0.13–0.28 (FULL) against 0.26–0.49 (both commits NORMAL, not durable: the bound).
 *
 * A worker thread owning the connection was measured and lost (issue 12): the round trip per
 * commit and the copies cost more CPU than the fsync it overlapped, on one core and on two. A
 * locked database (another process committing) is waited for on timers, not in SQLite, so the
 * event loop is never held longer than a commit.
 * @example const inbox = createLibsqlFileInbox('./data/inbox.db', {});
 */
export function createLibsqlFileInbox(path: string, options: LibsqlFileInboxOptions): LibsqlInbox {
  let opening: Promise<Connection> | undefined;
  let closed = false;
  const connect = () => {
    if (closed) return Promise.reject(new Error('the inbox is closed'));
    opening ??= openConnection(path, options.syncFile).catch((error: unknown) => {
      // Forgotten, so the next call tries again (a directory created meanwhile, a lock gone).
      opening = undefined;
      throw error;
    });
    return opening;
  };
  const executor: SqlInboxExecutor = {
    async run(statements) {
      const connection = await connect();
      // After a failed sync nothing more is committed: no claim a copy elsewhere would wait on.
      connection.assertDurable();
      const changes = await whileBusy(() => connection.run(statements));
      // Answered once the commit is on disk: every claim, token and `done` the inbox reports.
      await connection.durable();
      return changes;
    },
    async query(sql, args) {
      const connection = await connect();
      connection.assertDurable();
      const rows = await whileBusy(() => connection.query(sql, args));
      // A row read may be a commit not yet on disk (this process's group whose flush is in
      // flight, or another process's): an answer resting on it ("done", "replay") waits until it
      // is, as it would have been under FULL, where no commit is visible before its sync.
      await connection.durable();
      return rows;
    },
    isStatementFault,
  };
  const inbox = createSqlInbox({ executor, groupCommit: true, retainMs: options.retainMs });
  return {
    ...inbox,
    async close() {
      if (closed) return;
      closed = true;
      const connection = await opening?.catch(() => undefined);
      await connection?.close();
    },
  };
}

async function openConnection(path: string, syncFile: SyncFile | undefined): Promise<Connection> {
  const { default: Database } = await import('libsql');
  const fs = await import('node:fs');
  const db = new Database(path, { timeout: NATIVE_BUSY_TIMEOUT_MS });
  const statements = new Map<string, Database.Statement>();
  const prepare = (sql: string) => {
    let statement = statements.get(sql);
    if (statement === undefined) {
      statement = db.prepare(sql);
      // Never evicted: the inbox runs a dozen SQL texts, all its own.
      statements.set(sql, statement);
    }
    return statement;
  };
  let begin: Database.Statement;
  let commit: Database.Statement;
  let flusher: WalFlusher | null;
  try {
    flusher = await whileBusy(() => {
      const row = db.prepare('PRAGMA journal_mode = WAL').get([]) as { journal_mode?: unknown } | undefined;
      // Not WAL (a file some process keeps in another journal mode): no WAL to flush, so SQLite
      // syncs each commit itself, on the event loop.
      const wal = String(row?.journal_mode).toLowerCase() === 'wal';
      db.exec(`PRAGMA synchronous = ${wal ? 'NORMAL' : 'FULL'}`);
      // SQLite names the WAL after the database file with symbolic links resolved.
      return wal ? createWalFlusher(fs, fs.realpathSync(path), syncFile) : null;
    });
    begin = prepare('BEGIN IMMEDIATE');
    commit = prepare('COMMIT');
  } catch (error) {
    db.close();
    throw error;
  }
  const durable = flusher === null ? () => Promise.resolve() : flusher.flush;
  const assertDurable = () => {
    const failure = flusher?.failure();
    if (failure) throw failure;
  };
  return {
    run(list) {
      begin.run([]);
      try {
        const changes = list.map((s) => prepare(s.sql).run(s.args).changes);
        commit.run([]);
        return changes;
      } finally {
        if (db.inTransaction) db.exec('ROLLBACK');
      }
    },
    query(sql, args) {
      // Each of the inbox's reads looks up one row by its key (see SqlInboxExecutor.query): `get`
      // skips the row iterator that `all` builds, a sizeable part of a read this small.
      const row = prepare(sql).get(args) as Record<string, unknown> | undefined;
      return row === undefined ? [] : [row];
    },
    durable,
    assertDurable,
    async close() {
      if (!db.open) return;
      // The flush in flight, if any, finishes on the file it started on.
      await flusher?.close();
      statements.clear();
      db.close();
    },
  };
}

/**
 * Runs `fn` again while another connection holds the lock it needs, backing off on timers. Safe
 * to repeat: a busy statement or `BEGIN IMMEDIATE` wrote nothing, and a failed transaction was
 * rolled back. Past `BUSY_WAIT_MS` the error is the caller's (the webhook app answers 503).
 */
async function whileBusy<T>(fn: () => T): Promise<T> {
  const started = performance.now();
  for (let backoff = FIRST_BACKOFF_MS; ; backoff = Math.min(backoff * 2, MAX_BACKOFF_MS)) {
    try {
      return fn();
    } catch (error) {
      const left = started + BUSY_WAIT_MS - performance.now();
      if (!isBusyError(error) || left <= 0) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.min(backoff, left)));
    }
  }
}

/** Another connection holds the lock this statement needs (the native binding's error codes). */
function isBusyError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && /^SQLITE_(BUSY|LOCKED)/.test(code);
}

type NodeFs = typeof import('node:fs');

/** Makes what is committed to the WAL durable, off the event loop. */
interface WalFlusher {
  /** See Connection.durable. */
  flush(): Promise<void>;
  /** The failed sync that ended durability, for good; null while every sync succeeded. */
  failure(): Error | null;
  /** Waits for the flush in flight, then closes the WAL's descriptor. */
  close(): Promise<void>;
}

/**
 * Flushes the WAL of the database at `dbPath` (its real path): the sync that
 * `synchronous = FULL` would make in each commit, made after the commit instead, off the event
 * loop. Why that is the same durability, from SQLite's documentation:
 * - WAL (https://sqlite.org/wal.html): "Writers sync the WAL on every transaction commit if PRAGMA
 *   synchronous is set to FULL but omit this sync if PRAGMA synchronous is set to NORMAL" — the
 *   commit's frames are written either way; NORMAL leaves only their sync out, and a sync of the
 *   WAL file after the commit puts them on disk as FULL's would. The SQLite forum's conclusion on
 *   making WAL + NORMAL commits durable (https://sqlite.org/forum/forumpost/d1a6bc7c4cd2baca):
 *   flush the journal (WAL) file, and previously committed transactions become durable.
 * - PRAGMA synchronous (https://sqlite.org/pragma.html#pragma_synchronous): at NORMAL in WAL mode
 *   "the WAL file is synchronized before each checkpoint and the database file is synchronized
 *   after each completed checkpoint and the WAL file header is synchronized when a WAL file begins
 *   to be reused after a checkpoint", and WAL + NORMAL is safe from corruption. So a checkpoint
 *   (this process's automatic one, or any other process's at NORMAL or above) never copies an
 *   unsynced frame into the database, and the database file holds it durably before the WAL is
 *   reset and overwritten: a commit whose frames were overwritten by a reset is already durable
 *   in the database file, and the flush then syncs the new frames instead — harmless.
 *
 * Which file: `<real path>-wal`, opened on the first flush — after this connection's first
 * transaction, which made SQLite open (or create) it. It stays that file (that inode) while the
 * connection is open: SQLite deletes the WAL only when the last connection to the database
 * closes, and this one holds it open (a neighbour's close finds it and leaves the WAL be); a
 * checkpoint's reset rewrites the same file from its start, `journal_size_limit` and
 * `wal_checkpoint(TRUNCATE)` truncate it in place. `fsync`/`fdatasync` act on the file, not on
 * the descriptor: one flush covers every process's writes to it. The first flush of a descriptor
 * also syncs the directory, so a WAL file created just now keeps its name across a power loss
 * (SQLite syncs the directory of a new WAL at its header's sync too; this does not rely on it).
 * No WAL file yet means nothing was ever committed to one: nothing to flush.
 *
 * Each flush resolves only after a sync that started after it was asked for (one in flight may
 * have started before the caller's commit), so callers arriving during a sync share the next one.
 * A failed sync fails its callers and every later one, for good: after a failed fsync the kernel
 * may have dropped the pages it could not write and report the next fsync clean (PostgreSQL's
 * "fsyncgate"), so no later success could vouch for the commits before it. The inbox then answers
 * no 2xx until it is reopened (the process restarted) on a healthy disk.
 */
function createWalFlusher(fs: NodeFs, dbPath: string, syncFile: SyncFile = fdatasyncOf(fs)): WalFlusher {
  const walPath = `${dbPath}-wal`;
  let fd: number | null = null;
  let failure: Error | null = null;
  let current: Promise<void> | null = null;
  let next: Promise<void> | null = null;

  /** The WAL's descriptor, opened (and its directory synced) on first need; null if no WAL yet. */
  const descriptor = async (): Promise<number | null> => {
    if (fd !== null) return fd;
    let opened: number;
    try {
      // Read-write: Windows' FlushFileBuffers needs write access. Never written through.
      opened = await promisify<number>((done) => fs.open(walPath, 'r+', done));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    fd = opened;
    await syncDirectoryOf(fs, walPath);
    return opened;
  };

  const syncOnce = async () => {
    const wal = await descriptor();
    if (wal !== null) await syncFile(wal);
  };

  const start = (): Promise<void> => {
    const sync = (async () => {
      try {
        await syncOnce();
      } catch (error) {
        failure ??= new Error(`the inbox's WAL could not be synced to disk (${walPath}); reopen the inbox`, {
          cause: error,
        });
        throw failure;
      } finally {
        current = null;
      }
    })();
    current = sync;
    return sync;
  };

  const flush = (): Promise<void> => {
    if (failure !== null) return Promise.reject(failure);
    if (current === null && next === null) return start();
    // One in flight may have started before the caller's commit: the next one covers it, shared
    // by everyone who asks meanwhile.
    next ??= (current ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => {
        next = null;
        return failure === null ? start() : Promise.reject(failure);
      });
    return next;
  };

  return {
    flush,
    failure: () => failure,
    async close() {
      await Promise.allSettled([current, next]);
      if (fd === null) return;
      const closing = fd;
      fd = null;
      await promisify<void>((done) => fs.close(closing, done));
    },
  };
}

/** `fdatasync` on libuv's thread pool: the WAL's data and size, without its other metadata. */
function fdatasyncOf(fs: NodeFs): SyncFile {
  return (fd) => promisify<void>((done) => fs.fdatasync(fd, done));
}

/**
 * Syncs the directory holding `file`, so its entry survives a power loss. POSIX only: Windows
 * cannot open a directory as a file, and its file system keeps the entry with the file.
 */
async function syncDirectoryOf(fs: NodeFs, file: string): Promise<void> {
  if (process.platform === 'win32') return;
  const dir = file.slice(0, Math.max(file.lastIndexOf('/'), 1));
  const dirFd = await promisify<number>((done) => fs.open(dir, 'r', done));
  try {
    await promisify<void>((done) => fs.fsync(dirFd, done));
  } finally {
    await promisify<void>((done) => fs.close(dirFd, done));
  }
}

/** A callback-style `node:fs` call as a promise (the callback API: no `fs/promises` FileHandle). */
function promisify<T>(call: (done: (error: Error | null, value?: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) =>
    call((error, value) => (error === null || error === undefined ? resolve(value as T) : reject(error))),
  );
}
