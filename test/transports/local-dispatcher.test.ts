import { Receiver } from '@upstash/qstash';
import { type CloudEvent, HTTP } from 'cloudevents';
import { afterEach, describe, expect, it } from 'vitest';
import type { AttemptRecord, LeaseInput } from '../../src/core/dispatch-queue.ts';
import { defaultRetryDelayMs } from '../../src/core/retry-policy.ts';
import { verifyQStashSignature } from '../../src/core/signature.ts';
import { defineSubscription, type SubscriptionOptions } from '../../src/core/subscription.ts';
import { OrderCreatedV1, orderConverters } from '../../src/example/orders.ts';
import { createSqlMetricsStore } from '../../src/store/sql-metrics.ts';
import {
  createLocalDispatcher,
  type LocalDispatcher,
  type LocalDispatcherOptions,
} from '../../src/transports/local-dispatcher.ts';
import { createUndiciSender } from '../../src/transports/undici-sender.ts';
import {
  type LoopbackServer,
  type ReceivedRequest,
  type Reply,
  startLoopbackServer,
} from '../support/loopback-server.ts';
import { ADMIN_TOKEN, createTestMesh, orderCreated, type TestMesh } from '../support/test-mesh.ts';

const KEY = 'sig_current_0123456789abcdef';
const NEXT_KEY = 'sig_next_0123456789abcdef';

let mesh: TestMesh;
let server: LoopbackServer;
let sender: ReturnType<typeof createUndiciSender>;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  await sender?.close();
  await server?.close();
  await mesh?.dispose();
});

async function setup(
  reply: (req: ReceivedRequest, i: number) => Reply | Promise<Reply>,
  sub: SubscriptionOptions = {},
) {
  server = await startLoopbackServer(reply);
  mesh = await createTestMesh({
    definitions: {
      converters: orderConverters,
      subscriptions: [
        defineSubscription(OrderCreatedV1, `${server.url}/webhooks/order.created.v1`, {
          id: 'sub-1',
          ...sub,
        }),
      ],
    },
  });
  sender = createUndiciSender({ allowPrivateNetwork: true });
  const dispatcher = createLocalDispatcher({
    queue: mesh.dispatch,
    send: sender,
    clock: mesh.clock,
    signingKey: KEY,
    owner: 'test-dispatcher',
    leaseMs: 30_000,
    attemptTimeoutMs: 5_000,
  });
  return dispatcher;
}

async function deliveryOf(eventId: string) {
  // Admin: a producer does not see other services' error texts.
  const res = await mesh.get(`/v1/events/${eventId}`, ADMIN_TOKEN);
  const body = (await res.json()) as {
    integrationEvents: {
      deliveries: {
        status: string;
        attempts: { number: number; at: string; status: number | null; error: string | null }[];
        nextAttemptAt: string | null;
      }[];
    }[];
  };
  return body.integrationEvents[0]!.deliveries[0]!;
}

/** Runs the schedule with the manual clock: attempts what is due, then jumps to the next due time. */
async function runSchedule(dispatcher: LocalDispatcher, eventId: string, maxSteps = 30) {
  for (let step = 0; step < maxSteps; step++) {
    await dispatcher.runOnce();
    const d = await deliveryOf(eventId);
    if (d.status === 'delivered' || d.status === 'dead') return d;
    const due = Date.parse(d.nextAttemptAt!);
    // One millisecond early, nothing is attempted.
    mesh.clock.set(due - 1);
    expect(await dispatcher.runOnce()).toBe(0);
    mesh.clock.set(due);
  }
  throw new Error('schedule did not finish');
}

describe('local dispatcher — the wire', () => {
  it('POSTs the stored body byte for byte with CloudEvents and QStash headers, verifiable by Receiver', async () => {
    const dispatcher = await setup(() => ({ status: 200, body: '{"ok":true}' }));
    // Receiver checks the signature's time window against the real clock.
    mesh.clock.set(Date.now());
    const posted = (await (
      await mesh.post(orderCreated('e1'), {
        headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
      })
    ).json()) as {
      integrationEvents: { id: string }[];
    };
    expect(await dispatcher.runOnce()).toBe(1);
    expect(server.requests).toHaveLength(1);
    const req = server.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/webhooks/order.created.v1');
    expect(req.body).toBe('{"orderId":"o-e1","customerId":"c-1","total":42.5,"currency":"EUR"}');
    expect(req.headers).toMatchObject({
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': posted.integrationEvents[0]!.id,
      'ce-type': 'order.created.v1',
      'ce-source': '/producers/billing',
      'ce-time': new Date(mesh.clock.now()).toISOString(),
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      'upstash-retried': '0',
    });
    expect(req.headers['upstash-message-id']).toMatch(/^msg_/);
    const url = `${server.url}/webhooks/order.created.v1`;
    const signature = String(req.headers['upstash-signature']);
    const receiver = new Receiver({ currentSigningKey: KEY, nextSigningKey: NEXT_KEY });
    expect(await receiver.verify({ signature, body: req.body, url, clockTolerance: 5 })).toBe(true);
    expect(
      await verifyQStashSignature({
        signature,
        body: req.body,
        url,
        keys: { current: KEY },
        nowMs: Date.now(),
      }),
    ).toMatchObject({ ok: true });

    // The official CloudEvents SDK reads the delivery as it arrived.
    const ce = HTTP.toEvent({
      headers: req.headers as Record<string, string>,
      body: req.body,
    }) as CloudEvent<unknown>;
    expect(ce).toMatchObject({
      id: posted.integrationEvents[0]!.id,
      type: 'order.created.v1',
      source: '/producers/billing',
      specversion: '1.0',
      data: { orderId: 'o-e1', customerId: 'c-1', total: 42.5, currency: 'EUR' },
    });

    const d = await deliveryOf('e1');
    expect(d.status).toBe('delivered');
    expect(d.attempts).toEqual([
      {
        number: 1,
        at: expect.any(String),
        status: 200,
        durationMs: expect.any(Number),
        error: null,
        responseExcerpt: '{"ok":true}',
      },
    ]);
  });

  it('mints a fresh signature for every attempt and counts Upstash-Retried', async () => {
    const dispatcher = await setup((_, i) => ({ status: i < 2 ? 503 : 200 }));
    await mesh.post(orderCreated('e1'));
    await runSchedule(dispatcher, 'e1');
    expect(server.requests.map((r) => r.headers['upstash-retried'])).toEqual(['0', '1', '2']);
    const signatures = new Set(server.requests.map((r) => r.headers['upstash-signature']));
    expect(signatures.size).toBe(3);
    expect(new Set(server.requests.map((r) => r.headers['ce-id'])).size).toBe(1);
  });
});

describe('local dispatcher — retries with an injected clock', () => {
  it('an always-500 endpoint gets exactly 11 attempts at the default delays, then dead', async () => {
    const dispatcher = await setup(() => ({ status: 500, body: 'down' }));
    await mesh.post(orderCreated('e1'));
    const d = await runSchedule(dispatcher, 'e1');
    expect(d.status).toBe('dead');
    expect(server.requests).toHaveLength(11);
    expect(d.attempts.map((a) => a.number)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    const gaps = d.attempts.slice(1).map((a, i) => Date.parse(a.at) - Date.parse(d.attempts[i]!.at));
    expect(gaps).toEqual(Array.from({ length: 10 }, (_, n) => defaultRetryDelayMs(n)));
    // QStash's schedule: 12 s, 2 m 28 s, 30 m, 6 h 7 m, then a day each.
    expect(gaps.slice(0, 5).map((g) => Math.round(g / 1000))).toEqual([12, 148, 1808, 22026, 86400]);
  });

  it('500 ×3 then 200 → delivered on attempt 4', async () => {
    const dispatcher = await setup((_, i) => ({ status: i < 3 ? 500 : 200 }));
    await mesh.post(orderCreated('e1'));
    const d = await runSchedule(dispatcher, 'e1');
    expect(d.status).toBe('delivered');
    expect(d.attempts.map((a) => a.status)).toEqual([500, 500, 500, 200]);
  });

  it('489 with Upstash-NonRetryable-Error → dead after 1 attempt; without the header it retries', async () => {
    const dispatcher = await setup(() => ({
      status: 489,
      headers: { 'upstash-nonretryable-error': 'true' },
    }));
    await mesh.post(orderCreated('e1'));
    await dispatcher.runOnce();
    expect((await deliveryOf('e1')).status).toBe('dead');
    expect(server.requests).toHaveLength(1);

    server.reply(() => ({ status: 489 }));
    await mesh.post(orderCreated('e2'));
    await dispatcher.runOnce();
    expect((await deliveryOf('e2')).status).toBe('retrying');
  });

  it('Retry-After sets the next delay (seconds, or a QStash duration), capped at a day', async () => {
    const answers: Reply[] = [
      { status: 503, headers: { 'retry-after': '120' } },
      { status: 429, headers: { 'retry-after': '6m5s' } },
      { status: 503, headers: { 'retry-after': '999999' } },
      { status: 200 },
    ];
    const dispatcher = await setup((_, i) => answers[i]!);
    await mesh.post(orderCreated('e1'));
    const d = await runSchedule(dispatcher, 'e1');
    const gaps = d.attempts.slice(1).map((a, i) => Date.parse(a.at) - Date.parse(d.attempts[i]!.at));
    expect(gaps).toEqual([120_000, 365_000, 86_400_000]);
  });

  it("a subscription's retryDelay expression and retries are respected", async () => {
    const dispatcher = await setup(() => ({ status: 500 }), {
      retries: 3,
      retryDelay: '1000 * pow(2, retried)',
    });
    await mesh.post(orderCreated('e1'));
    const d = await runSchedule(dispatcher, 'e1');
    expect(d.status).toBe('dead');
    const gaps = d.attempts.slice(1).map((a, i) => Date.parse(a.at) - Date.parse(d.attempts[i]!.at));
    expect(gaps).toEqual([1000, 2000, 4000]);
  });

  it('a network error or a timeout is a failed attempt, recorded with its error', async () => {
    const dispatcher = await setup(() => new Promise<Reply>(() => {}));
    const fast = createLocalDispatcher({
      queue: mesh.dispatch,
      send: sender,
      clock: mesh.clock,
      signingKey: KEY,
      owner: 'impatient',
      leaseMs: 30_000,
      attemptTimeoutMs: 200,
    });
    await mesh.post(orderCreated('e1'));
    await fast.runOnce();
    const d = await deliveryOf('e1');
    expect(d.status).toBe('retrying');
    expect(d.attempts[0]).toMatchObject({
      number: 1,
      status: null,
      error: expect.stringMatching(/timeout|abort/i),
    });
    void dispatcher;
  });

  it('a redirect is never followed: it is a failed attempt', async () => {
    const target = await startLoopbackServer();
    cleanups.push(() => target.close());
    const dispatcher = await setup(() => ({ status: 302, headers: { location: `${target.url}/stolen` } }));
    await mesh.post(orderCreated('e1'));
    await dispatcher.runOnce();
    expect((await deliveryOf('e1')).attempts[0]).toMatchObject({ status: 302 });
    expect(target.requests).toHaveLength(0);
  });
});

describe('local dispatcher — leases', () => {
  it('two dispatchers on one database never send the same attempt', async () => {
    const dispatcher = await setup(() => ({ status: 200 }));
    const { createLibsqlStores, openLibsql } = await import('../../src/store/libsql-store.ts');
    const second = await openLibsql({ url: mesh.db.url });
    cleanups.push(async () => second.client.close());
    const other = createLocalDispatcher({
      queue: createLibsqlStores(second.client, second.driver).dispatch,
      send: sender,
      clock: mesh.clock,
      signingKey: KEY,
      owner: 'other-dispatcher',
      leaseMs: 30_000,
      attemptTimeoutMs: 5_000,
      concurrency: 7,
    });
    for (let i = 0; i < 5; i++) {
      await mesh.post(Array.from({ length: 40 }, (_, j) => orderCreated(`e${i}-${j}`)));
    }
    const [a, b] = await Promise.all([dispatcher.runOnce(), other.runOnce()]);
    expect(a + b).toBe(200);
    expect(server.requests).toHaveLength(200);
    expect(new Set(server.requests.map((r) => r.headers['ce-id'])).size).toBe(200);
    expect(await mesh.db.count('attempt_log')).toBe(200);
  });

  it("a crashed holder's lease expires and is taken over; its late record is dropped", async () => {
    const dispatcher = await setup(() => ({ status: 200 }));
    await mesh.post(orderCreated('e1'));
    const [leased] = await mesh.dispatch.leaseDue({
      owner: 'crashed',
      now: mesh.clock.now(),
      leaseMs: 30_000,
      limit: 10,
    });
    expect(leased).toBeDefined();
    expect(await dispatcher.runOnce()).toBe(0);
    mesh.clock.advance(30_000);
    expect(await dispatcher.runOnce()).toBe(1);
    const late = {
      deliveryId: leased!.id,
      owner: 'crashed',
      number: 1,
      at: mesh.clock.now(),
      status: 500,
      durationMs: 1,
      error: null,
      responseExcerpt: null,
      next: 'retrying' as const,
      nextAttemptAt: mesh.clock.now() + 1000,
      retried: 1,
    };
    await mesh.dispatch.recordAttempts([late]);
    const d = await deliveryOf('e1');
    expect(d.status).toBe('delivered');
    expect(d.attempts).toHaveLength(1);
    expect(d.attempts[0]!.status).toBe(200);
  });
});

describe('local dispatcher — running', () => {
  /** A dispatcher as these tests run it: started by the test, its own owner, real timers. */
  const runningDispatcher = (
    options: Pick<LocalDispatcherOptions, 'queue' | 'concurrency' | 'pollMs'> &
      Partial<LocalDispatcherOptions>,
  ) =>
    createLocalDispatcher({
      send: sender,
      clock: mesh.clock,
      signingKey: KEY,
      owner: 'running',
      leaseMs: 30_000,
      attemptTimeoutMs: 5_000,
      ...options,
    });

  /** A promise the receiver's replies wait on, and what lets them go. */
  const gated = () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    return { gate, release };
  };

  it('started, it keeps taking work as attempts finish, beyond its concurrency, without waiting for a poll', async () => {
    await setup(() => ({ status: 200 }));
    mesh.clock.set(Date.now());
    const running = runningDispatcher({
      queue: mesh.dispatch,
      concurrency: 2,
      // No poll would come in this test's lifetime: only finished attempts can pull more work.
      pollMs: 3_600_000,
    });
    const { gate, release } = gated();
    server.reply(async () => {
      await gate;
      return { status: 200 };
    });
    await mesh.post(Array.from({ length: 10 }, (_, i) => orderCreated(`e${i}`)));
    running.start();
    // A nudge while every slot is busy (an event accepted meanwhile) must not wedge the pump.
    while (server.requests.length < 2) await new Promise((r) => setTimeout(r, 5));
    running.nudge();
    release();
    const deadline = Date.now() + 10_000;
    while (server.requests.length < 10 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await running.stop();
    expect(server.requests).toHaveLength(10);
    expect(await mesh.db.count('attempt_log')).toBe(10);
  });

  it('polls that find every slot busy never wedge it (a pass with nothing to do ends synchronously)', async () => {
    await setup(() => ({ status: 200 }));
    mesh.clock.set(Date.now());
    const running = runningDispatcher({
      queue: mesh.dispatch,
      concurrency: 2,
      // Polls keep coming while both slots wait on the gate.
      pollMs: 5,
    });
    const { gate, release } = gated();
    server.reply(async () => {
      await gate;
      return { status: 200 };
    });
    await mesh.post(Array.from({ length: 6 }, (_, i) => orderCreated(`e${i}`)));
    running.start();
    while (server.requests.length < 2) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 100));
    release();
    const deadline = Date.now() + 10_000;
    while (server.requests.length < 6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await running.stop();
    expect(server.requests).toHaveLength(6);
    expect(await mesh.db.count('attempt_log')).toBe(6);
  });

  it('finished attempts wait for the others out to share one commit (below commitBatch)', async () => {
    await setup(() => ({ status: 200 }));
    mesh.clock.set(Date.now());
    // The record counts of every commit the dispatcher makes.
    const commits: number[] = [];
    const queue = {
      ...mesh.dispatch,
      recordAndLease: (records: readonly AttemptRecord[], input: LeaseInput) => {
        if (records.length > 0) commits.push(records.length);
        return mesh.dispatch.recordAndLease!(records, input);
      },
    };
    const running = runningDispatcher({
      queue,
      concurrency: 4,
      commitBatch: 4,
      // No timer ends the wait in this test's lifetime: only the last attempt's end can.
      commitWaitMs: 3_600_000,
      pollMs: 3_600_000,
    });
    const { gate, release } = gated();
    // Three answer at once, the fourth when released.
    server.reply(async (_req, i) => {
      if (i === 3) await gate;
      return { status: 200 };
    });
    await mesh.post(Array.from({ length: 4 }, (_, i) => orderCreated(`e${i}`)));
    running.start();
    while (server.requests.length < 4) await new Promise((r) => setTimeout(r, 5));
    release();
    while ((await mesh.db.count('attempt_log')) < 4) await new Promise((r) => setTimeout(r, 5));
    await running.stop();
    expect(commits).toEqual([4]);
  });
});

describe('local dispatcher — pause', () => {
  const patch = (body: unknown) =>
    mesh.app.request('/v1/subscriptions/sub-1', {
      method: 'PATCH',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('holds a paused subscription: nothing attempted, no retry spent; resuming sends what was held at once', async () => {
    const dispatcher = await setup((_, i) => ({ status: i === 0 ? 500 : 200 }));
    await mesh.post(orderCreated('e1'));
    expect(await dispatcher.runOnce()).toBe(1);
    expect((await deliveryOf('e1')).status).toBe('retrying');

    // Code-declared, yet an operator may pause it: pausing is operational.
    const paused = await patch({ paused: true });
    expect(paused.status).toBe(200);
    expect(await paused.json()).toMatchObject({ paused: true, pausedReason: 'manual' });
    await mesh.post(orderCreated('e2'));
    // A day passes: e1's retry falls due, e2 was due at once; neither is attempted.
    mesh.clock.advance(86_400_000);
    expect(await dispatcher.runOnce()).toBe(0);
    expect(server.requests).toHaveLength(1);
    expect(await deliveryOf('e1')).toMatchObject({ status: 'retrying' });
    expect(await deliveryOf('e2')).toMatchObject({ status: 'pending', attempts: [] });

    expect((await patch({ paused: false })).status).toBe(200);
    expect(await dispatcher.runOnce()).toBe(2);

    expect((await deliveryOf('e1')).status).toBe('delivered');
    expect((await deliveryOf('e2')).status).toBe('delivered');
    // e1's second attempt is its first retry: the pause spent none.
    expect(server.requests.map((r) => r.headers['upstash-retried']).sort()).toEqual(['0', '0', '1']);
    expect((await deliveryOf('e1')).attempts.map((a) => a.number)).toEqual([1, 2]);
  });
});

describe('local dispatcher — maxConcurrency', () => {
  it('a slow subscriber never has more than 16 attempts in flight, and a fast one completes meanwhile', async () => {
    let releaseSlow!: () => void;
    const slowGate = new Promise<void>((resolve) => {
      releaseSlow = resolve;
    });
    let slowOpen = 0;
    let slowMostOpen = 0;
    let slowFull!: () => void;
    const slowAtItsShare = new Promise<void>((resolve) => {
      slowFull = resolve;
    });
    const slow = await startLoopbackServer(async () => {
      slowOpen++;
      slowMostOpen = Math.max(slowMostOpen, slowOpen);
      if (slowOpen === 16) slowFull();
      await slowGate;
      slowOpen--;
      return { status: 200 };
    });
    cleanups.push(() => slow.close());
    server = await startLoopbackServer(() => ({ status: 200 }));
    mesh = await createTestMesh({
      definitions: {
        converters: orderConverters,
        subscriptions: [
          defineSubscription(OrderCreatedV1, `${slow.url}/hooks`, { id: 'sub-slow' }),
          defineSubscription(OrderCreatedV1, `${server.url}/hooks`, { id: 'sub-fast' }),
        ],
      },
    });
    sender = createUndiciSender({ allowPrivateNetwork: true });
    const recorded = { 'sub-slow': 0, 'sub-fast': 0 } as Record<string, number>;
    const waiters: { sub: string; count: number; resolve: () => void }[] = [];
    const recordedAll = (sub: string, count: number) =>
      new Promise<void>((resolve) => {
        waiters.push({ sub, count, resolve });
      });
    const dispatcher = createLocalDispatcher({
      queue: mesh.dispatch,
      send: sender,
      clock: mesh.clock,
      signingKey: KEY,
      owner: 'shared',
      leaseMs: 30_000,
      attemptTimeoutMs: 5_000,
      concurrency: 64,
      // No poll comes in this test's lifetime: finished attempts pull more work.
      pollMs: 3_600_000,
      onAttempt: (delivery) => {
        recorded[delivery.subscriptionId] = (recorded[delivery.subscriptionId] ?? 0) + 1;
        for (const w of waiters) if (recorded[w.sub]! >= w.count) w.resolve();
      },
    });
    cleanups.push(() => dispatcher.stop());
    mesh.clock.set(Date.now());
    await mesh.post(Array.from({ length: 64 }, (_, i) => orderCreated(`e${i}`)));
    const fastDone = recordedAll('sub-fast', 64);

    dispatcher.start();
    await Promise.all([fastDone, slowAtItsShare]);

    // All 64 of the fast subscriber's are delivered while the slow one holds its 16.
    expect(server.requests).toHaveLength(64);
    expect(slow.requests).toHaveLength(16);
    expect(slowOpen).toBe(16);
    const inFlight = await mesh.db.driver.query(
      `SELECT (SELECT id FROM subscription_refs WHERE ref = subscription_ref) AS sub, count(*) AS n FROM deliveries
       WHERE status = 'in_flight' GROUP BY 1`,
    );
    expect(inFlight).toEqual([{ sub: 'sub-slow', n: 16 }]);

    const slowDone = recordedAll('sub-slow', 64);
    releaseSlow();
    await slowDone;
    await dispatcher.stop();
    expect(slow.requests).toHaveLength(64);
    expect(slowMostOpen).toBe(16);
    expect(
      await mesh.db.driver.query('SELECT status, count(*) AS n FROM deliveries GROUP BY status'),
    ).toEqual([{ status: 'delivered', n: 128 }]);
  });
});

describe('local dispatcher — delayed delivery (notBefore)', () => {
  it('attempts nothing before notBefore and delivers at it; a past notBefore means now', async () => {
    const dispatcher = await setup(() => ({ status: 200 }));
    const at = mesh.clock.now() + 3_600_000;
    const posted = await mesh.post(orderCreated('e1', { notBefore: new Date(at).toISOString() }));
    expect(posted.status).toBe(202);
    await mesh.post(orderCreated('e2', { notBefore: new Date(mesh.clock.now() - 60_000).toISOString() }));
    expect(await deliveryOf('e1')).toMatchObject({
      status: 'pending',
      nextAttemptAt: new Date(at).toISOString(),
    });

    // Only e2 (its notBefore already passed) goes at once.
    expect(await dispatcher.runOnce()).toBe(1);
    expect((await deliveryOf('e2')).status).toBe('delivered');
    mesh.clock.set(at - 1);
    expect(await dispatcher.runOnce()).toBe(0);
    expect(await deliveryOf('e1')).toMatchObject({ status: 'pending', attempts: [] });

    mesh.clock.set(at);
    expect(await dispatcher.runOnce()).toBe(1);
    const d = await deliveryOf('e1');
    expect(d.status).toBe('delivered');
    expect(d.attempts.map((a) => a.at)).toEqual([new Date(at).toISOString()]);
    // A delay is not a retry.
    expect(server.requests.map((r) => r.headers['upstash-retried'])).toEqual(['0', '0']);
  });
});

describe('local dispatcher — auto-pause (pauseAfter)', () => {
  const patch = (body: unknown) =>
    mesh.app.request('/v1/subscriptions/sub-1', {
      method: 'PATCH',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const subscription = async () =>
    (await (await mesh.get('/v1/subscriptions/sub-1', ADMIN_TOKEN)).json()) as Record<string, unknown>;

  it('3 failures in a row pause it (failing): no 4th attempt, retries kept; resuming attempts again', async () => {
    let up = false;
    const dispatcher = await setup(() => ({ status: up ? 200 : 500 }), { pauseAfter: 3, retryDelay: '1000' });
    await mesh.post(orderCreated('e1'));
    for (let n = 1; n <= 3; n++) {
      expect(await subscription()).toMatchObject({ pauseAfter: 3, paused: false });
      expect(await dispatcher.runOnce()).toBe(1);
      mesh.clock.advance(1000);
    }
    expect(await subscription()).toMatchObject({
      paused: true,
      pausedReason: 'failing',
      pausedAt: new Date(mesh.clock.now() - 1000).toISOString(),
    });
    // What /metrics' paused gauge reads counts it.
    expect((await createSqlMetricsStore(mesh.db.driver).readGauges()).subscriptions).toEqual({
      active: 0,
      paused: 1,
    });

    // A day passes and a new event comes: held, nothing attempted, no retry spent.
    mesh.clock.advance(86_400_000);
    await mesh.post(orderCreated('e2'));
    expect(await dispatcher.runOnce()).toBe(0);
    expect(server.requests).toHaveLength(3);
    expect(await deliveryOf('e1')).toMatchObject({ status: 'retrying' });
    expect(await deliveryOf('e2')).toMatchObject({ status: 'pending', attempts: [] });

    up = true;
    expect(await patch({ paused: false })).toMatchObject({ status: 200 });
    expect(await dispatcher.runOnce()).toBe(2);
    expect((await deliveryOf('e1')).status).toBe('delivered');
    expect((await deliveryOf('e2')).status).toBe('delivered');
    expect((await deliveryOf('e1')).attempts.map((a) => a.number)).toEqual([1, 2, 3, 4]);
    // The pause spent no retry: e1's fourth attempt is its third retry.
    expect(server.requests.map((r) => r.headers['upstash-retried']).sort()).toEqual([
      '0',
      '0',
      '1',
      '2',
      '3',
    ]);
    expect(await subscription()).toMatchObject({ paused: false, pausedReason: null });
  });

  it('a delivered attempt sets the count back: failures must be consecutive', async () => {
    const replies = [500, 500, 200, 500, 500, 500];
    const dispatcher = await setup((_, i) => ({ status: replies[i] ?? 200 }), { pauseAfter: 3 });
    for (const [n, status] of replies.entries()) {
      await mesh.post(orderCreated(`e${n}`));
      expect(await dispatcher.runOnce()).toBe(1);
      const expected = n < 5 ? { paused: false } : { paused: true, pausedReason: 'failing' };
      expect(await subscription(), `after reply ${n} (${status})`).toMatchObject(expected);
    }
  });

  it('resuming sets the count back', async () => {
    const dispatcher = await setup(() => ({ status: 500 }), { pauseAfter: 2, retries: 0 });
    await mesh.post(orderCreated('a'));
    await mesh.post(orderCreated('b'));
    await dispatcher.runOnce();
    expect(await subscription()).toMatchObject({ paused: true, pausedReason: 'failing' });
    await patch({ paused: false });
    // One failure after the resume is one, not three.
    await mesh.post(orderCreated('c'));
    expect(await dispatcher.runOnce()).toBe(1);
    expect(await subscription()).toMatchObject({ paused: false });
    await mesh.post(orderCreated('d'));
    expect(await dispatcher.runOnce()).toBe(1);
    expect(await subscription()).toMatchObject({ paused: true, pausedReason: 'failing' });
  });

  it('pauseAfter 0 never pauses', async () => {
    const dispatcher = await setup(() => ({ status: 500 }), { pauseAfter: 0, retries: 0 });
    for (let n = 0; n < 5; n++) await mesh.post(orderCreated(`e${n}`));
    expect(await dispatcher.runOnce()).toBe(5);
    expect(await subscription()).toMatchObject({ pauseAfter: 0, paused: false });
  });
});
