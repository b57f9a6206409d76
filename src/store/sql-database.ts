import type { BaseSQLiteDatabase } from 'drizzle-orm/sqlite-core';
import type * as schema from './schema.ts';
import type { SqlDriver } from './sql-driver.ts';

// biome-ignore lint/suspicious/noExplicitAny: the stores run on any async SQLite Drizzle driver (libSQL, D1)
export type OutboxDatabase = BaseSQLiteDatabase<'async', any, typeof schema>;

/** A SQLite database as every SQL store takes it: Drizzle for queries, the raw driver for hot paths. */
export interface SqlDatabase {
  readonly db: OutboxDatabase;
  readonly driver: SqlDriver;
}
