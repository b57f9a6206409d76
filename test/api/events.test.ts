import * as v from 'valibot';
import { afterEach, describe, expect, it } from 'vitest';
import { defineConverter } from '../../src/core/converter.ts';
import { defineDomainEvent } from '../../src/core/domain-event.ts';
import type { EventStore } from '../../src/core/event-store.ts';
import { defineIntegrationEvent } from '../../src/core/integration-event.ts';
import { defineSubscription } from '../../src/core/subscription.ts';
import type { SqlStatement } from '../../src/store/sql-driver.ts';
import {
  ADMIN_TOKEN,
  createTestMesh,
  OTHER_PRODUCER_TOKEN,
  orderCreated,
  type TestMesh,
} from '../support/test-mesh.ts';

let mesh: TestMesh;
afterEach(async () => {
  await mesh?.dispose();
});

async function rows() {
  return {
    events: await mesh.db.count('domain_events'),
    integration: await mesh.db.count('integration_events'),
    deliveries: await mesh.db.count('deliveries'),
  };
}

/** POST /v1/events with a body of unknown length: a stream of `chunks`, no Content-Length. */
function postStreamed(chunks: readonly Uint8Array[]): Promise<Response> {
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
  return Promise.resolve(
    mesh.app.request('/v1/events', {
      method: 'POST',
      headers: { authorization: 'Bearer billing-token-0123456789abcdef', 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit),
  );
}

async function expectProblem(res: Response, status: number, type: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  const body = (await res.json()) as Record<string, unknown>;
  expect(body).toMatchObject({ type: `urn:hookmesh:problem:${type}`, status });
  expect(typeof body.title).toBe('string');
  return body;
}

describe('POST /v1/events — accepting', () => {
  it('answers 202 with the ids and writes event, integration event and delivery', async () => {
    mesh = await createTestMesh();
    const res = await mesh.post(orderCreated('evt-1'));
    expect(res.status).toBe(202);
    const body = (await res.json()) as { id: string; integrationEvents: { id: string; type: string }[] };
    expect(body.id).toBe('evt-1');
    expect(body.integrationEvents).toEqual([{ id: expect.any(String), type: 'order.created.v1' }]);
    expect(await rows()).toEqual({ events: 1, integration: 1, deliveries: 1 });
  });

  it('gives an event without an id one of its own', async () => {
    mesh = await createTestMesh();
    const { id: _, ...event } = orderCreated('x');
    const res = await mesh.post(event);
    expect(res.status).toBe(202);
    const body = (await res.json()) as { id: string };
    expect(body.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers a copy with the same body 200 and the same answer, writing nothing', async () => {
    mesh = await createTestMesh();
    const first = await (await mesh.post(orderCreated('evt-1'))).json();
    const event = orderCreated('evt-1');
    // Same meaning, keys in another order.
    const reordered = {
      data: { order: { currency: 'EUR', total: 42.5, customerId: 'c-1', id: 'o-evt-1' } },
      type: event.type,
      id: event.id,
    };
    for (const copy of [event, reordered]) {
      const res = await mesh.post(copy);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual(first);
    }
    expect(await rows()).toEqual({ events: 1, integration: 1, deliveries: 1 });
  });

  it('answers 409 for the same id with another body, or from another producer, writing nothing', async () => {
    mesh = await createTestMesh();
    await mesh.post(orderCreated('evt-1'));
    await expectProblem(
      await mesh.post(orderCreated('evt-1', { occurredAt: '2026-01-01T00:00:00Z' })),
      409,
      'conflict',
    );
    const changed = orderCreated('evt-1');
    changed.data.order.total = 43;
    await expectProblem(await mesh.post(changed), 409, 'conflict');
    await expectProblem(
      await mesh.post(orderCreated('evt-1'), { token: OTHER_PRODUCER_TOKEN }),
      409,
      'conflict',
    );
    expect(await rows()).toEqual({ events: 1, integration: 1, deliveries: 1 });
  });

  it('a "__proto__" member counts in the comparison: 409 when only it differs, 200 when it is the same', async () => {
    mesh = await createTestMesh();
    // Raw text: an object literal's `__proto__` sets a prototype, JSON's is an ordinary member.
    const raw = (metadata: string) =>
      `{"id":"evt-p","type":"OrderCreated","data":{"order":{"id":"o-1","customerId":"c-1","total":1,"currency":"EUR"}},"metadata":${metadata}}`;
    const first = await mesh.post(undefined, { raw: raw('{"tags":{"__proto__":{"admin":true}},"a":1}') });
    expect(first.status).toBe(202);
    for (const other of [
      '{"tags":{"__proto__":{"admin":false}},"a":1}',
      '{"tags":{},"a":1}',
      '{"tags":{"__proto__":{"admin":true}},"a":1,"__proto__":{"a":2}}',
    ]) {
      await expectProblem(await mesh.post(undefined, { raw: raw(other) }), 409, 'conflict');
    }
    const same = await mesh.post(undefined, { raw: raw('{"a":1,"tags":{"__proto__":{"admin":true}}}') });
    expect(same.status).toBe(200);
    expect(await rows()).toEqual({ events: 1, integration: 1, deliveries: 1 });
    // What was stored is what was sent, `__proto__` member included.
    expect(await (await mesh.get('/v1/events/evt-p')).text()).toContain(
      '"tags":{"__proto__":{"admin":true}}',
    );
  });

  it('takes the Idempotency-Key header as the id of a single event', async () => {
    mesh = await createTestMesh();
    const { id: _, ...event } = orderCreated('x');
    const res = await mesh.post(event, { headers: { 'idempotency-key': 'key-1' } });
    expect(res.status).toBe(202);
    expect(((await res.json()) as { id: string }).id).toBe('key-1');
    const again = await mesh.post(event, { headers: { 'idempotency-key': 'key-1' } });
    expect(again.status).toBe(200);
    // The same id in body and header is fine; different ones are refused.
    expect(
      (await mesh.post({ ...event, id: 'key-1' }, { headers: { 'idempotency-key': 'key-1' } })).status,
    ).toBe(200);
    const body = await expectProblem(
      await mesh.post(orderCreated('key-2'), { headers: { 'idempotency-key': 'key-3' } }),
      400,
      'invalid-event',
    );
    expect(body.issues).toEqual([{ path: '/id', message: expect.stringContaining('Idempotency-Key') }]);
    await expectProblem(
      await mesh.post([orderCreated('a')], { headers: { 'idempotency-key': 'k' } }),
      400,
      'invalid-event',
    );
    expect(await rows()).toEqual({ events: 1, integration: 1, deliveries: 1 });
  });

  it('accepts an array all or nothing, answering each event', async () => {
    mesh = await createTestMesh();
    const res = await mesh.post([
      orderCreated('a'),
      orderCreated('b'),
      { id: 'c', type: 'OrderPaid', data: { orderId: 'o', amount: 1, paidAt: '2026-11-30T12:00:00Z' } },
    ]);
    expect(res.status).toBe(202);
    const body = (await res.json()) as { events: { id: string; integrationEvents: { type: string }[] }[] };
    expect(body.events.map((e) => [e.id, e.integrationEvents.map((ie) => ie.type)])).toEqual([
      ['a', ['order.created.v1']],
      ['b', ['order.created.v1']],
      ['c', ['order.paid.v1']],
    ]);
    expect(await rows()).toEqual({ events: 3, integration: 3, deliveries: 3 });

    // Every event there already: 200; some new: 202 with all answered.
    const again = await mesh.post([orderCreated('a'), orderCreated('b')]);
    expect(again.status).toBe(200);
    const mixed = await mesh.post([orderCreated('a'), orderCreated('d')]);
    expect(mixed.status).toBe(202);
    expect(((await mixed.json()) as { events: { id: string }[] }).events.map((e) => e.id)).toEqual([
      'a',
      'd',
    ]);
    expect(await rows()).toEqual({ events: 4, integration: 4, deliveries: 4 });
  });

  it('writes nothing of an array when one event is invalid, unknown or conflicting', async () => {
    mesh = await createTestMesh();
    await mesh.post(orderCreated('a'));
    const bad = orderCreated('y');
    bad.data.order.currency = 'euro';
    const body = await expectProblem(await mesh.post([orderCreated('x'), bad]), 400, 'invalid-event');
    expect(body.issues).toEqual([
      { path: '/1/data/order/currency', message: expect.stringContaining('ISO 4217') },
    ]);
    await expectProblem(
      await mesh.post([orderCreated('x'), { id: 'z', type: 'OrderShipped', data: {} }]),
      422,
      'unknown-event-type',
    );
    await expectProblem(
      await mesh.post([orderCreated('x'), orderCreated('a', { occurredAt: '2026-01-01T00:00:00Z' })]),
      409,
      'conflict',
    );
    await expectProblem(await mesh.post([orderCreated('x'), orderCreated('x')]), 400, 'invalid-event');
    await expectProblem(await mesh.post([]), 400, 'invalid-event');
    await expectProblem(
      await mesh.post(Array.from({ length: 101 }, (_, i) => orderCreated(`n${i}`))),
      400,
      'invalid-event',
    );
    expect(await rows()).toEqual({ events: 1, integration: 1, deliveries: 1 });
    expect((await mesh.post(Array.from({ length: 100 }, (_, i) => orderCreated(`n${i}`)))).status).toBe(202);
    expect(await rows()).toEqual({ events: 101, integration: 101, deliveries: 101 });
  });

  it('creates one delivery per matching subscription, exact or prefix.*, and none without a match', async () => {
    const Noted = defineDomainEvent('Noted', v.object({ text: v.string() }));
    const NotedV1 = defineIntegrationEvent('order.noted.v1', v.object({ text: v.string() }));
    const Silent = defineDomainEvent('Silent', v.object({}));
    mesh = await createTestMesh({
      definitions: {
        domainEvents: [Silent],
        converters: [
          defineConverter(Noted, NotedV1, (e) => [{ text: e.data.text }, { text: `${e.data.text}!` }]),
        ],
        subscriptions: [
          defineSubscription('order.*', 'https://audit.example.com/all'),
          defineSubscription(NotedV1, 'https://notes.example.com/hook'),
          defineSubscription('invoice.*', 'https://billing.example.com/hook'),
        ],
      },
    });
    const res = await mesh.post({ id: 'n1', type: 'Noted', data: { text: 'hi' } });
    expect(res.status).toBe(202);
    expect(((await res.json()) as { integrationEvents: unknown[] }).integrationEvents).toHaveLength(2);
    expect(await rows()).toEqual({ events: 1, integration: 2, deliveries: 4 });
    expect((await mesh.post({ id: 's1', type: 'Silent', data: {} })).status).toBe(202);
    expect(await rows()).toEqual({ events: 2, integration: 2, deliveries: 4 });
  });
});

describe('POST /v1/events — refusing', () => {
  it('400 with the valibot issues (path + message) for invalid data', async () => {
    mesh = await createTestMesh();
    const body = await expectProblem(
      await mesh.post({
        id: 'e',
        type: 'OrderCreated',
        data: { order: { id: 'o', total: 'x', currency: 'EUR' } },
      }),
      400,
      'invalid-event',
    );
    expect(body.issues).toEqual([
      { path: '/data/order/customerId', message: expect.any(String) },
      { path: '/data/order/total', message: expect.stringContaining('number') },
    ]);
    expect(await rows()).toEqual({ events: 0, integration: 0, deliveries: 0 });
  });

  it('400 for malformed JSON, bad ids, unknown fields and bad timestamps', async () => {
    mesh = await createTestMesh();
    await expectProblem(await mesh.post(null, { raw: '{"id": "e", ' }), 400, 'malformed-json');
    await expectProblem(await mesh.post(null, { raw: '"just a string"' }), 400, 'invalid-event');
    for (const id of ['', 'x'.repeat(201), 'tab\there', 'nul\u0000', 7]) {
      await expectProblem(await mesh.post(orderCreated('x', { id })), 400, 'invalid-event');
    }
    // A lone surrogate is valid JSON but not valid Unicode.
    await expectProblem(
      await mesh.post(null, {
        raw: JSON.stringify(orderCreated('PLACEHOLDER')).replace('PLACEHOLDER', '\\ud800'),
      }),
      400,
      'invalid-event',
    );
    await expectProblem(await mesh.post(orderCreated('x', { extra: 1 })), 400, 'invalid-event');
    await expectProblem(
      await mesh.post(orderCreated('x', { occurredAt: 'yesterday' })),
      400,
      'invalid-event',
    );
    await expectProblem(await mesh.post(orderCreated('x', { metadata: [1] })), 400, 'invalid-event');
    expect((await mesh.post(orderCreated('x'.repeat(200)))).status).toBe(202);
    expect((await mesh.post(orderCreated('ünïcødé-✓'))).status).toBe(202);
    expect(await rows()).toMatchObject({ events: 2 });
  });

  it('422 for an unknown domain event type', async () => {
    mesh = await createTestMesh();
    const body = await expectProblem(
      await mesh.post({ id: 'e', type: 'OrderShipped', data: {} }),
      422,
      'unknown-event-type',
    );
    expect(body.detail).toContain('OrderShipped');
    expect(await rows()).toEqual({ events: 0, integration: 0, deliveries: 0 });
  });

  it('415 for a body that is not JSON', async () => {
    mesh = await createTestMesh();
    await expectProblem(
      await mesh.post(null, { raw: 'id=e', headers: { 'content-type': 'text/plain' } }),
      415,
      'unsupported-media-type',
    );
    await expectProblem(
      await mesh.app.request('/v1/events', {
        method: 'POST',
        headers: { authorization: 'Bearer billing-token-0123456789abcdef' },
        body: '{}',
      }),
      415,
      'unsupported-media-type',
    );
    expect(
      (
        await mesh.post(orderCreated('ok'), {
          headers: { 'content-type': 'application/json; charset=utf-8' },
        })
      ).status,
    ).toBe(202);
  });

  it('413 for a body over the limit, by header or by bytes streamed', async () => {
    mesh = await createTestMesh();
    const big = orderCreated('big', { metadata: { pad: 'x'.repeat(256 * 1024) } });
    await expectProblem(await mesh.post(big), 413, 'payload-too-large');
    const bytes = new TextEncoder().encode(JSON.stringify(big));
    // In one chunk, and in chunks each under the limit that only together exceed it.
    await expectProblem(await postStreamed([bytes]), 413, 'payload-too-large');
    const third = Math.ceil(bytes.byteLength / 3);
    await expectProblem(
      await postStreamed([
        bytes.subarray(0, third),
        bytes.subarray(third, 2 * third),
        bytes.subarray(2 * third),
      ]),
      413,
      'payload-too-large',
    );
    expect(await rows()).toEqual({ events: 0, integration: 0, deliveries: 0 });
  });

  it('reads a body of unknown length (chunked) across its chunks, a character split between two', async () => {
    mesh = await createTestMesh();
    const event = orderCreated('streamed', { metadata: { note: 'crème brûlée €' } });
    const bytes = new TextEncoder().encode(JSON.stringify(event));
    // Cut inside the euro sign's three bytes: decoding must see the whole body, not each chunk.
    const cut = bytes.lastIndexOf(0xe2) + 1;
    const res = await postStreamed([bytes.subarray(0, cut), bytes.subarray(cut)]);
    expect(res.status).toBe(202);
    expect(await rows()).toEqual({ events: 1, integration: 1, deliveries: 1 });
    const stored = await mesh.app.request('/v1/events/streamed', {
      headers: { authorization: 'Bearer billing-token-0123456789abcdef' },
    });
    expect(((await stored.json()) as { metadata: unknown }).metadata).toEqual({ note: 'crème brûlée €' });
    await expectProblem(
      await postStreamed([new TextEncoder().encode('{"id": "x", ')]),
      400,
      'malformed-json',
    );
  });

  it('401 without a valid producer token, 403 for the admin token', async () => {
    mesh = await createTestMesh();
    const none = await mesh.post(orderCreated('e'), { token: null });
    await expectProblem(none, 401, 'unauthorized');
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    await expectProblem(
      await mesh.post(orderCreated('e'), { token: 'billing-token-0123456789abcdeX' }),
      401,
      'unauthorized',
    );
    await expectProblem(
      await mesh.post(orderCreated('e'), { headers: { authorization: 'Basic Zm9vOmJhcg==' }, token: null }),
      401,
      'unauthorized',
    );
    await expectProblem(await mesh.post(orderCreated('e'), { token: ADMIN_TOKEN }), 403, 'forbidden');
    expect(await rows()).toEqual({ events: 0, integration: 0, deliveries: 0 });
  });

  it('429 with Retry-After past capacity, and serves again once below it', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    mesh = await createTestMesh({
      maxInFlight: 3,
      wrapEvents: (store): EventStore => ({
        ...store,
        appendEvents: async (events) => {
          await gate;
          return store.appendEvents(events);
        },
      }),
    });
    const held = [1, 2, 3].map((i) => mesh.post(orderCreated(`held-${i}`)));
    // Let the three held requests reach the store.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const refused = await mesh.post(orderCreated('one-too-many'));
    await expectProblem(refused, 429, 'too-many-requests');
    expect(refused.headers.get('retry-after')).toBe('1');
    release();
    expect((await Promise.all(held)).map((r) => r.status)).toEqual([202, 202, 202]);
    expect((await mesh.post(orderCreated('after'))).status).toBe(202);
    expect(await rows()).toMatchObject({ events: 4 });
  });
});

describe('POST /v1/events — atomicity', () => {
  const Boom = defineDomainEvent('Boom', v.object({ mode: v.picklist(['throw', 'invalid', 'fine']) }));
  const BoomV1 = defineIntegrationEvent('boom.happened.v1', v.object({ n: v.number() }));
  const definitions = {
    converters: [
      defineConverter(Boom, BoomV1, () => ({ n: 1 }), { name: 'first' }),
      defineConverter(Boom, BoomV1, (e) => {
        if (e.data.mode === 'throw') throw new Error('converter failed');
        return { n: e.data.mode === 'invalid' ? ('one' as unknown as number) : 2 };
      }),
    ],
    subscriptions: [defineSubscription(BoomV1, 'https://example.com/boom')],
  };

  it('a converter that throws or returns an invalid payload → 500 and nothing written', async () => {
    mesh = await createTestMesh({ definitions });
    const thrown = await expectProblem(
      await mesh.post({ id: 'b1', type: 'Boom', data: { mode: 'throw' } }),
      500,
      'conversion-failed',
    );
    expect(thrown.detail).toContain('nothing was written');
    await expectProblem(
      await mesh.post({ id: 'b2', type: 'Boom', data: { mode: 'invalid' } }),
      500,
      'conversion-failed',
    );
    await expectProblem(
      await mesh.post([
        { id: 'b3', type: 'Boom', data: { mode: 'fine' } },
        { id: 'b4', type: 'Boom', data: { mode: 'throw' } },
      ]),
      500,
      'conversion-failed',
    );
    expect(await rows()).toEqual({ events: 0, integration: 0, deliveries: 0 });
    expect((await mesh.post({ id: 'b5', type: 'Boom', data: { mode: 'fine' } })).status).toBe(202);
    expect(await rows()).toEqual({ events: 1, integration: 2, deliveries: 2 });
  });

  it('a failure inside the write transaction → 5xx and nothing written', async () => {
    let fail = false;
    mesh = await createTestMesh({
      wrapDriver: (driver) => {
        // The real transaction, with one more statement that fails after every insert ran — a
        // batch, or the statements before a query (`queryAfter`, a process's first write).
        const failing = (statements: readonly SqlStatement[]) =>
          fail ? [...statements, { sql: 'INSERT INTO no_such_table VALUES (1)', args: [] }] : statements;
        const { queryAfter } = driver;
        return {
          ...driver,
          batch: (statements) => driver.batch(failing(statements)),
          ...(queryAfter
            ? {
                queryAfter: (statements, sql, args) =>
                  queryAfter.call(driver, failing(statements), sql, args),
              }
            : {}),
        };
      },
    });
    fail = true;
    const res = await mesh.post([orderCreated('w1'), orderCreated('w2')]);
    expect(res.status).toBeGreaterThanOrEqual(500);
    expect(await rows()).toEqual({ events: 0, integration: 0, deliveries: 0 });
    fail = false;
    expect((await mesh.post([orderCreated('w1'), orderCreated('w2')])).status).toBe(202);
    expect(await rows()).toEqual({ events: 2, integration: 2, deliveries: 2 });
  });

  it('50 concurrent POSTs of one id → one event, one delivery per subscription, answers that agree', async () => {
    mesh = await createTestMesh();
    const responses = await Promise.all(Array.from({ length: 50 }, () => mesh.post(orderCreated('same'))));
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 202)).toHaveLength(1);
    expect(statuses.filter((s) => s === 200)).toHaveLength(49);
    const bodies = await Promise.all(responses.map((r) => r.json()));
    for (const body of bodies) expect(body).toEqual(bodies[0]);
    expect(await rows()).toEqual({ events: 1, integration: 1, deliveries: 1 });
  });

  it('50 concurrent POSTs of one id with different bodies → one accepted, the rest 200 or 409 by body', async () => {
    mesh = await createTestMesh();
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        mesh.post(orderCreated('same', { occurredAt: `2026-11-30T12:00:0${i % 2}Z` })),
      ),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 202)).toHaveLength(1);
    expect(statuses.filter((s) => s === 200)).toHaveLength(24);
    expect(statuses.filter((s) => s === 409)).toHaveLength(25);
    expect(await rows()).toEqual({ events: 1, integration: 1, deliveries: 1 });
  });
});

describe('GET /v1/events/:id', () => {
  it('shows the producer its event with integration events, deliveries and attempts', async () => {
    mesh = await createTestMesh();
    const posted = (await (
      await mesh.post(orderCreated('e1', { occurredAt: '2026-11-30T11:59:00Z', metadata: { trace: 't' } }))
    ).json()) as {
      integrationEvents: { id: string }[];
    };
    const res = await mesh.get('/v1/events/e1');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      id: 'e1',
      type: 'OrderCreated',
      source: 'billing',
      receivedAt: '2026-11-30T12:00:00.000Z',
      occurredAt: '2026-11-30T11:59:00Z',
      data: { order: { id: 'o-e1', customerId: 'c-1', total: 42.5, currency: 'EUR' } },
      metadata: { trace: 't' },
      integrationEvents: [
        {
          id: posted.integrationEvents[0]!.id,
          type: 'order.created.v1',
          source: '/producers/billing',
          time: '2026-11-30T11:59:00Z',
          data: { orderId: 'o-e1', customerId: 'c-1', total: 42.5, currency: 'EUR' },
          orderingKey: 'o-e1',
          deliveries: [
            {
              id: expect.any(String),
              subscriptionId: 'example-billing',
              url: 'http://127.0.0.1:9/webhooks/order.created.v1',
              status: 'pending',
              nextAttemptAt: '2026-11-30T12:00:00.000Z',
              attempts: [],
            },
          ],
        },
      ],
    });
  });

  it('shows the producer attempt numbers, times, statuses and durations, not response excerpts or error texts; the admin sees all', async () => {
    mesh = await createTestMesh();
    await mesh.post(orderCreated('e1'));
    const [leased] = await mesh.dispatch.leaseDue({
      owner: 'w',
      now: mesh.clock.now(),
      leaseMs: 30_000,
      limit: 10,
    });
    const at = mesh.clock.now();
    await mesh.dispatch.recordAttempts([
      {
        deliveryId: leased!.id,
        owner: 'w',
        number: 1,
        at,
        status: 500,
        durationMs: 12,
        error: null,
        responseExcerpt: 'stack trace of the billing service, db at 10.0.0.5',
        next: 'retrying',
        nextAttemptAt: at + 1000,
        retried: 1,
      },
    ]);
    mesh.clock.set(at + 1000);
    const [again] = await mesh.dispatch.leaseDue({
      owner: 'w',
      now: mesh.clock.now(),
      leaseMs: 30_000,
      limit: 10,
    });
    await mesh.dispatch.recordAttempts([
      {
        deliveryId: again!.id,
        owner: 'w',
        number: 2,
        at: at + 1000,
        status: null,
        durationMs: 3,
        error: 'connect ECONNREFUSED 10.0.0.7:443',
        responseExcerpt: null,
        next: 'retrying',
        nextAttemptAt: at + 5000,
        retried: 2,
      },
    ]);
    const attemptsOf = async (token?: string) => {
      const res = await mesh.get('/v1/events/e1', token);
      expect(res.status).toBe(200);
      const body = (await res.json()) as {
        integrationEvents: { deliveries: { status: string; attempts: unknown[] }[] }[];
      };
      return body.integrationEvents[0]!.deliveries[0]!;
    };

    const seenByProducer = await attemptsOf();
    expect(seenByProducer.status).toBe('retrying');
    expect(seenByProducer.attempts).toEqual([
      {
        number: 1,
        at: '2026-11-30T12:00:00.000Z',
        status: 500,
        durationMs: 12,
        error: null,
        responseExcerpt: null,
      },
      {
        number: 2,
        at: '2026-11-30T12:00:01.000Z',
        status: null,
        durationMs: 3,
        error: null,
        responseExcerpt: null,
      },
    ]);
    expect(JSON.stringify(seenByProducer)).not.toMatch(/10\.0\.0|ECONNREFUSED|stack trace/);

    expect((await attemptsOf(ADMIN_TOKEN)).attempts).toEqual([
      expect.objectContaining({
        number: 1,
        error: null,
        responseExcerpt: 'stack trace of the billing service, db at 10.0.0.5',
      }),
      expect.objectContaining({
        number: 2,
        error: 'connect ECONNREFUSED 10.0.0.7:443',
        responseExcerpt: null,
      }),
    ]);
  });

  it('404 for another producer or an unknown id; the admin sees every event', async () => {
    mesh = await createTestMesh();
    await mesh.post(orderCreated('e1'));
    await expectProblem(await mesh.get('/v1/events/e1', OTHER_PRODUCER_TOKEN), 404, 'not-found');
    await expectProblem(await mesh.get('/v1/events/nope'), 404, 'not-found');
    expect((await mesh.get('/v1/events/e1', ADMIN_TOKEN)).status).toBe(200);
    await expectProblem(await mesh.get('/v1/events/e1', null), 401, 'unauthorized');
  });
});

describe('GET /healthz and the rest', () => {
  it('answers 200 when the database answers', async () => {
    mesh = await createTestMesh();
    const res = await mesh.get('/healthz', null);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('unknown routes are problems too', async () => {
    mesh = await createTestMesh();
    await expectProblem(await mesh.get('/v1/nothing', null), 404, 'not-found');
  });
});

describe('GET /healthz before migrations', () => {
  it('answers 503 until the mesh says it is ready', async () => {
    const { createApi } = await import('../../src/api/app.ts');
    const { createRegistry } = await import('../../src/core/registry.ts');
    mesh = await createTestMesh();
    let ready = false;
    const app = createApi({
      registry: createRegistry({}),
      events: mesh.events,
      clock: mesh.clock,
      newId: () => 'id',
      tokens: { producers: [], admin: null },
      subscriptions: mesh.subscriptions,
      deliveries: mesh.deliveries,
      urlRules: { requireHttps: false, allowPrivateNetwork: true },
      ready: async () => ready,
    });
    expect((await app.request('/healthz')).status).toBe(503);
    ready = true;
    expect((await app.request('/healthz')).status).toBe(200);
  });
});

describe('POST /v1/events — notBefore', () => {
  const DAY = 86_400_000;
  const iso = (ms: number) => new Date(ms).toISOString();

  it('400 with the path /notBefore past 7 days ahead or when not RFC 3339; 7 days exactly passes', async () => {
    mesh = await createTestMesh();
    const now = mesh.clock.now();
    for (const notBefore of [iso(now + 7 * DAY + 1), iso(now + 365 * DAY), 'tomorrow', 1_800_000_000]) {
      const body = await expectProblem(
        await mesh.post(orderCreated('x', { notBefore })),
        400,
        'invalid-event',
      );
      expect(body.issues).toEqual([{ path: '/notBefore', message: expect.any(String) }]);
    }
    const inArray = await expectProblem(
      await mesh.post([orderCreated('a'), orderCreated('b', { notBefore: iso(now + 8 * DAY) })]),
      400,
      'invalid-event',
    );
    expect(inArray.issues).toEqual([
      { path: '/1/notBefore', message: 'notBefore must be at most 7 days ahead' },
    ]);
    expect(await rows()).toEqual({ events: 0, integration: 0, deliveries: 0 });

    expect((await mesh.post(orderCreated('week', { notBefore: iso(now + 7 * DAY) }))).status).toBe(202);
    // An offset is RFC 3339 too; the instant is what counts.
    const offset = '2026-12-01T14:00:00+02:00';
    expect((await mesh.post(orderCreated('offset', { notBefore: offset }))).status).toBe(202);
    const view = (await (await mesh.get('/v1/events/offset')).json()) as {
      integrationEvents: { deliveries: { nextAttemptAt: string }[] }[];
    };
    expect(view.integrationEvents[0]!.deliveries[0]!.nextAttemptAt).toBe('2026-12-01T12:00:00.000Z');
  });

  it('takes part in the idempotency comparison: same instant 200, another or none 409', async () => {
    mesh = await createTestMesh();
    const at = mesh.clock.now() + DAY;
    expect((await mesh.post(orderCreated('e', { notBefore: iso(at) }))).status).toBe(202);
    // A copy a day later: its notBefore has passed, and it is still the same event.
    mesh.clock.advance(2 * DAY);
    expect((await mesh.post(orderCreated('e', { notBefore: iso(at) }))).status).toBe(200);
    await expectProblem(await mesh.post(orderCreated('e', { notBefore: iso(at + 1) })), 409, 'conflict');
    await expectProblem(await mesh.post(orderCreated('e')), 409, 'conflict');
    expect((await mesh.post(orderCreated('f'))).status).toBe(202);
    await expectProblem(await mesh.post(orderCreated('f', { notBefore: iso(at) })), 409, 'conflict');
    expect(await rows()).toMatchObject({ events: 2 });
  });
});
