import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/core/clock.ts';
import { signQStashJwt } from '../../src/core/signature.ts';
import type { D1Database } from '../../src/store/d1-driver.ts';
import { deliveryIdIn } from '../../src/store/sql-ids.ts';
import { buildWorker, type WorkerBundle } from '../../worker/build.ts';
import { COMPATIBILITY_DATE, getD1, migratePersistedD1 } from '../support/d1.ts';
import { type LoopbackServer, startLoopbackServer } from '../support/loopback-server.ts';
import { eventually, freePort } from '../support/processes.ts';
import { type QStashDouble, type QStashDoubleMessage, startQStashDouble } from '../support/qstash-double.ts';

// The proof inside workerd: the real Worker bundle (worker/build.ts) in Miniflare on a
// real loopback port, a D1 database migrated beforehand as `wrangler d1 migrations apply` does, and
// the QStash double over loopback — the Worker publishes to it, it delivers (signed) to the
// Worker's handler routes and calls the Worker's /v1/qstash/callback back. Every outcome is read
// through the Worker's own API (and D1 where useful).
//
// Clocks: inside workerd the Worker and its handlers verify signatures against the real clock, so
// the double runs on a manual clock set to `Date.now()` before each `deliverDue()`. To reach a
// retry due seconds or minutes from now, the double's clock is moved forward to that due time for
// the attempt only; once the destination has answered it is set back to real time (see
// `doubleFetch`), so the callback reporting that attempt is signed at a time the Worker accepts.

const PRODUCER_TOKEN = 'billing-token-0123456789abcdef-0123456789';
const ADMIN_TOKEN = 'admin-token-0123456789abcdef-0123456789';
const QSTASH_TOKEN = 'qstash-token-0123456789abcdef';
const KEY = 'sig_current_7kYjw48mhY7kAjqNGcy6cr29RJ6r';
const NEXT_KEY = 'sig_next_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs';
/** How long any asynchronous step (a waitUntil publish, a sweep) may take before the test fails. */
const DEADLINE_MS = 10_000;

interface ScheduledFetcher {
  scheduled(options: { cron: string; scheduledTime: Date }): Promise<{ outcome: string }>;
}

interface AttemptJson {
  number: number;
  at: string;
  status: number | null;
  durationMs: number;
  error: string | null;
  responseExcerpt: string | null;
}

interface DeliveryJson {
  id: string;
  subscriptionId: string;
  url: string;
  status: 'pending' | 'in_flight' | 'retrying' | 'delivered' | 'dead';
  nextAttemptAt: string | null;
  attempts: AttemptJson[];
}

interface EventJson {
  id: string;
  type: string;
  receivedAt: string;
  data: Record<string, unknown>;
  integrationEvents: { id: string; type: string; time: string; deliveries: DeliveryJson[] }[];
}

/** An hour past its expected report, with margin: what the sweep treats as a silent publish. */
const SILENT_FOR_MS = 2 * 3_600_000;

const orderPaid = (id: string) => ({
  id,
  type: 'OrderPaid',
  data: { orderId: `o-${id}`, amount: 9.5, paidAt: '2026-01-15T09:30:00.000Z' },
});

const orderCreated = (id: string, total = 42.5) => ({
  id,
  type: 'OrderCreated',
  data: { order: { id: `o-${id}`, customerId: 'c-1', total, currency: 'EUR' } },
});

describe('the Worker in workerd delivering through QStash (miniflare, D1, QStash double)', () => {
  let dir: string;
  let bundle: WorkerBundle;
  let mf: Miniflare;
  let d1: D1Database;
  let q: QStashDouble;
  let publicUrl: string;
  const clock = createManualClock(Date.now());

  /**
   * The double's outbound fetch: once a destination or callback URL has answered, the double's clock
   * is back at real time — an attempt made "later" (clock moved to a retry's due time) is reported
   * by a callback signed now, which the Worker's real clock accepts.
   */
  const doubleFetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    try {
      return await fetch(input, init);
    } finally {
      clock.set(Date.now());
    }
  }) as typeof fetch;

  const request = (path: string, init: RequestInit & { token?: string } = {}) => {
    const { token = ADMIN_TOKEN, ...rest } = init;
    const headers = new Headers(rest.headers);
    headers.set('authorization', `Bearer ${token}`);
    if (rest.body !== undefined) headers.set('content-type', 'application/json');
    return fetch(`${publicUrl}${path}`, { ...rest, headers });
  };

  const postEvent = async (body: unknown) => {
    const res = await request('/v1/events', {
      method: 'POST',
      token: PRODUCER_TOKEN,
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(202);
    return (await res.json()) as { id: string; integrationEvents: { id: string; type: string }[] };
  };

  const getEvent = async (id: string): Promise<EventJson> => {
    const res = await request(`/v1/events/${encodeURIComponent(id)}`);
    expect(res.status).toBe(200);
    return (await res.json()) as EventJson;
  };

  const findEvent = async (id: string): Promise<EventJson | undefined> => {
    const res = await request(`/v1/events/${encodeURIComponent(id)}`);
    if (res.status === 404) {
      await res.arrayBuffer();
      return undefined;
    }
    expect(res.status).toBe(200);
    return (await res.json()) as EventJson;
  };

  /** The event's (first integration event's) delivery to one subscription. */
  const deliveryOf = async (eventId: string, subscriptionId: string): Promise<DeliveryJson> => {
    const event = await getEvent(eventId);
    const delivery = event.integrationEvents[0]?.deliveries.find((d) => d.subscriptionId === subscriptionId);
    if (!delivery) throw new Error(`event ${eventId} has no delivery to ${subscriptionId}`);
    return delivery;
  };

  /**
   * Waits for the Worker's publish (the waitUntil after the answer, or a sweep): the double holds
   * the message under the delivery's dedup id, and the Worker recorded it (`in_flight`) — so its
   * callback, in a `deliverNow` after this, can never overtake the message id's write.
   */
  const waitPublished = (eventId: string, subscriptionId: string, generation = 0) =>
    eventually(
      async () => {
        const delivery = await deliveryOf(eventId, subscriptionId);
        const message = q.messages.find(
          (m) => m.kind === 'message' && m.dedupId === `${delivery.id}-${generation}`,
        );
        return message && delivery.status !== 'pending' ? { delivery, message } : undefined;
      },
      DEADLINE_MS,
      `the publish of ${eventId} → ${subscriptionId}`,
    );

  /**
   * The double's attempts of what is due, and the callbacks that follow — of the messages published
   * before the call. One the Worker publishes meanwhile (a callback's or a handler's waitUntil)
   * waits for the next call, after `waitPublished`: delivered at once, its callback could overtake
   * the Worker's write of its message id, be answered 404 and wait for QStash's retry of it, due
   * on a clock this test moves only by hand (test/transports/qstash-transport.test.ts covers
   * that path).
   */
  const deliverKnown = () => {
    const known = new Set(q.messages.map((m) => m.id));
    return q.deliverDue({ only: (m) => known.has(m.id) });
  };

  /** The double attempts what is due at real time (and the callbacks that follow); see `deliverKnown`. */
  const deliverNow = () => {
    clock.set(Date.now());
    return deliverKnown();
  };

  /** The double attempts what is due at `at` (a retry's due time); see `doubleFetch`, `deliverKnown`. */
  const deliverAt = (at: number) => {
    clock.set(Math.max(at, Date.now()));
    return deliverKnown();
  };

  const callbacksOf = (message: QStashDoubleMessage) =>
    q.messages.filter((m) => m.sourceMessageId === message.id);

  /** The billing handler's OrderPaid for `ieId`: published, delivered to notifications. */
  const settleOrderPaid = async (ieId: string, orderId: string) => {
    const paidId = `paid-${ieId}`;
    await eventually(() => findEvent(paidId), DEADLINE_MS, `the OrderPaid ${paidId}`);
    const { delivery, message } = await waitPublished(paidId, 'example-notifications');
    expect(message.destination).toBe(`${publicUrl}/webhooks/order.paid.v1`);
    expect(delivery.url).toBe(`${publicUrl}/webhooks/order.paid.v1`);
    await deliverNow();
    expect(message.attempts.map((a) => a.status)).toEqual([200]);
    expect(callbacksOf(message).map((c) => [c.kind, c.state])).toEqual([['callback', 'delivered']]);
    const paid = await getEvent(paidId);
    expect(paid).toMatchObject({ type: 'OrderPaid', data: { orderId } });
    const notified = paid.integrationEvents[0]!.deliveries;
    expect(notified).toHaveLength(1);
    expect(notified[0]).toMatchObject({ status: 'delivered', attempts: [{ number: 1, status: 200 }] });
    expect(await inboxOf(paid.integrationEvents[0]!.id)).toEqual([
      { handler: 'notifications', status: 'done' },
    ]);
    return paid;
  };

  const inboxOf = async (eventId: string) =>
    (
      await d1
        .prepare('SELECT handler, status FROM inbox WHERE event_id = ? ORDER BY handler')
        .bind(eventId)
        .all<{ handler: string; status: string }>()
    ).results;

  const attemptRows = async (deliveryId: string) =>
    (
      await d1
        .prepare(
          `SELECT number, status FROM attempt_log WHERE delivery_id = ${deliveryIdIn('?1')} ORDER BY number`,
        )
        .bind(deliveryId)
        .all<{ number: number; status: number | null }>()
    ).results;

  /** POSTs a callback body to the Worker signed as QStash signs one (subject = the callback URL). */
  const postCallback = async (body: string) => {
    const url = `${publicUrl}/v1/qstash/callback`;
    const signature = await signQStashJwt({ key: KEY, url, body, nowMs: Date.now() });
    return fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'upstash-signature': signature },
      body,
    });
  };

  /** Runs the Worker's cron handler once, as the `* * * * *` trigger would. */
  const sweepNow = async () => {
    const worker = (await mf.getWorker()) as unknown as ScheduledFetcher;
    const swept = await worker.scheduled({ cron: '* * * * *', scheduledTime: new Date() });
    expect(swept.outcome).toBe('ok');
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hookmesh-worker-qstash-'));
    bundle = await buildWorker({ outfile: join(dir, 'worker.js') });

    // Migrated first, in a Miniflare of its own over the same persisted D1, as wrangler would.
    await migratePersistedD1(join(dir, 'd1'));

    q = await startQStashDouble({
      token: QSTASH_TOKEN,
      currentSigningKey: KEY,
      nextSigningKey: NEXT_KEY,
      clock,
      fetch: doubleFetch,
    });
    const port = await freePort();
    publicUrl = `http://127.0.0.1:${port}`;

    const started = performance.now();
    mf = new Miniflare({
      // An explicit module list, as wrangler hands a bundle to workerd (see TOOLCHAIN.md).
      modules: [{ type: 'ESModule', path: bundle.path }],
      modulesRoot: dirname(bundle.path),
      compatibilityDate: COMPATIBILITY_DATE,
      // A real socket: the double delivers to the handler routes and calls the callback route here.
      host: '127.0.0.1',
      port,
      d1Databases: { DB: 'hookmesh' },
      d1Persist: join(dir, 'd1'),
      bindings: {
        // Not production: the API-created subscription below targets a loopback server.
        NODE_ENV: 'development',
        HOOKMESH_ALLOW_PRIVATE_NETWORK: 'true',
        // With a trailing slash, as people write it: every URL the Worker builds must still have
        // exactly one slash before its path (see the test on it below).
        HOOKMESH_PUBLIC_URL: `${publicUrl}/`,
        HOOKMESH_TRANSPORT: 'qstash',
        HOOKMESH_PRODUCER_TOKENS: `billing:${PRODUCER_TOKEN}`,
        HOOKMESH_ADMIN_TOKEN: ADMIN_TOKEN,
        QSTASH_URL: q.url,
        QSTASH_TOKEN,
        QSTASH_CURRENT_SIGNING_KEY: KEY,
        QSTASH_NEXT_SIGNING_KEY: NEXT_KEY,
      },
    });
    const ready = await mf.ready;
    expect(ready.href).toBe(`${publicUrl}/`);
    const first = await fetch(`${publicUrl}/healthz`);
    const coldMs = performance.now() - started;
    expect(first.status).toBe(200);
    await first.arrayBuffer();
    d1 = await getD1(mf);

    console.info(
      [
        `worker bundle: ${(bundle.bytes / 1024).toFixed(1)} KiB, gzip ${(bundle.gzipBytes / 1024).toFixed(1)} KiB (${bundle.gzipBytes} B)`,
        `cold start in workerd, new Miniflare (real port) → first /healthz answer: ${coldMs.toFixed(0)} ms`,
      ].join('\n'),
    );
  }, 60_000);

  afterAll(async () => {
    await mf?.dispose();
    await q?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('OrderCreated → published with QStash options → signed delivery runs billing once → callback: delivered; then OrderPaid → notifications: delivered', async () => {
    const accepted = await postEvent(orderCreated('wq-1'));
    const ieId = accepted.integrationEvents[0]!.id;

    // Published by the waitUntil that followed the 202.
    const { delivery, message } = await waitPublished('wq-1', 'example-billing');
    const event = await getEvent('wq-1');
    const ie = event.integrationEvents[0]!;
    const callbackUrl = `${publicUrl}/v1/qstash/callback`;
    expect(delivery.status).toBe('in_flight');
    expect(message.destination).toBe(`${publicUrl}/webhooks/order.created.v1`);
    expect(message.headers).toMatchObject({
      'content-type': 'application/json',
      'upstash-method': 'POST',
      'upstash-retries': '10',
      'upstash-deduplication-id': `${delivery.id}-0`,
      'upstash-callback': callbackUrl,
      'upstash-failure-callback': callbackUrl,
      'upstash-forward-ce-specversion': '1.0',
      'upstash-forward-ce-id': ieId,
      'upstash-forward-ce-type': 'order.created.v1',
      'upstash-forward-ce-source': '/producers/billing',
      'upstash-forward-ce-time': ie.time,
    });
    expect(message.headers['upstash-retry-delay']).toBeUndefined();
    expect(JSON.parse(message.body)).toEqual({
      orderId: 'o-wq-1',
      customerId: 'c-1',
      total: 42.5,
      currency: 'EUR',
    });

    await deliverNow();

    // One attempt, answered 200 by the Worker's billing route (a bad signature would be a 401),
    // and one callback, answered 200 by the Worker's callback route.
    expect(message.state).toBe('delivered');
    expect(message.attempts.map((a) => [a.retried, a.status])).toEqual([[0, 200]]);
    expect(callbacksOf(message).map((c) => [c.kind, c.state, c.attempts.map((a) => a.status)])).toEqual([
      ['callback', 'delivered', [200]],
    ]);
    const after = await deliveryOf('wq-1', 'example-billing');
    expect(after).toMatchObject({ id: delivery.id, status: 'delivered', nextAttemptAt: null });
    expect(after.attempts).toEqual([
      {
        number: 1,
        at: expect.any(String),
        status: 200,
        durationMs: 0,
        error: null,
        responseExcerpt: expect.anything(),
      },
    ]);
    expect(await attemptRows(delivery.id)).toEqual([{ number: 1, status: 200 }]);
    // The typed handler ran once: its inbox row, and the OrderPaid it posted with ce-id / ce-time.
    expect(await inboxOf(ieId)).toEqual([{ handler: 'billing', status: 'done' }]);

    const paid = await settleOrderPaid(ieId, 'o-wq-1');
    expect(paid.data).toEqual({ orderId: 'o-wq-1', amount: 42.5, paidAt: ie.time });
    expect(await inboxOf(ieId)).toEqual([{ handler: 'billing', status: 'done' }]);
  });

  it('a handler failing until the retries run out: 3 attempts, each recorded by callback, then dead by the failure callback', async () => {
    let sink: LoopbackServer | undefined;
    let subscriptionId: string | undefined;
    try {
      sink = await startLoopbackServer(() => ({ status: 500, body: 'nope' }));
      const created = await request('/v1/subscriptions', {
        method: 'POST',
        body: JSON.stringify({ type: 'order.created.v1', url: `${sink.url}/hook`, retries: 2 }),
      });
      expect(created.status).toBe(201);
      subscriptionId = ((await created.json()) as { id: string }).id;

      const accepted = await postEvent(orderCreated('wq-2', 7));
      const ieId = accepted.integrationEvents[0]!.id;
      const { delivery, message } = await waitPublished('wq-2', subscriptionId);
      expect(message.destination).toBe(`${sink.url}/hook`);
      expect(message.headers).toMatchObject({
        'upstash-retries': '2',
        'upstash-deduplication-id': `${delivery.id}-0`,
      });
      // The example's billing subscription gets the event too: settle its chain at real time first,
      // so only the failing message is due when the double's clock moves ahead.
      await waitPublished('wq-2', 'example-billing');

      await deliverNow();
      expect(sink.requests).toHaveLength(1);
      expect((await deliveryOf('wq-2', 'example-billing')).status).toBe('delivered');
      await settleOrderPaid(ieId, 'o-wq-2');
      const first = await deliveryOf('wq-2', subscriptionId);
      expect(first.status).toBe('retrying');
      expect(first.attempts.map((a) => [a.number, a.status, a.responseExcerpt])).toEqual([[1, 500, 'nope']]);

      // QStash's default back-off: e^2.5 s, then e^5 s — the double's clock jumps to each due time.
      for (let retry = 1; retry <= 2; retry++) {
        expect(message.state).toBe('pending');
        // Reckoned from the end of the previous attempt, when the double's clock was back at real time.
        const delayMs = Math.round(Math.exp(2.5 * retry) * 1000);
        expect(message.nextAttemptAt! - Date.now()).toBeLessThanOrEqual(delayMs);
        expect(message.nextAttemptAt! - Date.now()).toBeGreaterThan(delayMs - DEADLINE_MS);
        expect(await deliverAt(message.nextAttemptAt!)).toBeGreaterThan(0);
        expect(sink.requests).toHaveLength(retry + 1);
      }

      expect(sink.requests.map((r) => r.headers['upstash-retried'])).toEqual(['0', '1', '2']);
      expect(message.state).toBe('failed');
      expect(message.failureReason).toBe('retries_exhausted');
      // A callback per attempt and one failure callback, every one answered 200 by the Worker.
      expect(callbacksOf(message).map((c) => [c.kind, c.state, c.attempts.map((a) => a.status)])).toEqual([
        ['callback', 'delivered', [200]],
        ['callback', 'delivered', [200]],
        ['callback', 'delivered', [200]],
        ['failure-callback', 'delivered', [200]],
      ]);
      const dead = await deliveryOf('wq-2', subscriptionId);
      expect(dead).toMatchObject({ status: 'dead', nextAttemptAt: null });
      expect(dead.attempts.map((a) => [a.number, a.status, a.responseExcerpt])).toEqual([
        [1, 500, 'nope'],
        [2, 500, 'nope'],
        [3, 500, 'nope'],
      ]);
      expect(await attemptRows(delivery.id)).toEqual([
        { number: 1, status: 500 },
        { number: 2, status: 500 },
        { number: 3, status: 500 },
      ]);
    } finally {
      if (subscriptionId) {
        const removed = await request(`/v1/subscriptions/${subscriptionId}`, { method: 'DELETE' });
        await removed.arrayBuffer();
      }
      await sink?.close();
    }
  });

  it('QStash down at publish: accepted (202), nothing lost; the cron sweep publishes after the back-off; delivered', async () => {
    q.setDown(true);
    const rejectedBefore = q.calls.rejected;
    const accepted = await postEvent(orderCreated('wq-3', 3));
    const ieId = accepted.integrationEvents[0]!.id;

    // The waitUntil's publish was refused and recorded: still pending, due again after 1 s.
    const failed = await eventually(
      async () => {
        const d = await deliveryOf('wq-3', 'example-billing');
        const event = await getEvent('wq-3');
        return q.calls.rejected > rejectedBefore &&
          Date.parse(d.nextAttemptAt!) > Date.parse(event.receivedAt)
          ? d
          : undefined;
      },
      DEADLINE_MS,
      'the failed publish to be recorded',
    );
    expect(failed).toMatchObject({ status: 'pending', attempts: [] });
    expect(q.messages.some((m) => m.dedupId === `${failed.id}-0`)).toBe(false);

    q.setDown(false);
    // The transport's back-off after a failed publish (1 s, doubling) runs on the Worker's own
    // clock, the real one inside workerd, which a test cannot move: wait until the recorded due
    // time (about a second) has really passed. Before it, a sweep would rightly publish nothing.
    const dueAt = Date.parse(failed.nextAttemptAt!);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, dueAt - Date.now() + 50)));

    // Nothing else published it meanwhile: what follows is the cron's doing.
    expect(q.messages.some((m) => m.dedupId === `${failed.id}-0`)).toBe(false);
    const worker = (await mf.getWorker()) as unknown as ScheduledFetcher;
    const swept = await worker.scheduled({ cron: '* * * * *', scheduledTime: new Date() });
    expect(swept.outcome).toBe('ok');

    const { delivery, message } = await waitPublished('wq-3', 'example-billing');
    expect(delivery.id).toBe(failed.id);
    expect(message.headers['upstash-deduplication-id']).toBe(`${failed.id}-0`);
    await deliverNow();
    expect(message.attempts.map((a) => a.status)).toEqual([200]);
    const delivered = await deliveryOf('wq-3', 'example-billing');
    expect(delivered).toMatchObject({ status: 'delivered', attempts: [{ number: 1, status: 200 }] });
    expect(await inboxOf(ieId)).toEqual([{ handler: 'billing', status: 'done' }]);
    await settleOrderPaid(ieId, 'o-wq-3');
  });

  it('the same callback twice: one state change, one attempt recorded; a late failure callback never moves delivered back', async () => {
    const accepted = await postEvent(orderCreated('wq-4', 4));
    const ieId = accepted.integrationEvents[0]!.id;
    const { delivery, message } = await waitPublished('wq-4', 'example-billing');
    await deliverNow();
    const delivered = await deliveryOf('wq-4', 'example-billing');
    expect(delivered).toMatchObject({ status: 'delivered', attempts: [{ number: 1, status: 200 }] });
    await settleOrderPaid(ieId, 'o-wq-4');

    // The callback the double sent, exactly as sent, again (signed afresh, as QStash's retry would be).
    const [callback] = callbacksOf(message);
    expect(callback?.kind).toBe('callback');
    const again = await postCallback(callback!.body);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ outcome: 'duplicate' });
    expect(await deliveryOf('wq-4', 'example-billing')).toEqual(delivered);
    expect(await attemptRows(delivery.id)).toEqual([{ number: 1, status: 200 }]);

    // A failure callback arriving late for this message (retries exhausted, a DLQ id): the state
    // stays delivered, the delivered attempt stays as it was.
    const body = JSON.parse(callback!.body) as Record<string, unknown>;
    const late = await postCallback(
      JSON.stringify({
        ...body,
        status: 500,
        header: {},
        body: Buffer.from('late').toString('base64'),
        retried: body.maxRetries,
        dlqId: `${Date.now()}-late`,
      }),
    );
    expect(late.status).toBe(200);
    await late.arrayBuffer();
    const afterLate = await deliveryOf('wq-4', 'example-billing');
    expect(afterLate).toMatchObject({ id: delivery.id, status: 'delivered', nextAttemptAt: null });
    expect(afterLate.attempts[0]).toEqual(delivered.attempts[0]);
    // And the same failure callback once more changes nothing at all.
    const lateAgain = await postCallback(
      JSON.stringify({ ...body, status: 500, header: {}, body: '', retried: body.maxRetries, dlqId: 'x' }),
    );
    expect(await lateAgain.json()).toEqual({ outcome: 'duplicate' });
    expect(await deliveryOf('wq-4', 'example-billing')).toEqual(afterLate);
    // Nothing was republished: still one message for this delivery.
    expect(q.messages.filter((m) => m.dedupId?.startsWith(delivery.id))).toHaveLength(1);
  });

  it('a trailing slash in HOOKMESH_PUBLIC_URL: published with callback …/v1/qstash/callback exactly, and its callbacks verify', async () => {
    const accepted = await postEvent(orderPaid('wq-slash'));
    const { delivery, message } = await waitPublished('wq-slash', 'example-notifications');
    const callbackUrl = `${publicUrl}/v1/qstash/callback`;
    expect(callbackUrl).not.toContain('//v1');
    expect(message.headers['upstash-callback']).toBe(callbackUrl);
    expect(message.headers['upstash-failure-callback']).toBe(callbackUrl);
    // The example's self-addressed subscription is built from the same URL.
    expect(message.destination).toBe(`${publicUrl}/webhooks/order.paid.v1`);
    expect(delivery.url).toBe(`${publicUrl}/webhooks/order.paid.v1`);

    await deliverNow();

    // The handler route took the signed delivery (its subject is the normalised URL), and the
    // callback route took the callback signed for exactly `callbackUrl`.
    expect(message.attempts.map((a) => a.status)).toEqual([200]);
    const [callback] = callbacksOf(message);
    expect(callback).toMatchObject({ kind: 'callback', destination: callbackUrl, state: 'delivered' });
    expect(callback!.attempts.map((a) => a.status)).toEqual([200]);
    expect(await deliveryOf('wq-slash', 'example-notifications')).toMatchObject({
      status: 'delivered',
      attempts: [{ number: 1, status: 200 }],
    });
    expect(await inboxOf(accepted.integrationEvents[0]!.id)).toEqual([
      { handler: 'notifications', status: 'done' },
    ]);
  });

  it('callbacks lost: the cron sweep asks QStash once the delivery is silent past the grace, gets 404, publishes it again; the copy is absorbed by the inbox and its callback delivers it', async () => {
    const callbackUrl = `${publicUrl}/v1/qstash/callback`;
    const accepted = await postEvent(orderPaid('wq-lost'));
    const ieId = accepted.integrationEvents[0]!.id;
    const { delivery, message } = await waitPublished('wq-lost', 'example-notifications');
    const lostBefore = q.lostCallbacks;
    const askedBefore = q.calls.messages;
    let again: Awaited<ReturnType<typeof waitPublished>>;
    q.loseCallbacksTo(callbackUrl);
    try {
      await deliverNow();
      expect(message.attempts.map((a) => a.status)).toEqual([200]);
      expect(q.lostCallbacks).toBe(lostBefore + 1);
      expect(await inboxOf(ieId)).toEqual([{ handler: 'notifications', status: 'done' }]);
      expect((await deliveryOf('wq-lost', 'example-notifications')).status).toBe('in_flight');

      // Silent for less than the grace: the sweep asks QStash nothing.
      await sweepNow();
      expect(q.calls.messages).toBe(askedBefore);
      expect((await deliveryOf('wq-lost', 'example-notifications')).status).toBe('in_flight');

      // The Worker's clock is the real one: the row is moved back in time instead, as if it had
      // been published and silent for two hours.
      await d1
        .prepare(
          `UPDATE deliveries SET updated_at = updated_at - ?1, next_attempt_at = next_attempt_at - ?1 WHERE id = ${deliveryIdIn('?2')}`,
        )
        .bind(SILENT_FOR_MS, delivery.id)
        .all();
      // `scheduled` resolves once the sweep (its waitUntil) has run: asked once, published again.
      await sweepNow();
      expect(q.calls.messages).toBe(askedBefore + 1);
      again = await waitPublished('wq-lost', 'example-notifications', 1);
      expect(again.message.id).not.toBe(message.id);
      expect(again.message.headers).toMatchObject({
        'upstash-deduplication-id': `${delivery.id}-1`,
        'upstash-callback': callbackUrl,
        'upstash-forward-ce-id': ieId,
      });
    } finally {
      q.loseCallbacksTo(null);
    }

    await deliverNow();

    // The copy carried the same ce-id: the inbox acknowledged it without running the handler again.
    expect(again.message.attempts.map((a) => a.status)).toEqual([200]);
    expect(callbacksOf(again.message).map((c) => [c.kind, c.state, c.attempts.map((a) => a.status)])).toEqual(
      [['callback', 'delivered', [200]]],
    );
    expect(await deliveryOf('wq-lost', 'example-notifications')).toMatchObject({
      id: delivery.id,
      status: 'delivered',
      attempts: [{ number: 1, status: 200 }],
    });
    expect(await inboxOf(ieId)).toEqual([{ handler: 'notifications', status: 'done' }]);
    // Settled: a later sweep asks nothing and publishes nothing.
    await sweepNow();
    expect(q.calls.messages).toBe(askedBefore + 1);
    expect(q.messages.filter((m) => m.dedupId?.startsWith(delivery.id))).toHaveLength(2);
  });

  it("ordering keys: the callback that settles a key's head publishes the next in its waitUntil — no cron, no other publish pass", async () => {
    const keyedOrder = (id: string) => ({
      id,
      type: 'OrderCreated',
      data: { order: { id: 'o-wq-keyed', customerId: id, total: 1, currency: 'EUR' } },
    });
    let sink: LoopbackServer | undefined;
    let subscriptionId: string | undefined;
    const pause = async (paused: boolean) => {
      const res = await request('/v1/subscriptions/example-billing', {
        method: 'PATCH',
        body: JSON.stringify({ paused }),
      });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    };
    // The example's billing subscription is held: its handler run would start a publish pass of its
    // own (a handler may post events), and only the callback may publish here.
    await pause(true);
    try {
      sink = await startLoopbackServer(() => ({ status: 200 }));
      const created = await request('/v1/subscriptions', {
        method: 'POST',
        body: JSON.stringify({ type: 'order.created.v1', url: `${sink.url}/hook` }),
      });
      expect(created.status).toBe(201);
      subscriptionId = ((await created.json()) as { id: string }).id;

      // One request, one publish pass after it: the head goes, the second waits behind it.
      const res = await request('/v1/events', {
        method: 'POST',
        token: PRODUCER_TOKEN,
        body: JSON.stringify([keyedOrder('wq-key-1'), keyedOrder('wq-key-2')]),
      });
      expect(res.status).toBe(202);
      await res.arrayBuffer();
      await waitPublished('wq-key-1', subscriptionId);
      const waiting = await getEvent('wq-key-2');
      expect(waiting.integrationEvents[0]).toMatchObject({ orderingKey: 'o-wq-keyed' });
      expect((await deliveryOf('wq-key-2', subscriptionId)).status).toBe('pending');

      // The double delivers the head and calls back; that callback's waitUntil publishes the next.
      await deliverNow();
      expect((await deliveryOf('wq-key-1', subscriptionId)).status).toBe('delivered');
      await waitPublished('wq-key-2', subscriptionId);
      await deliverNow();
      await eventually(
        async () =>
          (await deliveryOf('wq-key-2', subscriptionId!)).status === 'delivered' ? true : undefined,
        DEADLINE_MS,
        'the second of the key delivered',
      );
      expect(sink.requests.map((r) => (JSON.parse(r.body) as { customerId: string }).customerId)).toEqual([
        'wq-key-1',
        'wq-key-2',
      ]);
    } finally {
      if (subscriptionId) {
        const removed = await request(`/v1/subscriptions/${subscriptionId}`, { method: 'DELETE' });
        await removed.arrayBuffer();
      }
      await sink?.close();
      await pause(false);
    }
  });
});
