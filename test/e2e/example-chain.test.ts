import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as v from 'valibot';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { createExampleHandlers } from '../../src/example/handlers.ts';
import { ordersMesh } from '../../src/example/orders.ts';
import { defineHandler } from '../../src/handler/index.ts';
import {
  defineConverter,
  defineDomainEvent,
  defineIntegrationEvent,
  defineMesh,
  defineSubscription,
  type IntegrationEvent,
} from '../../src/index.ts';
import { type ServedMesh, serveMesh } from '../../src/node.ts';
import { eventually } from '../support/processes.ts';

// The mesh as `npm start` runs it (`serveMesh` of hookmesh/node), in process, over real loopback
// HTTP: API, dispatcher, handlers.

const PRODUCER = 'chain-producer-token-0123456789';
const ADMIN = 'chain-admin-token-0123456789';
let mesh: ServedMesh | undefined;
let dir: string;
afterEach(async () => {
  await mesh?.close();
  mesh = undefined;
  rmSync(dir, { recursive: true, force: true });
});

function env() {
  dir = mkdtempSync(join(tmpdir(), 'hookmesh-e2e-'));
  return {
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: `file:${join(dir, 'mesh.db')}`,
    HOOKMESH_PRODUCER_TOKENS: `shop:${PRODUCER}`,
    HOOKMESH_ADMIN_TOKEN: ADMIN,
    QSTASH_CURRENT_SIGNING_KEY: 'chain-signing-key-0123456789',
  };
}

async function getEvent(id: string) {
  const res = await fetch(`${mesh!.url}/v1/events/${encodeURIComponent(id)}`, {
    headers: { authorization: `Bearer ${ADMIN}` },
  });
  return res.status === 200
    ? ((await res.json()) as {
        integrationEvents: { id: string; deliveries: { status: string; attempts: unknown[] }[] }[];
      })
    : undefined;
}

describe('end to end over loopback HTTP', () => {
  it('a typed handler receives a posted event once, and the delivery is delivered', async () => {
    const Shipped = defineDomainEvent('OrderShipped', v.object({ orderId: v.string(), parcels: v.number() }));
    const ShippedV1 = defineIntegrationEvent(
      'order.shipped.v1',
      v.object({ orderId: v.string(), parcels: v.number() }),
    );
    const received: IntegrationEvent<{ orderId: string; parcels: number }>[] = [];
    const onShipped = defineHandler(ShippedV1, (event) => {
      expectTypeOf(event.data).toEqualTypeOf<{ orderId: string; parcels: number }>();
      received.push(event);
    });
    mesh = await serveMesh({
      env: env(),
      log: () => {},
      mesh: defineMesh(({ publicUrl }) => ({
        converters: [defineConverter(Shipped, ShippedV1, (e) => e.data)],
        subscriptions: [defineSubscription(ShippedV1, `${publicUrl}/webhooks/order.shipped.v1`)],
      })),
      handlers: [onShipped],
    });
    const res = await fetch(`${mesh.url}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${PRODUCER}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'ship-1', type: 'OrderShipped', data: { orderId: 'o-1', parcels: 2 } }),
    });
    expect(res.status).toBe(202);
    const event = await eventually(async () => {
      const e = await getEvent('ship-1');
      return e?.integrationEvents[0]?.deliveries[0]?.status === 'delivered' ? e : undefined;
    }, 10_000);
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({
      id: event.integrationEvents[0]!.id,
      type: 'order.shipped.v1',
      source: '/producers/shop',
      data: { orderId: 'o-1', parcels: 2 },
    });
    expect(event.integrationEvents[0]!.deliveries[0]!.attempts).toHaveLength(1);
  });

  it('the example chain: OrderCreated → billing → OrderPaid → notifications, visible in logs and GET /v1/events', async () => {
    const logs: { message: string; fields: Record<string, unknown> }[] = [];
    const record = (message: string, fields: Record<string, unknown> = {}) => logs.push({ message, fields });
    mesh = await serveMesh({
      env: env(),
      mesh: ordersMesh,
      handlers: createExampleHandlers(record),
      log: (_, message, fields) => record(message, fields),
    });
    const res = await fetch(`${mesh.url}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${PRODUCER}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        id: 'order-1',
        type: 'OrderCreated',
        data: { order: { id: 'o-1', customerId: 'c-1', total: 42.5, currency: 'EUR' } },
      }),
    });
    expect(res.status).toBe(202);
    const { integrationEvents } = (await res.json()) as { integrationEvents: { id: string }[] };
    const paidId = `paid-${integrationEvents[0]!.id}`;
    const paid = await eventually(
      async () => {
        const e = await getEvent(paidId);
        return e?.integrationEvents[0]?.deliveries[0]?.status === 'delivered' ? e : undefined;
      },
      10_000,
      'OrderPaid delivered',
    );
    expect(paid.integrationEvents).toHaveLength(1);
    const created = await getEvent('order-1');
    expect(created!.integrationEvents[0]!.deliveries[0]!.status).toBe('delivered');
    expect(logs.map((l) => l.message)).toEqual(
      expect.arrayContaining(['billing: charging order', 'notifications: order paid']),
    );
    expect(logs.find((l) => l.message === 'notifications: order paid')!.fields).toMatchObject({
      orderId: 'o-1',
      amount: 42.5,
    });
  });
});
