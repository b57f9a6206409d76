import * as v from 'valibot';
import { afterEach, describe, expect, it } from 'vitest';
import { createMeshClient, MeshApiError } from '../../src/client/index.ts';
import { defineDomainEvent } from '../../src/core/domain-event.ts';
import { OrderCreated, OrderPaid } from '../../src/example/orders.ts';
import {
  ADMIN_TOKEN,
  createTestMesh,
  OTHER_PRODUCER_TOKEN,
  PRODUCER_TOKEN,
  type TestMesh,
} from '../support/test-mesh.ts';
import { createClientFixture, MESH_URL, order, toMesh } from './client-fixture.ts';

let mesh: TestMesh;
afterEach(async () => {
  await mesh?.dispose();
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

async function storedCount() {
  return mesh.db.count('domain_events');
}

async function rejection(promise: Promise<unknown>): Promise<MeshApiError> {
  const error = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MeshApiError);
  return error as MeshApiError;
}

describe('publish', () => {
  it('answers 202 with a client-made id, then 200 with the same answer for a replay', async () => {
    mesh = await createTestMesh();
    const { client, sent } = createClientFixture(mesh);

    const first = await client.publish(OrderCreated, order('o-1'));
    expect(first.status).toBe(202);
    expect(first.id).toMatch(UUID);
    expect(first.integrationEvents).toEqual([{ id: expect.any(String), type: 'order.created.v1' }]);

    const replay = await client.publish(OrderCreated, order('o-1'), { id: first.id });
    expect(replay).toEqual({ ...first, status: 200 });
    expect(await storedCount()).toBe(1);

    expect(sent[0]).toMatchObject({ method: 'POST', url: `${MESH_URL}/v1/events` });
    expect(sent[0]!.headers.get('authorization')).toMatch(/^Bearer /);
    expect(sent[0]!.headers.get('content-type')).toBe('application/json');
    expect(sent[0]!.body).toEqual({ id: first.id, type: 'OrderCreated', data: order('o-1') });
  });

  it('sends id, occurredAt (a Date becomes RFC 3339) and metadata as given', async () => {
    mesh = await createTestMesh();
    const { client } = createClientFixture(mesh);

    await client.publish(OrderCreated, order('o-2'), {
      id: 'order-2-created',
      occurredAt: new Date(Date.UTC(2026, 10, 30, 11, 59, 0)),
      metadata: { tenant: 'acme' },
    });

    const event = await client.getEvent('order-2-created');
    expect(event).toMatchObject({
      id: 'order-2-created',
      type: 'OrderCreated',
      source: 'billing',
      occurredAt: '2026-11-30T11:59:00.000Z',
      metadata: { tenant: 'acme' },
      data: order('o-2'),
    });
  });

  it('sends notBefore (a Date becomes RFC 3339): the delivery is not due before it; too far ahead is a 400', async () => {
    mesh = await createTestMesh();
    const { client, sent } = createClientFixture(mesh);
    const at = new Date(mesh.clock.now() + 3_600_000);

    const first = await client.publish(OrderCreated, order('o-4'), { id: 'later', notBefore: at });
    expect(sent[0]!.body).toMatchObject({ notBefore: at.toISOString() });
    expect((await client.publish(OrderCreated, order('o-4'), { id: 'later', notBefore: at })).status).toBe(
      200,
    );
    const event = await client.getEvent(first.id);
    expect(event?.integrationEvents[0]?.deliveries).toEqual([
      expect.objectContaining({ status: 'pending', nextAttemptAt: at.toISOString() }),
    ]);
    const lease = (now: number) => mesh.dispatch.leaseDue({ owner: 'd', now, leaseMs: 30_000, limit: 10 });
    expect(await lease(at.getTime() - 1)).toEqual([]);
    expect((await lease(at.getTime())).map((d) => d.event.id)).toEqual([first.integrationEvents[0]!.id]);

    const error = await rejection(
      client.publish(OrderCreated, order('o-5'), { notBefore: new Date(mesh.clock.now() + 8 * 86_400_000) }),
    );
    expect(error.status).toBe(400);
    expect(error.problem.issues).toEqual([
      { path: '/notBefore', message: 'notBefore must be at most 7 days ahead' },
    ]);
  });

  it('gives the traceparent to the server, which stores it with the event', async () => {
    mesh = await createTestMesh();
    const { client, sent } = createClientFixture(mesh);

    const { id } = await client.publish(OrderCreated, order('o-3'), { traceparent: TRACEPARENT });

    expect(sent[0]!.headers.get('traceparent')).toBe(TRACEPARENT);
    const rows = await mesh.db.driver.query('SELECT traceparent FROM domain_events WHERE id = ?', [id]);
    expect(rows).toEqual([{ traceparent: TRACEPARENT }]);
  });

  it('throws the 400 problem with its issues, without retrying, and nothing is written', async () => {
    mesh = await createTestMesh();
    const { client, sent, sleeps } = createClientFixture(mesh);

    // Type-correct, refused by the schema's checks at the mesh.
    const error = await rejection(
      client.publish(OrderCreated, { order: { id: '', customerId: 'c-1', total: -1, currency: 'EUR' } }),
    );

    expect(error.status).toBe(400);
    expect(error.code).toBe('mesh_api');
    expect(error.problem).toMatchObject({ type: 'urn:hookmesh:problem:invalid-event', status: 400 });
    expect(error.problem.issues?.map((i) => i.path).sort()).toEqual(['/data/order/id', '/data/order/total']);
    expect(sent).toHaveLength(1);
    expect(sleeps).toEqual([]);
    expect(await storedCount()).toBe(0);
  });

  it('throws 409 for an id already used with another body, without retrying', async () => {
    mesh = await createTestMesh();
    const { client, sent } = createClientFixture(mesh);
    await client.publish(OrderCreated, order('o-4'), { id: 'taken' });

    const error = await rejection(client.publish(OrderCreated, order('o-4', 99), { id: 'taken' }));

    expect(error.status).toBe(409);
    expect(error.problem.type).toBe('urn:hookmesh:problem:conflict');
    expect(sent).toHaveLength(2);
  });

  it('throws 401 for a wrong token and 422 for a type the mesh does not know, each in one attempt', async () => {
    mesh = await createTestMesh();
    const wrongToken = createClientFixture(mesh, { token: 'not-a-token-0123456789abcdef' });
    const unauthorized = await rejection(wrongToken.client.publish(OrderCreated, order('o-5')));
    expect(unauthorized.status).toBe(401);
    expect(wrongToken.sent).toHaveLength(1);

    const Shipped = defineDomainEvent('OrderShipped', v.object({ orderId: v.string() }));
    const { client, sent } = createClientFixture(mesh);
    const unknown = await rejection(client.publish(Shipped, { orderId: 'o-5' }));
    expect(unknown.status).toBe(422);
    expect(unknown.problem.type).toBe('urn:hookmesh:problem:unknown-event-type');
    expect(sent).toHaveLength(1);
  });
});

describe('publishMany', () => {
  it('publishes several events in one request, each with its own id, and replays them as 200', async () => {
    mesh = await createTestMesh();
    const { client, sent } = createClientFixture(mesh);
    const paid = { orderId: 'o-6', amount: 42.5, paidAt: '2026-11-30T12:00:00Z' };

    const result = await client.publishMany([
      { event: OrderCreated, data: order('o-6') },
      { event: OrderPaid, data: paid, id: 'o-6-paid', metadata: { step: 2 } },
    ]);

    expect(result.status).toBe(202);
    expect(result.events).toHaveLength(2);
    expect(result.events[0]!.id).toMatch(UUID);
    expect(result.events[1]).toEqual({
      id: 'o-6-paid',
      integrationEvents: [{ id: expect.any(String), type: 'order.paid.v1' }],
    });
    expect(sent).toHaveLength(1);
    expect(sent[0]!.body).toEqual([
      { id: result.events[0]!.id, type: 'OrderCreated', data: order('o-6') },
      { id: 'o-6-paid', type: 'OrderPaid', data: paid, metadata: { step: 2 } },
    ]);

    const again = await client.publishMany([
      { event: OrderCreated, data: order('o-6'), id: result.events[0]!.id },
      { event: OrderPaid, data: paid, id: 'o-6-paid', metadata: { step: 2 } },
    ]);
    expect(again).toEqual({ ...result, status: 200 });
    expect(await storedCount()).toBe(2);
  });

  it('is all or nothing: one invalid item refuses the request with its issue', async () => {
    mesh = await createTestMesh();
    const { client } = createClientFixture(mesh);

    const error = await rejection(
      client.publishMany([
        { event: OrderCreated, data: order('o-7') },
        { event: OrderCreated, data: order('o-8', -5) },
      ]),
    );

    expect(error.status).toBe(400);
    expect(error.problem.issues).toEqual([{ path: '/1/data/order/total', message: expect.any(String) }]);
    expect(await storedCount()).toBe(0);
  });
});

describe('getEvent', () => {
  it('reads the event with its integration events and deliveries', async () => {
    mesh = await createTestMesh();
    const { client } = createClientFixture(mesh);
    const published = await client.publish(OrderCreated, order('o-9'));

    const event = await client.getEvent(published.id);

    expect(event?.id).toBe(published.id);
    expect(event?.integrationEvents).toHaveLength(1);
    expect(event?.integrationEvents[0]).toMatchObject({
      id: published.integrationEvents[0]!.id,
      type: 'order.created.v1',
      data: { orderId: 'o-9', customerId: 'c-1', total: 42.5, currency: 'EUR' },
      deliveries: [{ subscriptionId: 'example-billing', status: 'pending', attempts: [] }],
    });
  });

  it('URL-encodes the id', async () => {
    mesh = await createTestMesh();
    const { client, sent } = createClientFixture(mesh);
    const id = 'orders/42 created?#%';
    await client.publish(OrderCreated, order('o-10'), { id });

    const event = await client.getEvent(id);

    expect(event?.id).toBe(id);
    expect(sent[1]!.url).toBe(`${MESH_URL}/v1/events/${encodeURIComponent(id)}`);
  });

  it("answers null for an unknown id and for another producer's event; admin reads any", async () => {
    mesh = await createTestMesh();
    const { client } = createClientFixture(mesh);
    const { id } = await client.publish(OrderCreated, order('o-11'));
    const other = createMeshClient({ url: MESH_URL, token: OTHER_PRODUCER_TOKEN, fetch: toMesh(mesh) });
    const admin = createMeshClient({ url: MESH_URL, token: ADMIN_TOKEN, fetch: toMesh(mesh) });

    expect(await client.getEvent('no-such-event')).toBeNull();
    expect(await other.getEvent(id)).toBeNull();
    expect((await admin.getEvent(id))?.source).toBe('billing');
  });

  it('throws for a refusal other than 404', async () => {
    mesh = await createTestMesh();
    const { client } = createClientFixture(mesh, { token: 'not-a-token-0123456789abcdef' });

    expect((await rejection(client.getEvent('x'))).status).toBe(401);
  });
});

describe('createMeshClient', () => {
  it('keeps a path prefix of the base URL and refuses settings that make no sense', async () => {
    mesh = await createTestMesh();
    const urls: string[] = [];
    const client = createMeshClient({
      url: 'https://mesh.example.com/hooks/',
      token: PRODUCER_TOKEN,
      fetch: (input, init) => {
        urls.push(input);
        return toMesh(mesh)(input.replace('/hooks', ''), init);
      },
    });
    await client.getEvent('a');
    expect(urls).toEqual(['https://mesh.example.com/hooks/v1/events/a']);

    expect(() => createMeshClient({ url: 'not a url', token: 't' })).toThrow(TypeError);
    expect(() => createMeshClient({ url: MESH_URL, token: 't', retries: -1 })).toThrow(RangeError);
    expect(() => createMeshClient({ url: MESH_URL, token: 't', retries: 1.5 })).toThrow(RangeError);
    expect(() => createMeshClient({ url: MESH_URL, token: 't', timeoutMs: 0 })).toThrow(RangeError);
  });
});
