import type { DeliveryAdminStore } from '../core/delivery-admin-store.ts';
import type { OutboxStore } from '../core/outbox-store.ts';
import type { RetentionStore } from '../core/retention.ts';
import type { SubscriptionStore } from '../core/subscription-store.ts';
import { createSqlDeliveryAdminStore } from './sql-delivery-admin-store.ts';
import type { SqlDriver } from './sql-driver.ts';
import { createSqlOutboxStore, type OutboxDatabase } from './sql-outbox-store.ts';
import { createSqlRetention } from './sql-retention.ts';
import { createSqlSubscriptionStore } from './sql-subscription-store.ts';

/** A SQLite database as every SQL store takes it: Drizzle for queries, the raw driver for hot paths. */
export interface SqlDatabase {
  readonly db: OutboxDatabase;
  readonly driver: SqlDriver;
}

export interface SqlStoresOptions {
  /**
   * Gives each write call a store of its own instead of one shared group commit. On a Worker every
   * request runs in its own I/O context and what it started may be cancelled once it answered: a
   * group commit shared across requests would put request B's write in request A's context (where,
   * in workerd, it hangs). A store per call costs a few closures; the database handles are shared.
   */
  readonly writesPerRequest?: boolean;
}

/** Every store the mesh runs on, over one database. */
export interface SqlStores {
  readonly outbox: OutboxStore;
  readonly subscriptions: SubscriptionStore;
  readonly deliveries: DeliveryAdminStore;
  readonly retention: RetentionStore;
}

/**
 * The one way stores are assembled, on libSQL (`openLibsql`) and D1 (`openD1`) alike.
 * @example const stores = createSqlStores(await openLibsql({ url: 'file:./data/hookmesh.db' }));
 */
export function createSqlStores(database: SqlDatabase, options: SqlStoresOptions = {}): SqlStores {
  const outbox = createSqlOutboxStore(database);
  return {
    outbox: options.writesPerRequest
      ? {
          ...outbox,
          appendEvents: (events) => createSqlOutboxStore(database).appendEvents(events),
          recordAttempts: (records) => createSqlOutboxStore(database).recordAttempts(records),
        }
      : outbox,
    subscriptions: createSqlSubscriptionStore(database),
    deliveries: createSqlDeliveryAdminStore(database),
    retention: createSqlRetention(database.driver),
  };
}
