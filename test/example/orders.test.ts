import { afterEach, describe, expect, it } from 'vitest';
import { createExampleHandlers } from '../../src/example/handlers.ts';
import { OrderCreated, ordersMesh } from '../../src/example/orders.ts';
import { createTestMesh, type TestMesh } from '../../src/testing/index.ts';

// The example app tested as its users would test theirs: with `hookmesh/testing`, in process.

let t: TestMesh | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const START = Date.UTC(2026, 5, 1, 12, 0, 0);
const order = { id: 'o-1', customerId: 'c-1', total: 42.5, currency: 'EUR' };

async function exampleMesh() {
  const logs: { message: string; fields: Record<string, unknown> }[] = [];
  const mesh = await createTestMesh({
    mesh: ordersMesh,
    handlers: createExampleHandlers((message, fields) => logs.push({ message, fields })),
    now: START,
  });
  return { mesh, logs };
}

describe('the example app', () => {
  it('OrderCreated → billing → OrderPaid → notifications: the whole chain, each handler once', async () => {
    const { mesh, logs } = await exampleMesh();
    t = mesh;
    const created = await t.publish(OrderCreated, { order }, { id: 'order-1' });
    const createdV1 = created.integrationEvents[0]!;

    const attempts = await t.deliver();
    expect(attempts.map((a) => [a.type, a.status, a.outcome])).toEqual([
      ['order.created.v1', 200, 'delivered'],
      ['order.paid.v1', 200, 'delivered'],
    ]);
    expect(t.runs().map((r) => [r.handler, r.outcome])).toEqual([
      ['billing', 'completed'],
      ['notifications', 'completed'],
    ]);

    // OrderPaid's id and paidAt come from the delivery (ce-id, ce-time).
    const createdEvent = await t.event('order-1');
    const paid = await t.event(`paid-${createdV1.id}`);
    expect(paid).toMatchObject({
      type: 'OrderPaid',
      data: { orderId: 'o-1', amount: 42.5, paidAt: createdEvent?.integrationEvents[0]?.time },
    });
    expect(paid?.integrationEvents[0]).toMatchObject({
      type: 'order.paid.v1',
      deliveries: [{ subscriptionId: 'example-notifications', status: 'delivered' }],
    });
    expect(t.runs('notifications')[0]?.event.id).toBe(paid?.integrationEvents[0]?.id);

    expect(logs.map((l) => l.message)).toEqual(['billing: charging order', 'notifications: order paid']);
    expect(logs[1]!.fields).toMatchObject({ orderId: 'o-1', amount: 42.5 });
    expect(await t.deliveries({ status: 'delivered' })).toHaveLength(2);
  });

  it('a retried billing delivery makes no second OrderPaid: the copy is an idempotent replay', async () => {
    const { mesh } = await exampleMesh();
    t = mesh;
    // The mesh accepts billing's OrderPaid, but billing never learns it: it sees a refusal, throws,
    // and the mesh retries the order.created.v1 delivery.
    let garbleOnce = true;
    t.intercept(async (request, next) => {
      const response = await next(request);
      if (!garbleOnce || !request.url.endsWith('/v1/events')) return response;
      garbleOnce = false;
      return Response.json(
        { type: 'about:blank', title: 'Bad request', status: 400, detail: 'garbled on the way back' },
        { status: 400, headers: { 'content-type': 'application/problem+json' } },
      );
    });
    const created = await t.publish(OrderCreated, { order }, { id: 'order-1' });

    const first = await t.deliver();
    expect(first.map((a) => [a.type, a.status, a.outcome])).toEqual([
      ['order.created.v1', 500, 'retrying'],
      ['order.paid.v1', 200, 'delivered'],
    ]);
    const retry = await t.deliverNext();
    expect(retry.map((a) => [a.type, a.status, a.number, a.at.getTime() - START])).toEqual([
      ['order.created.v1', 200, 2, 12_182],
    ]);

    expect(t.runs('billing').map((r) => r.outcome)).toEqual(['threw', 'completed']);
    expect(t.runs('notifications')).toHaveLength(1);
    const paid = await t.deliveries({ type: 'order.paid.v1' });
    expect(paid).toHaveLength(1);
    expect(paid[0]!.eventId).toBe(`paid-${created.integrationEvents[0]!.id}`);
  });
});
