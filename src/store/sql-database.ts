import type { SqlDriver } from './sql-driver.ts';

/**
 * A SQLite database as every SQL store takes it: the raw driver (libSQL or D1). The stores write
 * plain parameterised SQL; `schema.ts` is read by drizzle-kit only, to generate the migrations.
 */
export interface SqlDatabase {
  readonly driver: SqlDriver;
}
