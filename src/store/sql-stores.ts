import type { DeliveryAdminStore } from '../core/delivery-admin-store.ts';
import type { DeliveryHandOff, DispatchQueue } from '../core/dispatch-queue.ts';
import type { EventSearch } from '../core/event-search.ts';
import type { EventStore } from '../core/event-store.ts';
import type { MetricsStore } from '../core/metrics-store.ts';
import type { PublishQueue } from '../core/publish-queue.ts';
import type { RetentionStore } from '../core/retention.ts';
import type { SubscriptionStore } from '../core/subscription-store.ts';
import type { SqlDatabase } from './sql-database.ts';
import { createSqlDeliveryAdminStore } from './sql-delivery-admin-store.ts';
import { createSqlDispatchQueue } from './sql-dispatch-queue.ts';
import { createSqlEventSearch } from './sql-event-search.ts';
import { createSqlEventStore } from './sql-event-store.ts';
import { createSqlMetricsStore } from './sql-metrics.ts';
import { createSqlPublishQueue } from './sql-publish-queue.ts';
import { createSqlRetention } from './sql-retention.ts';
import { createFilterSnapshotCache } from './sql-subscription-filters.ts';
import { createSqlSubscriptionStore } from './sql-subscription-store.ts';
import { withStoreUnavailable } from './store-unavailable.ts';

export interface SqlStoresOptions {
  /**
   * Gives each write call a store of its own instead of one shared group commit. On a Worker every
   * request runs in its own I/O context and what it started may be cancelled once it answered: a
   * group commit shared across requests would put request B's write in request A's context (where,
   * in workerd, it hangs). A store per call costs a few closures; the database handles are shared.
   */
  readonly writesPerRequest?: boolean;
  /**
   * Type names presumed to have their `event_types` row already, so an ingest sends no INSERT OR
   * IGNORE for them (two statements fewer for one event). A batch that finds one missing — a new
   * database, a type new in this deployment — fails whole and is written once more with its types
   * inserted. The set is kept, and shared by every request's store; the Worker fills it with its
   * definitions' names once composed.
   */
  readonly knownTypes?: Set<string>;
}

/** Every store the mesh runs on, over one database: one per job. */
export interface SqlStores {
  /** Ingest and reads of accepted events. */
  readonly events: EventStore;
  /**
   * `events` for a process that delivers what it accepts (HOOKMESH_ROLE=all): its writes lease
   * the new deliveries due now to that process's dispatcher (`DeliveryHandOff`).
   */
  eventsHandingOff(handOff: DeliveryHandOff): EventStore;
  /** The local transport's leases and attempt outcomes. */
  readonly dispatch: DispatchQueue;
  /** The QStash transport's publishes and callbacks. */
  readonly publish: PublishQueue;
  /** Subscriptions: the admin API's, and the sync of those declared in code. */
  readonly subscriptions: SubscriptionStore;
  /** Listing and replaying deliveries. */
  readonly deliveries: DeliveryAdminStore;
  readonly retention: RetentionStore;
  /** The gauges of `GET /metrics`. */
  readonly metrics: MetricsStore;
  /** Browsing accepted events (the dashboard). */
  readonly eventSearch: EventSearch;
}

/**
 * The one way stores are assembled, on libSQL (`openLibsql`) and D1 (`openD1`) alike.
 * @example const stores = createSqlStores(await openLibsql({ url: 'file:./data/hookmesh.db' }));
 */
export function createSqlStores(given: SqlDatabase, options: SqlStoresOptions = {}): SqlStores {
  // Every store fails the same typed way when the database cannot write (503, never 500).
  const database: SqlDatabase = { ...given, driver: withStoreUnavailable(given.driver) };
  // One snapshot of the filtered subscriptions per process, whichever event store writes.
  const filters = createFilterSnapshotCache(database.driver);
  // Per-request stores (`writesPerRequest`) learn the type names together, not each from nothing.
  const knownTypes = options.knownTypes ?? new Set<string>();
  const events = createSqlEventStore({ ...database, filters, knownTypes });
  const dispatch = createSqlDispatchQueue(database);
  return {
    events: options.writesPerRequest
      ? {
          ...events,
          appendEvents: (batch) =>
            createSqlEventStore({ ...database, filters, knownTypes }).appendEvents(batch),
        }
      : events,
    eventsHandingOff: (handOff) => createSqlEventStore({ ...database, filters, handOff }),
    dispatch: options.writesPerRequest
      ? { ...dispatch, recordAttempts: (records) => createSqlDispatchQueue(database).recordAttempts(records) }
      : dispatch,
    publish: createSqlPublishQueue(database),
    subscriptions: createSqlSubscriptionStore(database),
    deliveries: createSqlDeliveryAdminStore(database),
    retention: createSqlRetention(database.driver),
    metrics: createSqlMetricsStore(database.driver),
    eventSearch: createSqlEventSearch(database),
  };
}
