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

/**
 * libSQL on a local file, through its own connection and with prepared statements cached by SQL
 * text. `@libsql/client` prepares every statement anew on each call, which costs more than the
 * insert itself on the ingest path. Runs `synchronous=FULL` in WAL mode like every connection of
 * the mesh; a batch is one `BEGIN IMMEDIATE … COMMIT`, run synchronously, so no other statement
 * of this process can slip into it.
 * @example const driver = openLibsqlFileDriver('./data/hookmesh.db', { timeoutMs: 10_000 });
 */
export function openLibsqlFileDriver(path: string, options: { timeoutMs: number }): LibsqlFileDriver {
  const db = new Database(path, { timeout: options.timeoutMs });
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = FULL');
  const cache = new Map<string, Statement>();

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

  return {
    maxParams: 30_000,
    async query(sql, args = []) {
      const statement = prepare(sql);
      const bound = toSqlArgs(args);
      if (!statement.reader) {
        statement.run(bound);
        return [];
      }
      return statement.all(bound) as SqlRow[];
    },
    async batch(statements) {
      begin.run([]);
      try {
        const changes = statements.map(run);
        commit.run([]);
        return changes;
      } finally {
        if (db.inTransaction) db.exec('ROLLBACK');
      }
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
