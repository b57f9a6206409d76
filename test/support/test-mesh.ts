import { drizzle } from 'drizzle-orm/libsql';
import { type ApiOptions, createApi } from '../../src/api/app.ts';
import { createManualClock } from '../../src/core/clock.ts';
import type { DeliveryAdminStore } from '../../src/core/delivery-admin-store.ts';
import { createIdGenerator } from '../../src/core/ids.ts';
import type { SubscriptionUrlRules } from '../../src/core/network-address.ts';
import type { OutboxStore } from '../../src/core/outbox-store.ts';
import { createRegistry, type MeshDefinitions } from '../../src/core/registry.ts';
import type { SubscriptionStore } from '../../src/core/subscription-store.ts';
import { createOrdersMesh } from '../../src/example/orders.ts';
import { createLibsqlStore } from '../../src/store/libsql-store.ts';
import * as schema from '../../src/store/schema.ts';
import { createSqlDeliveryAdminStore } from '../../src/store/sql-delivery-admin-store.ts';
import type { SqlDriver } from '../../src/store/sql-driver.ts';
import { createSqlSubscriptionStore } from '../../src/store/sql-subscription-store.ts';
import { createTempDb, type TempDb } from './temp-db.ts';

export const PRODUCER_TOKEN = 'billing-token-0123456789abcdef';
export const OTHER_PRODUCER_TOKEN = 'shipping-token-0123456789abcdef';
export const ADMIN_TOKEN = 'admin-token-0123456789abcdef';

export interface TestMesh {
  readonly db: TempDb;
  readonly store: OutboxStore;
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
    wrapStore?: (store: OutboxStore) => OutboxStore;
    /** Wraps the raw SQL driver the store writes through, to inject failures inside its transaction. */
    wrapDriver?: (driver: SqlDriver) => SqlDriver;
    maxInFlight?: number;
    maxBodyBytes?: number;
    /** Rules for API-created subscription URLs; by default development's (http, private network). */
    urlRules?: SubscriptionUrlRules;
    /** Mounts the QStash callback route (`POST /v1/qstash/callback`). */
    qstash?: ApiOptions['qstash'];
  } = {},
): Promise<TestMesh> {
  const db = await createTempDb();
  const clock = createManualClock(Date.UTC(2026, 10, 30, 12, 0, 0));
  const driver = options.wrapDriver ? options.wrapDriver(db.driver) : db.driver;
  const base = createLibsqlStore(db.client, driver);
  const orm = drizzle(db.client, { schema });
  const store = options.wrapStore ? options.wrapStore(base) : base;
  const subscriptions = createSqlSubscriptionStore({ db: orm, driver });
  const deliveries = createSqlDeliveryAdminStore({ db: orm, driver });
  const registry = createRegistry(options.definitions ?? createOrdersMesh('http://127.0.0.1:9'));
  await store.syncCodeSubscriptions(registry.subscriptions, clock.now());
  const app = createApi({
    registry,
    store,
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
    ...(options.qstash === undefined ? {} : { qstash: options.qstash }),
  });
  const auth = (token: string | null | undefined): Record<string, string> =>
    token === null ? {} : { authorization: `Bearer ${token ?? PRODUCER_TOKEN}` };
  return {
    db,
    store,
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
