import { drizzle } from 'drizzle-orm/d1';
import type { DeliveryAdminStore } from '../core/delivery-admin-store.ts';
import type { OutboxStore } from '../core/outbox-store.ts';
import type { SubscriptionStore } from '../core/subscription-store.ts';
import { createD1Driver, type D1Database } from './d1-driver.ts';
import * as schema from './schema.ts';
import { createSqlDeliveryAdminStore } from './sql-delivery-admin-store.ts';
import type { SqlDriver } from './sql-driver.ts';
import { createSqlOutboxStore, type OutboxDatabase } from './sql-outbox-store.ts';
import { createSqlSubscriptionStore } from './sql-subscription-store.ts';

/** Drizzle and the raw driver over one D1 binding: what every SQL store takes. */
export interface D1Parts {
  readonly db: OutboxDatabase;
  readonly driver: SqlDriver;
}

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

/** @example const store = createD1Store(env.DB); */
export function createD1Store(binding: D1Database | D1Parts): OutboxStore {
  return createSqlOutboxStore(toParts(binding));
}

/** @example const subscriptions = createD1SubscriptionStore(env.DB); */
export function createD1SubscriptionStore(binding: D1Database | D1Parts): SubscriptionStore {
  return createSqlSubscriptionStore(toParts(binding));
}

/** @example const deliveries = createD1DeliveryAdminStore(env.DB); */
export function createD1DeliveryAdminStore(binding: D1Database | D1Parts): DeliveryAdminStore {
  return createSqlDeliveryAdminStore(toParts(binding));
}

function toParts(binding: D1Database | D1Parts): D1Parts {
  return 'driver' in binding ? binding : openD1(binding);
}
