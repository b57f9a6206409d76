import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as v from 'valibot';
import { defineHandler } from '../../src/handler/index.ts';
import {
  defineConverter,
  defineDomainEvent,
  defineIntegrationEvent,
  defineMesh,
  defineSubscription,
} from '../../src/index.ts';
import { serveMesh } from '../../src/node.ts';
import { eventually } from '../support/processes.ts';

// A mesh as `serveMesh` runs it, on loopback HTTP with a libSQL file: every OrderPlaced becomes an
// `order.placed.v1` (keyed by its order id; its handler succeeds: delivered) and an
// `order.audited.v1` (no key; its handler fails while `failing` is set, with `retries: 0`: dead at
// the first failure).

export const PRODUCER_TOKEN = 'dashboard-producer-token-0123456789';
export const ADMIN_TOKEN = 'dashboard-admin-token-0123456789abcdef';

const OrderPlaced = defineDomainEvent('OrderPlaced', v.object({ orderId: v.string(), total: v.number() }));
const OrderPlacedV1 = defineIntegrationEvent('order.placed.v1', v.object({ orderId: v.string() }), {
  orderingKey: (d) => d.orderId,
});
const OrderAuditedV1 = defineIntegrationEvent(
  'order.audited.v1',
  v.object({ orderId: v.string(), total: v.number() }),
);

export interface DeliveryRow {
  readonly id: string;
  readonly eventId: string;
  readonly type: string;
  readonly subscriptionId: string;
  readonly status: string;
}

export interface DashboardMesh {
  readonly url: string;
  /** Whether the audit handler fails (500) now. */
  failing: boolean;
  publish(id: string, total?: number): Promise<void>;
  /** `GET /v1/deliveries` as the admin. */
  deliveries(query?: Record<string, string>): Promise<DeliveryRow[]>;
  /** Resolves once no delivery is pending, in flight or retrying. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

export async function startDashboardMesh(env: Record<string, string> = {}): Promise<DashboardMesh> {
  const dir = mkdtempSync(join(tmpdir(), 'hookmesh-dashboard-'));
  const state = { failing: true };
  const served = await serveMesh({
    env: {
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: `file:${join(dir, 'mesh.db')}`,
      HOOKMESH_PRODUCER_TOKENS: `shop:${PRODUCER_TOKEN}`,
      HOOKMESH_ADMIN_TOKEN: ADMIN_TOKEN,
      QSTASH_CURRENT_SIGNING_KEY: 'dashboard-signing-key-0123456789',
      ...env,
    },
    log: () => {},
    mesh: defineMesh(({ publicUrl }) => ({
      converters: [
        defineConverter(OrderPlaced, OrderPlacedV1, (e) => ({ orderId: e.data.orderId })),
        defineConverter(OrderPlaced, OrderAuditedV1, (e) => e.data),
      ],
      subscriptions: [
        defineSubscription(OrderPlacedV1, `${publicUrl}/webhooks/order.placed.v1`, { id: 'sub_placed' }),
        defineSubscription(OrderAuditedV1, `${publicUrl}/webhooks/order.audited.v1`, {
          id: 'sub_audit',
          retries: 0,
        }),
      ],
    })),
    handlers: [
      defineHandler(OrderPlacedV1, () => {}),
      defineHandler(OrderAuditedV1, () => {
        if (state.failing) throw new Error('the audit log is down');
      }),
    ],
  });
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

  const deliveries = async (query: Record<string, string> = {}) => {
    const res = await fetch(
      `${served.url}/v1/deliveries?${new URLSearchParams({ limit: '500', ...query })}`,
      {
        headers: admin,
      },
    );
    if (res.status !== 200) throw new Error(`GET /v1/deliveries answered ${res.status}: ${await res.text()}`);
    return ((await res.json()) as { deliveries: DeliveryRow[] }).deliveries;
  };

  return {
    url: served.url,
    get failing() {
      return state.failing;
    },
    set failing(value: boolean) {
      state.failing = value;
    },
    async publish(id, total = 42) {
      const res = await fetch(`${served.url}/v1/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${PRODUCER_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ id, type: 'OrderPlaced', data: { orderId: `o-${id}`, total } }),
      });
      if (res.status !== 202) throw new Error(`POST /v1/events answered ${res.status}: ${await res.text()}`);
    },
    deliveries,
    async settled() {
      await eventually(
        async () => {
          const rows = await deliveries();
          return rows.every((d) => d.status === 'delivered' || d.status === 'dead') ? true : undefined;
        },
        15_000,
        'every delivery to be delivered or dead',
      );
    },
    async close() {
      await served.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
