import { drizzle } from 'drizzle-orm/d1';
import { createD1Driver, type D1Database } from './d1-driver.ts';
import * as schema from './schema.ts';
import type { OutboxDatabase, SqlDatabase } from './sql-database.ts';
import { createSqlStores, type SqlStores, type SqlStoresOptions } from './sql-stores.ts';

/** Drizzle and the raw driver over one D1 binding: what every SQL store takes. */
export type D1Parts = SqlDatabase;

/**
 * Wraps a D1 binding for the SQL stores. The schema is the one libSQL uses, migrated by
 * `wrangler d1 migrations apply` from the same `migrations/`.
 * @example const d1 = openD1(env.DB);
 */
export function openD1(binding: D1Database): D1Parts {
  // drizzle-orm types its D1 argument with @cloudflare/workers-types, which hookmesh does not load.
  const db = drizzle(binding as Parameters<typeof drizzle>[0], { schema }) as unknown as OutboxDatabase;
  return { db, driver: createD1Driver(binding) };
}

/** @example const stores = createD1Stores(env.DB, { writesPerRequest: true }); */
export function createD1Stores(binding: D1Database | D1Parts, options: SqlStoresOptions = {}): SqlStores {
  return createSqlStores('driver' in binding ? binding : openD1(binding), options);
}
