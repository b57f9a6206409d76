import { createD1Driver, type D1Database, type D1DriverOptions } from './d1-driver.ts';
import type { SqlDatabase } from './sql-database.ts';
import { createSqlStores, type SqlStores, type SqlStoresOptions } from './sql-stores.ts';

/** The driver over one D1 binding: what every SQL store takes. */
export type D1Parts = SqlDatabase;

/**
 * Wraps a D1 binding for the SQL stores. The schema is the one libSQL uses, migrated by
 * `wrangler d1 migrations apply` from the same `migrations/`.
 * @example const d1 = openD1(env.DB);
 */
export function openD1(binding: D1Database, options: D1DriverOptions = {}): D1Parts {
  return { driver: createD1Driver(binding, options) };
}

/** @example const stores = createD1Stores(env.DB, { writesPerRequest: true }); */
export function createD1Stores(binding: D1Database | D1Parts, options: SqlStoresOptions = {}): SqlStores {
  return createSqlStores('driver' in binding ? binding : openD1(binding), options);
}
