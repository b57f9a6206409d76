import { createApi } from '../../src/api/app.ts';
import type {
  QStashCallbackOptions,
  QStashCallbackRoutesOptions,
} from '../../src/api/qstash-callback-routes.ts';
import { createManualClock } from '../../src/core/clock.ts';
import type { DeliveryAdminStore } from '../../src/core/delivery-admin-store.ts';
import type { AttemptRecord, DispatchQueue, LeasedDelivery } from '../../src/core/dispatch-queue.ts';
import type { EventStore } from '../../src/core/event-store.ts';
import { createIdGenerator } from '../../src/core/ids.ts';
import type { SubscriptionUrlRules } from '../../src/core/network-address.ts';
import type { PublishQueue } from '../../src/core/publish-queue.ts';
import { createRegistry, type MeshDefinitions } from '../../src/core/registry.ts';
import type { SubscriptionStore } from '../../src/core/subscription-store.ts';
import { createOrdersMesh } from '../../src/example/orders.ts';
import { createLibsqlStores } from '../../src/store/libsql-store.ts';
import type { SqlDriver } from '../../src/store/sql-driver.ts';
import { createTempDb, type TempDb } from './temp-db.ts';

export const PRODUCER_TOKEN = 'billing-token-0123456789abcdef';
export const OTHER_PRODUCER_TOKEN = 'shipping-token-0123456789abcdef';
export const ADMIN_TOKEN = 'admin-token-0123456789abcdef';

export interface TestMesh {
  readonly db: TempDb;
  readonly events: EventStore;
  readonly dispatch: DispatchQueue;
  readonly publish: PublishQueue;
  readonly subscriptions: SubscriptionStore;
  readonly deliveries: DeliveryAdminStore;
  readonly app: ReturnType<typeof createApi>;
  readonly clock: ReturnType<typeof createManualClock>;
  /** `app.request` with a producer token and JSON content type by default. */
  post(
    body: unknown,
    init?: { token?: string | null; headers?: Record<string, string>; raw?: string },
  ): Promise<Response>;
  get(path: string, token?: string | null): Promise<Response>;
  dispose(): Promise<void>;
}

/** The mesh's API over a real libSQL file, in process (`app.request`), with a manual clock. */
export async function createTestMesh(
  options: {
    definitions?: MeshDefinitions;
    wrapEvents?: (events: EventStore) => EventStore;
    wrapPublish?: (publish: PublishQueue) => PublishQueue;
    /** Wraps the raw SQL driver the store writes through, to inject failures inside its transaction. */
    wrapDriver?: (driver: SqlDriver) => SqlDriver;
    maxInFlight?: number;
    maxBodyBytes?: number;
    /** Rules for API-created subscription URLs; by default development's (http, private network). */
    urlRules?: SubscriptionUrlRules;
    /** Mounts the QStash callback route (`POST /v1/qstash/callback`). */
    qstash?: QStashCallbackOptions & Pick<QStashCallbackRoutesOptions, 'publishNextOfKey'>;
  } = {},
): Promise<TestMesh> {
  const db = await createTempDb();
  const clock = createManualClock(Date.UTC(2026, 10, 30, 12, 0, 0));
  const driver = options.wrapDriver ? options.wrapDriver(db.driver) : db.driver;
  const stores = createLibsqlStores(db.client, driver);
  const events = options.wrapEvents ? options.wrapEvents(stores.events) : stores.events;
  const publish = options.wrapPublish ? options.wrapPublish(stores.publish) : stores.publish;
  const { subscriptions, deliveries } = stores;
  const registry = createRegistry(options.definitions ?? createOrdersMesh('http://127.0.0.1:9'));
  await subscriptions.syncCodeSubscriptions(registry.subscriptions, clock.now());
  const app = createApi({
    registry,
    events,
    subscriptions,
    deliveries,
    urlRules: options.urlRules ?? { requireHttps: false, allowPrivateNetwork: true },
    clock,
    newId: createIdGenerator(clock),
    tokens: {
      producers: [
        { name: 'billing', token: PRODUCER_TOKEN },
        { name: 'shipping', token: OTHER_PRODUCER_TOKEN },
      ],
      admin: ADMIN_TOKEN,
    },
    ...(options.maxInFlight === undefined ? {} : { maxInFlight: options.maxInFlight }),
    ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }),
    ...(options.qstash === undefined ? {} : { qstash: { ...options.qstash, queue: publish } }),
  });
  const auth = (token: string | null | undefined): Record<string, string> =>
    token === null ? {} : { authorization: `Bearer ${token ?? PRODUCER_TOKEN}` };
  return {
    db,
    events,
    dispatch: stores.dispatch,
    publish,
    subscriptions,
    deliveries,
    app,
    clock,
    post(body, init = {}) {
      return Promise.resolve(
        app.request('/v1/events', {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...auth(init.token), ...init.headers },
          body: init.raw ?? JSON.stringify(body),
        }),
      );
    },
    get(path, token) {
      return Promise.resolve(app.request(path, { headers: auth(token) }));
    },
    dispose: () => db.dispose(),
  };
}

/** The example's OrderCreated, with an id. */
export function orderCreated(id: string, overrides: Record<string, unknown> = {}) {
  return {
    id,
    type: 'OrderCreated',
    data: { order: { id: `o-${id}`, customerId: 'c-1', total: 42.5, currency: 'EUR' } },
    ...overrides,
  };
}

/**
 * Each leased delivery's first attempt, answered 2xx at `now`: the records that settle them
 * `delivered` (what retention then purges, what the bytes-per-event figure stores).
 */
export function deliveredRecords(
  leased: readonly LeasedDelivery[],
  owner: string,
  now: number,
  answer: { durationMs?: number; responseExcerpt?: string | null } = {},
): AttemptRecord[] {
  return leased.map((d) => ({
    deliveryId: d.id,
    owner,
    number: 1,
    at: now,
    status: 200,
    durationMs: answer.durationMs ?? 1,
    error: null,
    responseExcerpt: answer.responseExcerpt ?? null,
    next: 'delivered',
    nextAttemptAt: now,
    retried: 0,
  }));
}
