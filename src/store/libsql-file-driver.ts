import Database from 'libsql';
import type { SqlDriver, SqlRow, SqlStatement, SqlValue } from './sql-driver.ts';

/** Prepared statements kept per connection; ingest and the dispatcher reuse a few dozen shapes. */
const STATEMENT_CACHE_SIZE = 256;

type Statement = Database.Statement;

export interface LibsqlFileDriver extends SqlDriver {
  /** Closes the connection at once (idempotent). */
  closeNow(): void;
  /**
   * Runs SQL to completion, uncached: for a PRAGMA such as `incremental_vacuum`, which yields a
   * row per page without declaring columns, so a single step (`run`) would leave it half done.
   */
  exec(sql: string): void;
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
}

const DEFAULT_BUSY_WAIT_MS = 3_000;
const FIRST_BACKOFF_MS = 2;
const MAX_BACKOFF_MS = 100;
/** No lock met for this long: the next one is a new episode with a fresh budget. */
const EPISODE_GAP_MS = 1_000;

/**
 * libSQL on a local file, through its own connection and with prepared statements cached by SQL
 * text. `@libsql/client` prepares every statement anew on each call, which costs more than the
 * insert itself on the ingest path. Runs `synchronous=FULL` in WAL mode like every connection of
 * the mesh; a batch is one `BEGIN IMMEDIATE … COMMIT`, run synchronously, so no other statement
 * of this process can slip into it.
 *
 * The native calls are synchronous: a long SQLite busy timeout would freeze the whole process
 * (health checks, reads, keep-alive connections) while another process holds the write lock. So
 * SQLite waits only `busyTimeoutMs`; past it the driver backs off on timers, the event loop free,
 * and retries until `busyWaitMs` is spent — then the database is locked, an answer (503), not a hang.
 * @example const driver = openLibsqlFileDriver('./data/hookmesh.db', { busyTimeoutMs: 10 });
 */
export function openLibsqlFileDriver(path: string, options: LibsqlFileDriverOptions): LibsqlFileDriver {
  const db = new Database(path, { timeout: options.busyTimeoutMs });
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = FULL');
  const cache = new Map<string, Statement>();
  const busyWaitMs = options.busyWaitMs ?? DEFAULT_BUSY_WAIT_MS;
  const wait = options.wait ?? ((ms: number) => new Promise<void>((ok) => setTimeout(ok, ms)));

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

  // The wait is budgeted per lock episode, not per call: work queued behind a waiting write
  // (group commit, the dispatcher) fails fast once the episode's budget is spent instead of each
  // waiting it out again. An episode ends when a write gets the lock, or after a quiet gap.
  let busySince: number | null = null;
  let lastBusyAt = Number.NEGATIVE_INFINITY;

  /**
   * Runs `fn` again while the database is locked by another connection. Safe to repeat: a busy
   * statement or `BEGIN IMMEDIATE` wrote nothing, and a failed batch is rolled back. Reads that
   * succeed meanwhile (WAL readers never wait) say nothing about the lock.
   */
  const whileBusy = async <T>(fn: () => T, takesLock: boolean): Promise<T> => {
    let metBusy = false;
    for (let backoff = FIRST_BACKOFF_MS; ; backoff = Math.min(backoff * 2, MAX_BACKOFF_MS)) {
      try {
        const result = fn();
        if (metBusy || takesLock) busySince = null;
        return result;
      } catch (error) {
        if (!isBusyError(error)) throw error;
        metBusy = true;
        const now = performance.now();
        if (busySince === null || now - lastBusyAt > EPISODE_GAP_MS) busySince = now;
        lastBusyAt = now;
        const left = busySince + busyWaitMs - now;
        if (left <= 0) throw error;
        await wait(Math.min(backoff, left));
      }
    }
  };

  return {
    maxParams: 30_000,
    query(sql, args = []) {
      return whileBusy(() => {
        const statement = prepare(sql);
        const bound = toSqlArgs(args);
        if (!statement.reader) {
          statement.run(bound);
          return [];
        }
        return statement.all(bound) as SqlRow[];
      }, false);
    },
    batch(statements) {
      return whileBusy(() => {
        begin.run([]);
        try {
          const changes = statements.map(run);
          commit.run([]);
          return changes;
        } finally {
          if (db.inTransaction) db.exec('ROLLBACK');
        }
      }, true);
    },
    isConstraintError(error) {
      const code = (error as { code?: unknown })?.code;
      return typeof code === 'string' && code.startsWith('SQLITE_CONSTRAINT');
    },
    async close() {
      closeNow();
    },
    closeNow,
    exec(sql) {
      db.exec(sql);
    },
  };

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
    if (!db.open) return;
    cache.clear();
    db.close();
  }
}

/** Another connection holds the lock this statement needs (the native binding's error codes). */
function isBusyError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && /^SQLITE_(BUSY|LOCKED)/.test(code);
}

/** Values as the native binding takes them; callers outside the typed paths may pass booleans. */
function toSqlArgs(args: readonly SqlValue[]): SqlValue[] {
  for (const value of args) {
    if (typeof value !== 'string' && typeof value !== 'number' && value !== null) {
      return args.map(toSqlValue);
    }
  }
  return args as SqlValue[];
}

function toSqlValue(value: unknown): SqlValue {
  switch (typeof value) {
    case 'string':
    case 'number':
      return value;
    case 'boolean':
      return value ? 1 : 0;
    case 'bigint':
      return value as unknown as number;
    case 'undefined':
      throw new TypeError('undefined cannot be passed as argument to the database');
    default:
      if (value === null) return null;
      if (value instanceof Date) return value.valueOf();
      return value as SqlValue;
  }
}
