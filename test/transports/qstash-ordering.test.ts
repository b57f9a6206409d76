import { afterEach, describe, expect, it } from 'vitest';
import { orderCreated } from '../support/test-mesh.ts';
import { deliveryOf, disposeAll, runQStash, type Setup, setup, userMessages } from './qstash-fixture.ts';

// DESIGN "Ordering" through QStash: the transport publishes only the head of each (subscription,
// ordering key); the next is published by the first sweep after the callback that made the one
// before delivered or dead. `order.created.v1` is keyed by its order id (the example app's
// `orderingKey: (d) => d.orderId`); each event is tagged by its customer id.

afterEach(disposeAll);

async function post(s: Setup, events: readonly [tag: string, orderId: string][]) {
  for (const [tag, orderId] of events) {
    const res = await s.mesh.post(
      orderCreated(tag, { data: { order: { id: orderId, customerId: tag, total: 1, currency: 'EUR' } } }),
    );
    expect(res.status).toBe(202);
  }
}

/** The tags of the messages published so far, in publish order. */
const published = (s: Setup) =>
  userMessages(s.q).map((m) => (JSON.parse(m.body) as { customerId: string }).customerId);

describe('QStash transport — ordering keys', () => {
  it('publishes one message per order at a time: the next only after the callback of the one before; other orders meanwhile', async () => {
    const attempts = new Map<string, number>();
    const s = await setup((req) => {
      const tag = (JSON.parse(req.body) as { customerId: string }).customerId;
      const n = (attempts.get(tag) ?? 0) + 1;
      attempts.set(tag, n);
      return { status: tag === 'a1' && n <= 2 ? 500 : 200 };
    });
    await post(s, [
      ['a1', 'order-A'],
      ['b1', 'order-B'],
      ['a2', 'order-A'],
      ['b2', 'order-B'],
    ]);

    expect(await s.transport.publishDue()).toEqual({ published: 2, failed: 0 });
    expect(published(s)).toEqual(['a1', 'b1']);

    // b1 is delivered and called back; a1 fails once: QStash retries it, a2 stays unpublished.
    await s.q.deliverDue();
    expect((await deliveryOf(s.mesh, 'a1')).status).toBe('retrying');
    expect(await s.transport.publishDue()).toEqual({ published: 1, failed: 0 });
    expect(published(s)).toEqual(['a1', 'b1', 'b2']);

    // QStash runs a1's retries (the second fails, the third is delivered) and b2; each calls back.
    await runQStash(s);
    expect((await deliveryOf(s.mesh, 'a1')).status).toBe('delivered');
    expect(published(s)).toEqual(['a1', 'b1', 'b2']);
    const calledBackBeforeA2 = s.callbacks.length;

    expect(await s.transport.publishDue()).toEqual({ published: 1, failed: 0 });
    expect(published(s)).toEqual(['a1', 'b1', 'b2', 'a2']);
    await runQStash(s);

    // The destination saw order A strictly in acceptance order, a1's three attempts first.
    const seen = s.destination.requests.map((r) => (JSON.parse(r.body) as { customerId: string }).customerId);
    expect(seen.filter((t) => t.startsWith('a'))).toEqual(['a1', 'a1', 'a1', 'a2']);
    expect(calledBackBeforeA2).toBe(5);
    expect((await deliveryOf(s.mesh, 'a2')).status).toBe('delivered');
  });

  it('a head QStash gives up on (failure callback: dead) releases the next', async () => {
    const s = await setup(
      (req) => ({
        status: (JSON.parse(req.body) as { customerId: string }).customerId === 'a1' ? 500 : 200,
      }),
      { sub: { retries: 1, retryDelay: '1000' } },
    );
    await post(s, [
      ['a1', 'order-A'],
      ['a2', 'order-A'],
    ]);

    expect(await s.transport.publishDue()).toEqual({ published: 1, failed: 0 });
    await runQStash(s);
    expect((await deliveryOf(s.mesh, 'a1')).status).toBe('dead');
    expect(published(s)).toEqual(['a1']);

    expect(await s.transport.publishDue()).toEqual({ published: 1, failed: 0 });
    await runQStash(s);
    expect(published(s)).toEqual(['a1', 'a2']);
    expect((await deliveryOf(s.mesh, 'a2')).status).toBe('delivered');
  });
});
