import { Receiver } from '@upstash/qstash';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyQStashSignature } from '../../src/core/signature.ts';
import { createQStashTransport } from '../../src/transports/qstash-transport.ts';
import type { QStashDouble } from '../support/qstash-double.ts';
import { ADMIN_TOKEN, createTestMesh, orderCreated } from '../support/test-mesh.ts';
import {
  deliveryOf,
  disposeAll,
  KEY,
  NEXT_KEY,
  onCleanup,
  postCallback,
  postEvent,
  runQStash,
  type Setup,
  setup,
  TRACEPARENT,
  userMessages,
} from './qstash-fixture.ts';

afterEach(disposeAll);

describe('QStash transport — publish, deliver, call back', () => {
  it('publishes with QStash options and CloudEvents headers; the destination gets the stored bytes; the callback delivers', async () => {
    const s = await setup(() => ({ status: 200, body: '{"ok":true}' }));
    // Receiver checks the signature's time window against the real clock.
    s.mesh.clock.set(Date.now());
    const posted = await postEvent(s.mesh, 'e1', { headers: { traceparent: TRACEPARENT } });
    const ieId = posted.integrationEvents[0]!.id;
    const before = await deliveryOf(s.mesh, 'e1');
    expect(before.status).toBe('pending');

    expect(await s.transport.publishDue()).toEqual({ published: 1, failed: 0 });

    expect(s.q.calls.batch).toBe(1);
    const [message] = userMessages(s.q);
    expect(message!.destination).toBe(s.hookUrl);
    expect(message!.headers).toMatchObject({
      'content-type': 'application/json',
      'upstash-method': 'POST',
      'upstash-retries': '10',
      'upstash-deduplication-id': `${before.id}-0`,
      'upstash-callback': s.callbackUrl,
      'upstash-failure-callback': s.callbackUrl,
      'upstash-forward-ce-specversion': '1.0',
      'upstash-forward-ce-id': ieId,
      'upstash-forward-ce-type': 'order.created.v1',
      'upstash-forward-ce-source': '/producers/billing',
      'upstash-forward-ce-time': new Date(s.mesh.clock.now()).toISOString(),
      'upstash-forward-traceparent': TRACEPARENT,
    });
    expect(message!.headers['upstash-retry-delay']).toBeUndefined();
    expect((await deliveryOf(s.mesh, 'e1')).status).toBe('in_flight');
    // Published means handed over: another sweep has nothing to do.
    expect(await s.transport.publishDue()).toEqual({ published: 0, failed: 0 });

    await s.q.deliverDue();

    expect(s.destination.requests).toHaveLength(1);
    const req = s.destination.requests[0]!;
    const stored = (await s.mesh.events.getEvent('e1'))!.integrationEvents[0]!.data;
    expect(req.body).toBe(stored);
    expect(req.headers).toMatchObject({
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': ieId,
      'ce-type': 'order.created.v1',
      'ce-source': '/producers/billing',
      traceparent: TRACEPARENT,
      'upstash-message-id': message!.id,
      'upstash-retried': '0',
    });
    expect(Object.keys(req.headers).filter((h) => h.startsWith('upstash-forward-'))).toEqual([]);
    const signature = String(req.headers['upstash-signature']);
    const receiver = new Receiver({ currentSigningKey: KEY, nextSigningKey: NEXT_KEY });
    expect(await receiver.verify({ signature, body: req.body, url: s.hookUrl, clockTolerance: 5 })).toBe(
      true,
    );
    expect(
      await verifyQStashSignature({
        signature,
        body: req.body,
        url: s.hookUrl,
        keys: { current: KEY },
        nowMs: Date.now(),
      }),
    ).toMatchObject({ ok: true });

    // The callback went through the signed route.
    expect(s.callbacks.map((c) => c.status)).toEqual([200]);
    const after = await deliveryOf(s.mesh, 'e1');
    expect(after.status).toBe('delivered');
    expect(after.attempts).toEqual([
      {
        number: 1,
        at: expect.any(String),
        status: 200,
        durationMs: 0,
        error: null,
        responseExcerpt: '{"ok":true}',
      },
    ]);
  });

  it('keeps stored JSON text byte for byte, including what re-serialising would change', async () => {
    const s = await setup(() => ({ status: 200 }));
    const data = '{ "orderId": "o-1",  "note": "\\u00e9 é 😀", "total": 1.50 }';
    await s.mesh.events.appendEvents([
      {
        id: 'e-raw',
        type: 'OrderCreated',
        source: 'billing',
        data: '{}',
        occurredAt: null,
        metadata: null,
        traceparent: null,
        receivedAt: s.mesh.clock.now(),
        integrationEvents: [
          { id: 'ie-raw', type: 'order.created.v1', source: '/producers/billing', time: 't', data },
        ],
      },
    ]);

    await s.transport.publishDue();
    await s.q.deliverDue();

    expect(s.destination.requests.map((r) => r.body)).toEqual([data]);
    expect((await deliveryOf(s.mesh, 'e-raw')).status).toBe('delivered');
  });

  it('sends a subscription’s retry policy: retries and its retryDelay expression', async () => {
    const s = await setup(() => ({ status: 200 }), {
      sub: { retries: 3, retryDelay: 'pow(2, retried) * 1000' },
    });
    await postEvent(s.mesh, 'e1');
    await s.transport.publishDue();
    expect(userMessages(s.q)[0]!.headers).toMatchObject({
      'upstash-retries': '3',
      'upstash-retry-delay': 'pow(2, retried) * 1000',
    });
  });

  it('publishes at most 100 messages per batch request', async () => {
    const s = await setup(() => ({ status: 200 }));
    const events = Array.from({ length: 150 }, (_, i) => orderCreated(`bulk-${i}`));
    expect((await s.mesh.post(events.slice(0, 100))).status).toBe(202);
    expect((await s.mesh.post(events.slice(100))).status).toBe(202);

    expect(await s.transport.publishDue()).toEqual({ published: 150, failed: 0 });

    expect(s.q.calls.batch).toBe(2);
    expect(new Set(userMessages(s.q).map((m) => m.dedupId)).size).toBe(150);
  });
});

describe('QStash transport — outcomes by callback', () => {
  it('a failing handler: each attempt is recorded by callback; the failure callback makes it dead', async () => {
    const s = await setup(() => ({ status: 500, body: 'nope' }), { sub: { retries: 2 } });
    await postEvent(s.mesh, 'e1');
    await s.transport.publishDue();

    await s.q.deliverDue();
    const first = await deliveryOf(s.mesh, 'e1');
    expect(first.status).toBe('retrying');
    expect(first.attempts.map((a) => a.number)).toEqual([1]);
    // The mesh shows QStash's schedule: e^2.5 s after the first failure.
    expect(Date.parse(first.nextAttemptAt!)).toBe(userMessages(s.q)[0]!.nextAttemptAt);

    await runQStash(s);

    expect(s.destination.requests.map((r) => r.headers['upstash-retried'])).toEqual(['0', '1', '2']);
    const d = await deliveryOf(s.mesh, 'e1');
    expect(d.status).toBe('dead');
    expect(d.attempts.map((a) => [a.number, a.status, a.responseExcerpt])).toEqual([
      [1, 500, 'nope'],
      [2, 500, 'nope'],
      [3, 500, 'nope'],
    ]);
    const kinds = s.q.messages.map((m) => [m.kind, m.state]);
    expect(kinds.filter(([k]) => k === 'failure-callback')).toEqual([['failure-callback', 'delivered']]);
    expect(kinds.filter(([k]) => k === 'callback')).toHaveLength(3);
    // Three callbacks and a failure callback, all answered 200; the failure one changed nothing new.
    expect(s.callbacks.map((c) => c.status)).toEqual([200, 200, 200, 200]);
    expect(await s.mesh.db.count('attempt_log')).toBe(3);
  });

  it('489 with Upstash-NonRetryable-Error: dead after one attempt', async () => {
    const s = await setup(() => ({
      status: 489,
      headers: { 'upstash-nonretryable-error': 'true' },
      body: 'schema mismatch',
    }));
    await postEvent(s.mesh, 'e1');
    await s.transport.publishDue();
    await runQStash(s);

    expect(s.destination.requests).toHaveLength(1);
    const d = await deliveryOf(s.mesh, 'e1');
    expect(d.status).toBe('dead');
    expect(d.attempts.map((a) => [a.number, a.status])).toEqual([[1, 489]]);
  });

  it('the same callback delivered twice: one state change, one attempt recorded', async () => {
    const s = await setup(() => ({ status: 200 }));
    await postEvent(s.mesh, 'e1');
    await s.transport.publishDue();
    await s.q.deliverDue();
    const first = await deliveryOf(s.mesh, 'e1');
    expect(first.status).toBe('delivered');
    const callback = s.q.messages.find((m) => m.kind === 'callback')!;

    const again = await postCallback(s, callback.body);

    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ outcome: 'duplicate' });
    expect(await deliveryOf(s.mesh, 'e1')).toEqual(first);
    expect(await s.mesh.db.count('attempt_log')).toBe(1);
  });

  it('a late callback for an older attempt after delivered never moves it back', async () => {
    const s = await setup((_, i) => ({ status: i === 0 ? 503 : 200 }));
    await postEvent(s.mesh, 'e1');
    await s.transport.publishDue();
    // Hold back the report of attempt 1: the mesh is briefly unavailable for it.
    s.gate = (body) => (body.retried === 0 ? new Response(null, { status: 503 }) : null);
    await s.q.deliverDue();
    const message = userMessages(s.q)[0]!;
    s.mesh.clock.set(message.nextAttemptAt!);
    await s.q.deliverDue();
    expect(message.state).toBe('delivered');
    const delivered = await deliveryOf(s.mesh, 'e1');
    expect(delivered.status).toBe('delivered');
    expect(delivered.attempts.map((a) => [a.number, a.status])).toEqual([[2, 200]]);

    s.gate = null;
    await runQStash(s);

    // QStash retried the held callback until it got through; it was recorded, and changed nothing else.
    const held = s.callbacks.filter((c) => c.body.retried === 0).map((c) => c.status);
    expect(held.at(-1)).toBe(200);
    expect(new Set(held.slice(0, -1))).toEqual(new Set([503]));
    const d = await deliveryOf(s.mesh, 'e1');
    expect(d.status).toBe('delivered');
    expect(d.attempts.map((a) => [a.number, a.status])).toEqual([
      [1, 503],
      [2, 200],
    ]);
  });

  it('a callback that overtakes the publish record gets 404, and QStash’s retry of it applies', async () => {
    let q: QStashDouble | undefined;
    const s = await setup(() => ({ status: 200 }), {
      // QStash delivers and calls back before publishDue has written the message id.
      wrapClient: (client) => ({
        async batch(messages) {
          const answers = await client.batch(messages);
          await q!.deliverDue();
          return answers;
        },
      }),
    });
    q = s.q;
    await postEvent(s.mesh, 'e1');

    expect(await s.transport.publishDue()).toEqual({ published: 1, failed: 0 });
    expect(s.callbacks.map((c) => c.status)).toEqual([404]);
    expect((await deliveryOf(s.mesh, 'e1')).status).toBe('in_flight');

    await runQStash(s);

    expect(s.callbacks.map((c) => c.status)).toEqual([404, 200]);
    expect((await deliveryOf(s.mesh, 'e1')).status).toBe('delivered');
    expect(s.destination.requests).toHaveLength(1);
  });

  it('replay of a dead delivery republishes it under a new generation and dedup id, then delivers', async () => {
    const s = await setup((_, i) =>
      i === 0 ? { status: 489, headers: { 'upstash-nonretryable-error': 'true' } } : { status: 200 },
    );
    await postEvent(s.mesh, 'e1');
    await s.transport.publishDue();
    await runQStash(s);
    const dead = await deliveryOf(s.mesh, 'e1');
    expect(dead.status).toBe('dead');

    const replay = await s.mesh.app.request(`/v1/deliveries/${dead.id}/retry`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(replay.status).toBe(202);
    expect(await s.transport.publishDue()).toEqual({ published: 1, failed: 0 });
    await runQStash(s);

    const messages = userMessages(s.q);
    expect(messages.map((m) => m.dedupId)).toEqual([`${dead.id}-0`, `${dead.id}-1`]);
    expect(messages[1]!.id).not.toBe(messages[0]!.id);
    const d = await deliveryOf(s.mesh, 'e1');
    expect(d.status).toBe('delivered');
    expect(d.attempts.map((a) => [a.number, a.status])).toEqual([
      [1, 489],
      [2, 200],
    ]);
    // Delivered: nothing is left to publish.
    expect(await s.transport.publishDue()).toEqual({ published: 0, failed: 0 });
  });
});

describe('QStash transport — publish failures lose nothing', () => {
  it('QStash down: publish fails, the delivery stays pending and is republished after the back-off', async () => {
    const s = await setup(() => ({ status: 200 }));
    await postEvent(s.mesh, 'e1');
    const t0 = s.mesh.clock.now();
    s.q.setDown(true);

    expect(await s.transport.publishDue()).toEqual({ published: 0, failed: 1 });
    let d = await deliveryOf(s.mesh, 'e1');
    expect(d.status).toBe('pending');
    expect(Date.parse(d.nextAttemptAt!)).toBe(t0 + 1000);
    expect(s.errors).toHaveLength(1);
    // Not due yet: nothing is tried.
    expect(await s.transport.publishDue()).toEqual({ published: 0, failed: 0 });

    // Still down (the connection is dropped this time): the back-off doubles.
    s.q.setDown(true, 'reset');
    s.mesh.clock.set(t0 + 1000);
    expect(await s.transport.publishDue()).toEqual({ published: 0, failed: 1 });
    d = await deliveryOf(s.mesh, 'e1');
    expect(Date.parse(d.nextAttemptAt!)).toBe(t0 + 1000 + 2000);

    s.q.setDown(false);
    s.mesh.clock.set(t0 + 2999);
    expect(await s.transport.publishDue()).toEqual({ published: 0, failed: 0 });
    s.mesh.clock.set(t0 + 3000);
    expect(await s.transport.publishDue()).toEqual({ published: 1, failed: 0 });
    await runQStash(s);

    expect(userMessages(s.q)).toHaveLength(1);
    expect(s.destination.requests).toHaveLength(1);
    expect((await deliveryOf(s.mesh, 'e1')).status).toBe('delivered');
  });

  it('a publish accepted by QStash but not recorded (crash) is republished with the same dedup id: one message', async () => {
    let failMark = true;
    const s = await setup(() => ({ status: 200 }), {
      wrapPublish: (store) => ({
        ...store,
        async markPublished(records) {
          if (failMark && records.length > 0) {
            failMark = false;
            throw new Error('the database went away');
          }
          return store.markPublished(records);
        },
      }),
    });
    await postEvent(s.mesh, 'e1');

    await expect(s.transport.publishDue()).rejects.toThrow('the database went away');
    expect((await deliveryOf(s.mesh, 'e1')).status).toBe('pending');
    // Leased by the lost sweep: nobody publishes it again until the lease lapses.
    expect(await s.transport.publishDue()).toEqual({ published: 0, failed: 0 });
    s.mesh.clock.advance(30_000);
    expect(await s.transport.publishDue()).toEqual({ published: 1, failed: 0 });
    await runQStash(s);

    expect(userMessages(s.q)).toHaveLength(1);
    expect(s.destination.requests).toHaveLength(1);
    expect((await deliveryOf(s.mesh, 'e1')).status).toBe('delivered');
  });

  it('a message QStash refuses does not hold back the rest of its batch', async () => {
    const s = await setup(() => ({ status: 200 }), { maxMessageBytes: 400 });
    await postEvent(s.mesh, 'small');
    const big = orderCreated('big', {
      data: { order: { id: 'o-big', customerId: 'c'.repeat(500), total: 1, currency: 'EUR' } },
    });
    expect((await s.mesh.post(big)).status).toBe(202);

    expect(await s.transport.publishDue()).toEqual({ published: 1, failed: 1 });

    expect((await deliveryOf(s.mesh, 'small')).status).toBe('in_flight');
    expect((await deliveryOf(s.mesh, 'big')).status).toBe('pending');
    expect(s.errors).toHaveLength(1);
    expect(String(s.errors[0])).toMatch(/exceeds the limit/);
  });

  it('a stored retryDelay the SDK cannot send (a newline) fails alone: the 5 others of its batch are published', async () => {
    const s = await setup(() => ({ status: 200 }), { sub: { retryDelay: 'pow(2, retried) * 1000' } });
    for (const id of ['e1', 'e2', 'e3', 'e4', 'e5', 'bad']) await postEvent(s.mesh, id);
    // The API and defineSubscription now refuse such an expression; a row written before they did
    // still holds one, so it goes in directly.
    await s.mesh.db.client.execute({
      sql: `UPDATE deliveries SET retry_delay = ?1 WHERE integration_event_ref IN
              (SELECT ie.ref FROM integration_events ie JOIN domain_events de ON de.ref = ie.domain_event_ref
               WHERE de.id = 'bad')`,
      args: ['pow(2, retried)\n* 1000'],
    });
    const t0 = s.mesh.clock.now();

    expect(await s.transport.publishDue()).toEqual({ published: 5, failed: 1 });

    for (const id of ['e1', 'e2', 'e3', 'e4', 'e5'])
      expect((await deliveryOf(s.mesh, id)).status).toBe('in_flight');
    const bad = await deliveryOf(s.mesh, 'bad');
    expect(bad.status).toBe('pending');
    expect(Date.parse(bad.nextAttemptAt!)).toBe(t0 + 1000);
    expect(s.errors).toHaveLength(1);
    expect(userMessages(s.q)).toHaveLength(5);

    // Due again after its back-off, it fails alone again (and backs off further); nothing else waits.
    await postEvent(s.mesh, 'e6');
    s.mesh.clock.set(t0 + 1000);
    expect(await s.transport.publishDue()).toEqual({ published: 1, failed: 1 });
    expect(Date.parse((await deliveryOf(s.mesh, 'bad')).nextAttemptAt!)).toBe(t0 + 1000 + 2000);
    await runQStash(s);
    expect(s.destination.requests).toHaveLength(6);
  });

  it('a batch refused with 400 is split too, while an outage (no answer in time) is not', async () => {
    const s = await setup(() => ({ status: 200 }));
    for (const id of ['e1', 'e2', 'e3']) await postEvent(s.mesh, id);
    const sizes: number[] = [];
    const transport = createQStashTransport({
      queue: s.mesh.publish,
      client: {
        batch: (messages) => {
          sizes.push(messages.length);
          return new Promise(() => {});
        },
      },
      callbackUrl: s.callbackUrl,
      clock: s.mesh.clock,
      owner: 'stuck',
      publishTimeoutMs: 20,
    });
    expect(await transport.publishDue()).toEqual({ published: 0, failed: 3 });
    // One request: a timeout says QStash is slow or away, not that a message is bad.
    expect(sizes).toEqual([3]);

    s.mesh.clock.advance(1000);
    let first = true;
    const refusing = createQStashTransport({
      queue: s.mesh.publish,
      client: {
        batch: async (messages) => {
          sizes.push(messages.length);
          if (first) {
            first = false;
            throw Object.assign(new Error('bad request'), { status: 400 });
          }
          return s.client.batch(messages);
        },
      },
      callbackUrl: s.callbackUrl,
      clock: s.mesh.clock,
      owner: 'refused',
    });
    expect(await refusing.publishDue()).toEqual({ published: 3, failed: 0 });
    expect(sizes).toEqual([3, 3, 1, 1, 1]);
  });

  it('a publish that never answers times out and counts as failed', async () => {
    const s = await setup(() => ({ status: 200 }));
    const transport = createQStashTransport({
      queue: s.mesh.publish,
      client: { batch: () => new Promise(() => {}) },
      callbackUrl: s.callbackUrl,
      clock: s.mesh.clock,
      owner: 'stuck',
      publishTimeoutMs: 20,
    });
    await postEvent(s.mesh, 'e1');

    expect(await transport.publishDue()).toEqual({ published: 0, failed: 1 });
    expect((await deliveryOf(s.mesh, 'e1')).status).toBe('pending');
  });
});

describe('POST /v1/qstash/callback — the door', () => {
  const body = (fields: Record<string, unknown> = {}) => ({
    status: 200,
    header: {},
    body: '',
    retried: 0,
    maxRetries: 10,
    sourceMessageId: 'msg_unknown',
    url: 'http://127.0.0.1:9/x',
    method: 'POST',
    ...fields,
  });

  it('answers 404 for a sourceMessageId no delivery has', async () => {
    const s = await setup(() => ({ status: 200 }));
    const res = await postCallback(s, body());
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
  });

  it('answers 401 to a missing or bad signature, another subject or an unknown key; accepts the next key', async () => {
    const s = await setup(() => ({ status: 200 }));
    expect((await postCallback(s, body(), { none: true })).status).toBe(401);
    expect((await postCallback(s, body(), { key: 'sig_someone_else_0123456789' })).status).toBe(401);
    expect((await postCallback(s, body(), { url: `${s.callbackUrl}/x` })).status).toBe(401);
    const unsigned = await postCallback(s, body(), { none: true });
    expect(await unsigned.json()).toMatchObject({ type: 'urn:hookmesh:problem:unauthorized', status: 401 });
    // Signed with the next key (a rotation in progress): past the door, then unknown.
    expect((await postCallback(s, body(), { key: NEXT_KEY })).status).toBe(404);
  });

  it('answers 400 to a signed body that is not a QStash callback', async () => {
    const s = await setup(() => ({ status: 200 }));
    expect((await postCallback(s, '{"status":')).status).toBe(400);
    expect((await postCallback(s, body({ sourceMessageId: undefined }))).status).toBe(400);
    expect((await postCallback(s, body({ retried: -1 }))).status).toBe(400);
    expect((await postCallback(s, [1, 2])).status).toBe(400);
  });

  it('is not mounted without the qstash option', async () => {
    const mesh = await createTestMesh();
    onCleanup(() => mesh.dispose());
    const res = await mesh.app.request('/v1/qstash/callback', { method: 'POST', body: '{}' });
    expect(res.status).toBe(404);
  });
});

describe('QStash transport — pause', () => {
  const patch = (s: Setup, body: unknown) =>
    s.mesh.app.request('/v1/subscriptions/sub-1', {
      method: 'PATCH',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('holds what is not yet published while paused; resuming publishes it at once, and it is delivered', async () => {
    const s = await setup(() => ({ status: 200 }));
    expect((await patch(s, { paused: true })).status).toBe(200);
    await postEvent(s.mesh, 'e1');
    s.mesh.clock.advance(3_600_000);

    expect(await s.transport.publishDue()).toEqual({ published: 0, failed: 0 });
    expect(userMessages(s.q)).toEqual([]);
    expect(await deliveryOf(s.mesh, 'e1')).toMatchObject({ status: 'pending', attempts: [] });

    expect((await patch(s, { paused: false })).status).toBe(200);
    // Due an hour ago: it goes with the first sweep after the resume.
    expect(await s.transport.publishDue()).toEqual({ published: 1, failed: 0 });
    await runQStash(s);

    expect(s.destination.requests).toHaveLength(1);
    expect((await deliveryOf(s.mesh, 'e1')).status).toBe('delivered');
  });
});

describe('QStash transport — delayed delivery (notBefore)', () => {
  it('holds a delivery until its notBefore (only due ones are published), then publishes it to be delivered at once', async () => {
    const s = await setup(() => ({ status: 200 }));
    const at = s.mesh.clock.now() + 3_600_000;
    const res = await s.mesh.post(orderCreated('e1', { notBefore: new Date(at).toISOString() }));
    expect(res.status).toBe(202);

    s.mesh.clock.set(at - 1);
    expect(await s.transport.publishDue()).toEqual({ published: 0, failed: 0 });
    expect(userMessages(s.q)).toEqual([]);

    s.mesh.clock.set(at);
    expect(await s.transport.publishDue()).toEqual({ published: 1, failed: 0 });
    // Published when due: QStash delivers at once, so no notBefore of its own is needed.
    expect(userMessages(s.q).map((m) => m.notBefore)).toEqual([at]);
    await runQStash(s);
    expect(s.destination.requests).toHaveLength(1);
    expect(await deliveryOf(s.mesh, 'e1')).toMatchObject({
      status: 'delivered',
      attempts: [{ at: new Date(at).toISOString() }],
    });
  });
});

describe('QStash transport — auto-pause (pauseAfter)', () => {
  it('failed attempts reported by callback count: the second pauses it (failing), holding what is not yet published', async () => {
    const s = await setup(() => ({ status: 500 }), {
      sub: { pauseAfter: 2, retries: 3, retryDelay: '1000' },
    });
    await postEvent(s.mesh, 'e1');
    expect(await s.transport.publishDue()).toEqual({ published: 1, failed: 0 });
    await s.q.deliverDue();
    const subscription = async () =>
      (await (await s.mesh.get('/v1/subscriptions/sub-1', ADMIN_TOKEN)).json()) as Record<string, unknown>;
    expect(await subscription()).toMatchObject({ paused: false });
    s.mesh.clock.advance(1000);
    await s.q.deliverDue();
    expect(await subscription()).toMatchObject({ paused: true, pausedReason: 'failing', pauseAfter: 2 });

    // Held: a new event is not published while it is paused.
    await postEvent(s.mesh, 'e2');
    expect(await s.transport.publishDue()).toEqual({ published: 0, failed: 0 });
  });
});
