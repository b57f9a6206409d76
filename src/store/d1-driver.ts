import type { SqlDriver, SqlRow, SqlValue } from './sql-driver.ts';

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
 * Cloudflare D1. Every batch is one `d1.batch()` call: D1 runs it as a single transaction, and a
 * statement that fails rolls back the ones before it (D1 has no interactive transactions; `BEGIN`
 * is refused).
 * @example const driver = createD1Driver(env.DB);
 */
export function createD1Driver(d1: D1Database): SqlDriver {
  const prepare = (sql: string, args: readonly SqlValue[]) => {
    const statement = d1.prepare(sql);
    return args.length === 0 ? statement : statement.bind(...args);
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
      const results = await d1.batch(statements.map((s) => prepare(s.sql, s.args)));
      return results.map((r) => Number(r.meta.changes ?? 0));
    },
    async queryAfter(statements, sql, args = []) {
      const results = await d1.batch([...statements.map((s) => prepare(s.sql, s.args)), prepare(sql, args)]);
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
