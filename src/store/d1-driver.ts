import type { SqlDriver, SqlRow, SqlStatement, SqlValue } from './sql-driver.ts';

/**
 * The part of Cloudflare's `D1Database` binding hookmesh uses, declared here so neither the store
 * nor its tests need `@cloudflare/workers-types`. A Worker's `env.DB` and miniflare's
 * `getD1Database()` both fit.
 */
export interface D1Database {
  prepare(query: string): D1PreparedStatement;
  /** Runs the statements as one transaction: all or nothing. */
  batch(statements: D1PreparedStatement[]): Promise<D1Result[]>;
  exec(query: string): Promise<unknown>;
}

export interface D1PreparedStatement {
  bind(...values: unknown[]): D1PreparedStatement;
  all<T = SqlRow>(): Promise<D1Result<T>>;
}

export interface D1Result<T = SqlRow> {
  readonly results?: T[];
  readonly success: boolean;
  readonly meta: { readonly changes?: number } & Record<string, unknown>;
}

/** D1 refuses a statement with more bound parameters ("too many SQL variables"). */
const D1_MAX_PARAMS = 100;

/**
 * A statement that rides along at the end of a write batch (in its transaction and round trip),
 * and what is done with its rows once that batch committed.
 */
export interface D1Rider {
  readonly statement: SqlStatement;
  took(rows: SqlRow[]): void;
}

export interface D1DriverOptions {
  /**
   * Asked for every write batch (`batch`, and the statements of a `queryAfter`): a statement to
   * append to it, or null. The Worker leases what an ingest made due this way.
   */
  readonly rider?: ((statements: readonly SqlStatement[]) => D1Rider | null) | undefined;
}

/**
 * Cloudflare D1. Every batch is one `d1.batch()` call: D1 runs it as a single transaction, and a
 * statement that fails rolls back the ones before it (D1 has no interactive transactions; `BEGIN`
 * is refused).
 * @example const driver = createD1Driver(env.DB);
 */
export function createD1Driver(d1: D1Database, options: D1DriverOptions = {}): SqlDriver {
  const prepare = (sql: string, args: readonly SqlValue[]) => {
    const statement = d1.prepare(sql);
    return args.length === 0 ? statement : statement.bind(...args);
  };
  /** The statements, then the rider's (if any), then `last` (if any), as one `d1.batch()`. */
  const run = async (statements: readonly SqlStatement[], last?: SqlStatement): Promise<D1Result[]> => {
    const rider = options.rider?.(statements) ?? null;
    const all = [...statements, ...(rider ? [rider.statement] : []), ...(last ? [last] : [])];
    const results = await d1.batch(all.map((s) => prepare(s.sql, s.args)));
    rider?.took(results[statements.length]?.results ?? []);
    return results;
  };
  return {
    maxParams: D1_MAX_PARAMS,
    async query(sql, args = []) {
      const result = await prepare(sql, args).all();
      return result.results ?? [];
    },
    async batch(statements) {
      // D1 rejects an empty batch ("No SQL statements detected"); libSQL returns nothing.
      if (statements.length === 0) return [];
      const results = await run(statements);
      return results.slice(0, statements.length).map((r) => Number(r.meta.changes ?? 0));
    },
    async queryAfter(statements, sql, args = []) {
      const results = await run(statements, { sql, args });
      return results[results.length - 1]?.results ?? [];
    },
    isConstraintError(error) {
      return isD1ConstraintError(error);
    },
    async close() {
      // The binding belongs to the runtime; there is nothing to close.
    },
  };
}

/**
 * D1 reports errors as text only, e.g. `D1_ERROR: UNIQUE constraint failed: t.id:
 * SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_PRIMARYKEY)`, with the same text without the
 * `D1_ERROR: ` prefix as `cause`. SQLite words a PRIMARY KEY violation as a UNIQUE one.
 */
function isD1ConstraintError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 3; e = e.cause, depth++) {
    if (/UNIQUE constraint failed|SQLITE_CONSTRAINT_(PRIMARYKEY|UNIQUE)/.test(e.message)) return true;
  }
  return false;
}
