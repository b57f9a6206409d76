import { afterEach, beforeEach } from 'vitest';
import type { DeliveryAdminStore } from '../../src/core/delivery-admin-store.ts';
import type { DispatchQueue } from '../../src/core/dispatch-queue.ts';
import type {
  AppendResult,
  DeliveryView,
  EventStore,
  EventView,
  NewDomainEvent,
  NewIntegrationEvent,
} from '../../src/core/event-store.ts';
import type { PublishQueue } from '../../src/core/publish-queue.ts';
import type { RetentionStore } from '../../src/core/retention.ts';
import { defineSubscription } from '../../src/core/subscription.ts';
import type { SubscriptionStore } from '../../src/core/subscription-store.ts';

// What the store contract suites share: the harness every adapter hands them, and the fixtures.
// Each port has its suite (event-store, subscription-store, dispatch-queue, publish-queue
// .contract.ts); `describeStoreContracts` runs them all against one adapter.

/** The ports one database serves, each built by the adapter under test. */
export interface StorePorts {
  readonly events: EventStore;
  readonly subscriptions: SubscriptionStore;
  readonly dispatch: DispatchQueue;
  readonly publish: PublishQueue;
  readonly retention: RetentionStore;
  readonly deliveries: DeliveryAdminStore;
}

/** What each adapter's test hands the contracts: fresh, migrated, empty stores over one database. */
export interface StoreHarness {
  readonly stores: StorePorts;
  /** Rows in a table, for "nothing was written" assertions. */
  count(table: string): Promise<number>;
  /** Raw SQL on the same database, for what no port shows (a lease's expiry, a column). */
  query(sql: string, args?: readonly (string | number | null)[]): Promise<Record<string, unknown>[]>;
  /**
   * Stores of another instance over the same database, as another process would have them (a
   * second libSQL connection; a second set of stores over the D1 binding): no cache shared.
   * Closed by `dispose`.
   */
  openPeer(): Promise<StorePorts>;
  dispose(): Promise<void>;
}

export type OpenHarness = () => Promise<StoreHarness>;

/** The tables an append writes to. */
export const WRITTEN_TABLES = ['domain_events', 'integration_events', 'deliveries'] as const;

export const RECEIVED_AT = Date.UTC(2026, 0, 15, 9, 30, 0);

/** Subscriptions as the operator declares them; rows exist only through `syncCodeSubscriptions`. */
export const exactCreated = defineSubscription(
  'order.created.v1',
  'https://billing.example.com/hooks/created',
  {
    id: 'sub-exact-created',
  },
);
export const prefixOrder = defineSubscription('order.*', 'https://audit.example.com/hooks/orders', {
  id: 'sub-prefix-order',
  retries: 3,
  retryDelay: '1000',
});
export const exactPaid = defineSubscription('order.paid.v1', 'https://mail.example.com/hooks/paid', {
  id: 'sub-exact-paid',
});
export const prefixShipment = defineSubscription('shipment.*', 'https://ship.example.com/hooks', {
  id: 'sub-prefix-shipment',
});

/** A domain event whose integration events get ids `<id>/ie<n>` unless given. */
export function domainEvent(
  id: string,
  integration: readonly (string | Partial<NewIntegrationEvent>)[] = ['order.created.v1'],
  overrides: Partial<Omit<NewDomainEvent, 'integrationEvents'>> = {},
): NewDomainEvent {
  return {
    id,
    type: 'OrderCreated',
    source: 'billing',
    data: JSON.stringify({ order: { id: `o-${id}`, total: 42.5 } }),
    occurredAt: '2026-01-15T09:29:59.000Z',
    metadata: JSON.stringify({ tenant: 't-1' }),
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    receivedAt: RECEIVED_AT,
    integrationEvents: integration.map((ie, n) => {
      const given = typeof ie === 'string' ? { type: ie } : ie;
      return {
        id: `${id}/ie${n}`,
        type: 'order.created.v1',
        source: '/producers/billing',
        time: '2026-01-15T09:30:00.000Z',
        data: JSON.stringify({ orderId: `o-${id}`, n }),
        ...given,
      };
    }),
    ...overrides,
  };
}

export function sortedBy<T>(items: readonly T[], key: (item: T) => string): T[] {
  return [...items].sort((a, b) => key(a).localeCompare(key(b)));
}

/** `[subscriptionId, url]` of each delivery, order-free (deliveries have no defined order). */
export function targets(deliveries: readonly DeliveryView[]): [string, string][] {
  return sortedBy(deliveries, (d) => d.subscriptionId).map((d) => [d.subscriptionId, d.url]);
}

export function rejected(result: AppendResult): readonly string[] {
  if (result.ok) throw new Error('expected the append to be refused');
  return result.existing;
}
/**
 * Opens a harness before each test and disposes it after; the returned getter reads the current
 * one, with `view` (an event that must exist) and `counts` (rows of the written tables).
 */
export function useHarness(open: OpenHarness) {
  let harness: StoreHarness | undefined;
  beforeEach(async () => {
    harness = await open();
  });
  afterEach(async () => {
    await harness?.dispose();
    harness = undefined;
  });
  const current = (): StoreHarness => {
    if (!harness) throw new Error('no harness: use it inside a test');
    return harness;
  };
  return {
    get harness() {
      return current();
    },
    get stores() {
      return current().stores;
    },
    async view(id: string): Promise<EventView> {
      const found = await current().stores.events.getEvent(id);
      if (!found) throw new Error(`event ${id} not found`);
      return found;
    },
    async counts(): Promise<Record<string, number>> {
      return Object.fromEntries(
        await Promise.all(WRITTEN_TABLES.map(async (t) => [t, await current().count(t)] as const)),
      );
    },
  };
}
