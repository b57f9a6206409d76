import { afterEach, describe, expect, it } from 'vitest';
import { orderCreated } from '../support/test-mesh.ts';
import { deliveryOf, disposeAll, runQStash, type Setup, setup, userMessages } from './qstash-fixture.ts';

const A = { subscriptionId: 'sub-1', orderingKey: 'order-A' };
const B = { subscriptionId: 'sub-1', orderingKey: 'order-B' };

// DESIGN "Ordering" through QStash: the transport publishes only the head of each (subscription,
// ordering key); the next is published once the callback that made the one before delivered or
// dead is in — by that callback itself where the route is wired to `publishNextOfKey` (the
// Worker), else by the first sweep after it. `order.created.v1` is keyed by its order id (the
// example app's `orderingKey: (d) => d.orderId`); each event is tagged by its customer id.

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

describe('QStash transport — ordering keys, the callback publishing the next (publishNextOfKey)', () => {
  /** Waits for the publishes the callbacks so far started in the background; the test starts none. */
  const backgroundDone = async (s: Setup) =>
    (await Promise.all(s.released.map((r) => r.publish))) as { published: number; failed: number }[];

  /**
   * `runQStash`, waiting after each round for what the callbacks published in the background (a
   * message they publish while the double is still delivering may go in that same round).
   */
  const runQStashAndCallbacks = async (s: Setup) => {
    for (let step = 0; step < 40; step++) {
      await s.q.deliverDue();
      await backgroundDone(s);
      const next = s.q.nextDueAt();
      if (next === null) return;
      s.mesh.clock.set(Math.max(next, s.mesh.clock.now()));
    }
    throw new Error('the double still had messages due');
  };

  it("publishes the next of a key right after its head's final callback: no sweep, no publish pass of the test's", async () => {
    const attempts = new Map<string, number>();
    const s = await setup(
      (req) => {
        const tag = (JSON.parse(req.body) as { customerId: string }).customerId;
        const n = (attempts.get(tag) ?? 0) + 1;
        attempts.set(tag, n);
        return { status: tag === 'a1' && n === 1 ? 500 : 200 };
      },
      { publishNextOfKey: true },
    );
    await post(s, [
      ['a1', 'order-A'],
      ['b1', 'order-B'],
      ['a2', 'order-A'],
      ['a3', 'order-A'],
    ]);
    // The one pass of the test, as the Worker runs after an ingest: the heads go.
    expect(await s.transport.publishDue()).toEqual({ published: 2, failed: 0 });
    expect(published(s)).toEqual(['a1', 'b1']);

    // a1 fails (retrying: nothing released), b1 is delivered: B is released, and has nothing next.
    await s.q.deliverDue();
    expect(await backgroundDone(s)).toEqual([{ published: 0, failed: 0 }]);
    expect(s.released.map((r) => r.scope)).toEqual([B]);
    expect((await deliveryOf(s.mesh, 'a1')).status).toBe('retrying');
    expect(published(s)).toEqual(['a1', 'b1']);

    // QStash retries a1 (delivered); from then on each callback of order A publishes the next.
    await runQStashAndCallbacks(s);
    expect(published(s)).toEqual(['a1', 'b1', 'a2', 'a3']);
    expect(s.released.map((r) => r.scope)).toEqual([B, A, A, A]);
    expect((await backgroundDone(s)).map((r) => r.published)).toEqual([0, 1, 1, 0]);
    const seen = s.destination.requests.map((r) => (JSON.parse(r.body) as { customerId: string }).customerId);
    expect(seen.filter((t) => t.startsWith('a'))).toEqual(['a1', 'a1', 'a2', 'a3']);
    for (const tag of ['a1', 'a2', 'a3', 'b1'])
      expect((await deliveryOf(s.mesh, tag)).status).toBe('delivered');
    expect(s.errors).toEqual([]);
  });

  it('a head QStash gives up on (failure callback: dead) publishes the next from that callback', async () => {
    const s = await setup(
      (req) => ({
        status: (JSON.parse(req.body) as { customerId: string }).customerId === 'a1' ? 500 : 200,
      }),
      { sub: { retries: 1, retryDelay: '1000' }, publishNextOfKey: true },
    );
    await post(s, [
      ['a1', 'order-A'],
      ['a2', 'order-A'],
    ]);
    expect(await s.transport.publishDue()).toEqual({ published: 1, failed: 0 });

    await runQStashAndCallbacks(s);
    expect((await deliveryOf(s.mesh, 'a1')).status).toBe('dead');
    expect((await deliveryOf(s.mesh, 'a2')).status).toBe('delivered');
    expect(published(s)).toEqual(['a1', 'a2']);
    // a1's last callback and its failure callback (a repeat: nothing) and a2's: only a2 was published.
    expect(s.released.map((r) => r.scope)).toEqual([A, A]);
    expect((await backgroundDone(s)).map((r) => r.published)).toEqual([1, 0]);
  });

  it('passes racing for one released key (two callbacks, a sweep) publish its next once', async () => {
    const s = await setup(() => ({ status: 200 }));
    await post(s, [
      ['a1', 'order-A'],
      ['a2', 'order-A'],
      ['a3', 'order-A'],
    ]);
    expect(await s.transport.publishDue()).toEqual({ published: 1, failed: 0 });
    await s.q.deliverDue();
    expect((await deliveryOf(s.mesh, 'a1')).status).toBe('delivered');

    const results = await Promise.all([
      s.transport.publishNext(A),
      s.transport.publishNext(A),
      s.transport.publishDue(),
      s.transport.publishNext(A),
    ]);
    expect(results.reduce((sum, r) => sum + r.published, 0)).toBe(1);
    expect(published(s)).toEqual(['a1', 'a2']);
    expect(new Set(userMessages(s.q).map((m) => m.dedupId)).size).toBe(2);
    // a3 still waits behind a2, in flight.
    expect(await s.transport.publishNext(A)).toEqual({ published: 0, failed: 0 });
    expect((await deliveryOf(s.mesh, 'a3')).status).toBe('pending');
  });
});
