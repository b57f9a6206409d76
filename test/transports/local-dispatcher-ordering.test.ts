import { afterEach, describe, expect, it } from 'vitest';
import { defaultRetryDelayMs } from '../../src/core/retry-policy.ts';
import { defineSubscription, type SubscriptionOptions } from '../../src/core/subscription.ts';
import { OrderCreatedV1, orderConverters } from '../../src/example/orders.ts';
import { createLocalDispatcher, type LocalDispatcher } from '../../src/transports/local-dispatcher.ts';
import { createUndiciSender } from '../../src/transports/undici-sender.ts';
import { type LoopbackServer, type Reply, startLoopbackServer } from '../support/loopback-server.ts';
import { ADMIN_TOKEN, createTestMesh, orderCreated, type TestMesh } from '../support/test-mesh.ts';

// DESIGN "Ordering" on the local dispatcher: `order.created.v1` is keyed by its order id (the
// example app declares `orderingKey: (d) => d.orderId`). Each event below is tagged by its
// customer id, so the handler's log reads as `<event>` in the order attempts arrived.

let mesh: TestMesh;
let server: LoopbackServer;
let sender: ReturnType<typeof createUndiciSender>;
afterEach(async () => {
  await sender?.close();
  await server?.close();
  await mesh?.dispose();
});

/** What the handler saw, in order: `<event>` per attempt, and the most of one order in flight at once. */
interface HandlerLog {
  readonly attempts: string[];
  mostInFlightOfOneOrder: number;
}

async function setup(
  fail: (tag: string, attempt: number) => boolean,
  sub: SubscriptionOptions = {},
  type: string = OrderCreatedV1.type,
) {
  const log: HandlerLog = { attempts: [], mostInFlightOfOneOrder: 0 };
  const inFlight = new Map<string, number>();
  const seen = new Map<string, number>();
  server = await startLoopbackServer(async (req): Promise<Reply> => {
    const data = JSON.parse(req.body) as { orderId: string; customerId?: string };
    // `order.paid.v1` has no customer: `paid:<order>`.
    const tag = data.customerId ?? `paid:${data.orderId}`;
    log.attempts.push(tag);
    const n = (inFlight.get(data.orderId) ?? 0) + 1;
    inFlight.set(data.orderId, n);
    log.mostInFlightOfOneOrder = Math.max(log.mostInFlightOfOneOrder, n);
    // Stay in flight a moment, so attempts that could overlap do.
    await new Promise((resolve) => setImmediate(resolve));
    inFlight.set(data.orderId, n - 1);
    const attempt = (seen.get(tag) ?? 0) + 1;
    seen.set(tag, attempt);
    return { status: fail(tag, attempt) ? 500 : 200 };
  });
  mesh = await createTestMesh({
    definitions: {
      converters: orderConverters,
      subscriptions: [defineSubscription(type, `${server.url}/webhooks/order`, { id: 'sub-1', ...sub })],
    },
  });
  sender = createUndiciSender({ allowPrivateNetwork: true });
  const dispatcher = createLocalDispatcher({
    queue: mesh.dispatch,
    send: sender,
    clock: mesh.clock,
    signingKey: 'sig_current_0123456789abcdef',
    owner: 'test-dispatcher',
    leaseMs: 30_000,
    attemptTimeoutMs: 5_000,
  });
  return { log, dispatcher };
}

/** Posts `OrderCreated` events one request each (acceptance order), tagged `<tag>` for order `<orderId>`. */
async function post(events: readonly [tag: string, orderId: string][]) {
  for (const [tag, orderId] of events) {
    const res = await mesh.post(
      orderCreated(tag, { data: { order: { id: orderId, customerId: tag, total: 1, currency: 'EUR' } } }),
    );
    expect(res.status).toBe(202);
  }
}

async function statusOf(eventId: string): Promise<string> {
  const res = await mesh.get(`/v1/events/${eventId}`, ADMIN_TOKEN);
  const body = (await res.json()) as { integrationEvents: { deliveries: { status: string }[] }[] };
  return body.integrationEvents[0]!.deliveries[0]!.status;
}

/** Attempts what is due, then moves the clock `stepMs` at a time (no sleeping) until `done`. */
async function runUntil(dispatcher: LocalDispatcher, done: () => Promise<boolean>, stepMs: number) {
  for (let step = 0; step < 50; step++) {
    await dispatcher.runOnce();
    if (await done()) return;
    mesh.clock.advance(stepMs);
  }
  throw new Error('did not finish');
}

describe('local dispatcher — ordering keys', () => {
  it("one order's events are attempted one at a time in acceptance order, through the first one's retries; another order's go meanwhile", async () => {
    const { log, dispatcher } = await setup((tag, attempt) => tag === 'a1' && attempt <= 2);
    await post([
      ['a1', 'order-A'],
      ['b1', 'order-B'],
      ['a2', 'order-A'],
      ['b2', 'order-B'],
      ['a3', 'order-A'],
    ]);

    await dispatcher.runOnce();
    // a1 failed and waits 12 s to retry; order B went all the way meanwhile.
    expect([...log.attempts].sort()).toEqual(['a1', 'b1', 'b2']);
    expect(log.attempts.indexOf('b2')).toBeGreaterThan(log.attempts.indexOf('b1'));
    expect(await statusOf('a1')).toBe('retrying');
    expect(await statusOf('a2')).toBe('pending');

    // One millisecond before a1's retry is due, nothing of order A is attempted, a2 included.
    mesh.clock.advance(defaultRetryDelayMs(0) - 1);
    expect(await dispatcher.runOnce()).toBe(0);

    await runUntil(dispatcher, async () => (await statusOf('a3')) === 'delivered', 30_000);

    expect(log.attempts.filter((t) => t.startsWith('a'))).toEqual(['a1', 'a1', 'a1', 'a2', 'a3']);
    expect(log.mostInFlightOfOneOrder).toBe(1);
    expect(await statusOf('a1')).toBe('delivered');
    expect(await statusOf('a2')).toBe('delivered');
  });

  it('a dead head releases the next of its order', async () => {
    const { log, dispatcher } = await setup((tag) => tag === 'a1', { retries: 1, retryDelay: '1000' });
    await post([
      ['a1', 'order-A'],
      ['a2', 'order-A'],
    ]);

    await runUntil(dispatcher, async () => (await statusOf('a2')) === 'delivered', 500);

    expect(log.attempts).toEqual(['a1', 'a1', 'a2']);
    expect(await statusOf('a1')).toBe('dead');
  });

  it("one request's events keep their order too: an order.* subscription gets an order's created, then its paid", async () => {
    const { log, dispatcher } = await setup((tag, attempt) => tag === 'c7' && attempt === 1, {}, 'order.*');
    const res = await mesh.post([
      orderCreated('c7', { data: { order: { id: 'o-7', customerId: 'c7', total: 10, currency: 'EUR' } } }),
      { id: 'p7', type: 'OrderPaid', data: { orderId: 'o-7', amount: 10, paidAt: '2026-12-02T12:00:00Z' } },
    ]);
    expect(res.status).toBe(202);

    await runUntil(dispatcher, async () => (await statusOf('p7')) === 'delivered', 30_000);

    expect(log.attempts).toEqual(['c7', 'c7', 'paid:o-7']);
  });

  it('started (attempts recorded as the next are leased), it takes the next of an order as soon as the one before is delivered', async () => {
    const { log } = await setup(() => false);
    mesh.clock.set(Date.now());
    const running = createLocalDispatcher({
      queue: mesh.dispatch,
      send: sender,
      clock: mesh.clock,
      signingKey: 'sig_current_0123456789abcdef',
      owner: 'running',
      leaseMs: 30_000,
      attemptTimeoutMs: 5_000,
      // No poll comes in this test's lifetime: only finished attempts can pull the next one.
      pollMs: 3_600_000,
    });
    await post([
      ['a1', 'order-A'],
      ['a2', 'order-A'],
      ['b1', 'order-B'],
      ['a3', 'order-A'],
    ]);
    running.start();
    const deadline = Date.now() + 10_000;
    while (log.attempts.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await running.stop();

    expect(log.attempts.filter((t) => t.startsWith('a'))).toEqual(['a1', 'a2', 'a3']);
    expect(log.attempts).toHaveLength(4);
    expect(log.mostInFlightOfOneOrder).toBe(1);
  });
});
