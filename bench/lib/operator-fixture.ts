import { orderConverters } from '../../src/example/orders.ts';
import { defineSubscription, type MeshDefinitions } from '../../src/index.ts';

// What bench:operator's store holds and what its mesh declares, shared by the fill, the mesh entry
// and the harness: the example app's two domain events, each converted to one integration event,
// each delivered to two of three subscriptions — so N domain events make 2·N deliveries.

export const ADMIN_TOKEN = 'bench-admin-0123456789abcdef-0123456789';
export const PRODUCER_TOKEN = 'bench-token-0123456789abcdef-0123456789';

/** Producers, as ingest records them (`domain_events.source`, `/producers/<name>` on integration events). */
export const PRODUCERS = ['shop', 'billing'] as const;

/** 1,000,000 deliveries: 500,000 domain events × 1 integration event × 2 subscriptions. */
export const DEFAULT_EVENTS = 500_000;

/** How far back the accepted events reach: the mesh's default retention (7 days). */
export const WINDOW_MS = 7 * 86_400_000;

/** The analytics subscription was paused this long before the fill's "now": its deliveries since are held. */
export const ANALYTICS_PAUSED_FOR_MS = 4 * 3_600_000;

/**
 * The three subscriptions, as code declares them (the mesh syncs them at start, leaving the pause
 * alone): billing on the default backoff (10 retries over ~6 days), notifications failing fast
 * (8 retries over ~1.4 h, so its outages end in dead deliveries), analytics on everything.
 */
export const SUBSCRIPTIONS = [
  defineSubscription('order.created.v1', 'https://billing.example.test/webhooks/order.created.v1', {
    id: 'sub_billing',
  }),
  defineSubscription('order.paid.v1', 'https://notify.example.test/hooks/paid', {
    id: 'sub_notifications',
    retries: 8,
    retryDelay: 'min(3600000, 10000 * pow(2, retried))',
  }),
  defineSubscription('order.*', 'https://analytics.example.test/ingest', {
    id: 'sub_analytics',
    retries: 3,
    retryDelay: '60000',
    maxConcurrency: 4,
  }),
] as const;

/** The mesh's definitions: the example's converters, the bench's subscriptions. */
export const operatorMesh: MeshDefinitions = {
  converters: orderConverters,
  subscriptions: [...SUBSCRIPTIONS],
};

/** The integration type each domain type becomes (orderConverters: one each). */
export const INTEGRATION_TYPE = { OrderCreated: 'order.created.v1', OrderPaid: 'order.paid.v1' } as const;

/** The mesh's environment (DESIGN.md, "Configuration"), minus port and database. */
export function operatorMeshEnv(): Record<string, string> {
  return {
    NODE_ENV: 'production',
    // The api role: no dispatcher leases, retries or purges while pages are timed.
    HOOKMESH_ROLE: 'api',
    HOOKMESH_RETENTION_DAYS: '0',
    HOOKMESH_PRODUCER_TOKENS: `${PRODUCERS[0]}:${PRODUCER_TOKEN}`,
    HOOKMESH_ADMIN_TOKEN: ADMIN_TOKEN,
    // Production refuses to start without one; the api role never signs anything with it.
    QSTASH_CURRENT_SIGNING_KEY: 'bench-signing-key-0123456789abcdef',
  };
}
