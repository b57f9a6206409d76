import { afterEach, describe, expect, it } from 'vitest';
import { defineSubscription } from '../../src/core/subscription.ts';
import { orderConverters } from '../../src/example/orders.ts';
import { ADMIN_TOKEN, createTestMesh, orderCreated, type TestMesh } from '../support/test-mesh.ts';

// DESIGN "Delivery control", filters, through the admin API: `filter` on POST/PATCH/GET
// /v1/subscriptions, refused with the JSON Pointer of the problem, applied to events accepted after.

let mesh: TestMesh;
afterEach(async () => {
  await mesh?.dispose();
});

type Json = Record<string, unknown>;

function call(method: string, path: string, body?: unknown): Promise<Response> {
  return Promise.resolve(
    mesh.app.request(path, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    }),
  );
}

async function json(res: Response, status: number): Promise<Json> {
  expect(res.status).toBe(status);
  return (await res.json()) as Json;
}

async function expectInvalid(res: Response, paths: string[]) {
  expect(res.status).toBe(400);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  const body = (await res.json()) as { type: string; issues: { path: string; message: string }[] };
  expect(body.type).toBe('urn:hookmesh:problem:bad-request');
  expect(body.issues.map((i) => i.path)).toEqual(paths);
  return body;
}

/** Subscription ids that got a delivery of the event. */
async function deliveredTo(eventId: string): Promise<string[]> {
  const body = (await json(await mesh.get(`/v1/events/${eventId}`, ADMIN_TOKEN), 200)) as {
    integrationEvents: { deliveries: { subscriptionId: string }[] }[];
  };
  return body.integrationEvents.flatMap((ie) => ie.deliveries.map((d) => d.subscriptionId)).sort();
}

const order = (id: string, currency: string, total: number) =>
  orderCreated(id, { data: { order: { id: `o-${id}`, customerId: 'c-1', total, currency } } });

describe('subscription filters through the API', () => {
  it('creates with a filter, answers it on GET and in the list, null when none', async () => {
    mesh = await createTestMesh({ definitions: { converters: orderConverters, subscriptions: [] } });
    const filter = {
      currency: 'EUR',
      total: { $gte: 100 },
      $or: [{ customerId: 'c-1' }, { customerId: 'c-2' }],
    };

    const created = await json(
      await call('POST', '/v1/subscriptions', {
        type: 'order.created.v1',
        url: 'https://a.example.com/',
        filter,
      }),
      201,
    );
    const plain = await json(
      await call('POST', '/v1/subscriptions', { type: 'order.created.v1', url: 'https://b.example.com/' }),
      201,
    );

    expect(created.filter).toEqual(filter);
    expect(plain.filter).toBeNull();
    expect((await json(await call('GET', `/v1/subscriptions/${created.id}`), 200)).filter).toEqual(filter);
    const list = (await json(await call('GET', '/v1/subscriptions'), 200)) as { subscriptions: Json[] };
    expect(Object.fromEntries(list.subscriptions.map((s) => [s.id, s.filter]))).toEqual({
      [String(created.id)]: filter,
      [String(plain.id)]: null,
    });
  });

  it('delivers only the events that match, from the next event on', async () => {
    mesh = await createTestMesh({ definitions: { converters: orderConverters, subscriptions: [] } });
    expect((await mesh.post(order('before', 'USD', 5))).status).toBe(202);
    const big = await json(
      await call('POST', '/v1/subscriptions', {
        type: 'order.*',
        url: 'https://big.example.com/',
        filter: { currency: 'EUR', total: { $gt: 100 } },
      }),
      201,
    );

    for (const [id, currency, total] of [
      ['e1', 'EUR', 150],
      ['e2', 'EUR', 50],
      ['e3', 'USD', 150],
    ] as const) {
      expect((await mesh.post(order(id, currency, total))).status).toBe(202);
    }

    expect(await deliveredTo('e1')).toEqual([big.id]);
    expect(await deliveredTo('e2')).toEqual([]);
    expect(await deliveredTo('e3')).toEqual([]);
  });

  it('changes the filter with PATCH, and removes it with null', async () => {
    mesh = await createTestMesh({ definitions: { converters: orderConverters, subscriptions: [] } });
    const sub = await json(
      await call('POST', '/v1/subscriptions', {
        type: 'order.created.v1',
        url: 'https://a.example.com/',
        filter: { currency: 'EUR' },
      }),
      201,
    );

    const usd = await json(
      await call('PATCH', `/v1/subscriptions/${sub.id}`, { filter: { currency: 'USD' } }),
      200,
    );
    expect(usd.filter).toEqual({ currency: 'USD' });
    await mesh.post(order('usd', 'USD', 1));
    await mesh.post(order('eur', 'EUR', 1));
    const none = await json(await call('PATCH', `/v1/subscriptions/${sub.id}`, { filter: null }), 200);
    expect(none.filter).toBeNull();
    await mesh.post(order('gbp', 'GBP', 1));

    expect(await deliveredTo('usd')).toEqual([sub.id]);
    expect(await deliveredTo('eur')).toEqual([]);
    expect(await deliveredTo('gbp')).toEqual([sub.id]);
  });

  it('refuses an invalid filter with 400 and the JSON Pointer of each problem, creating nothing', async () => {
    mesh = await createTestMesh();
    const post = (filter: unknown) =>
      call('POST', '/v1/subscriptions', { type: 'order.created.v1', url: 'https://a.example.com/', filter });

    const body = await expectInvalid(
      await post({ total: { $gt: true }, customer: { tier: { $like: 'g%' } } }),
      ['/filter/total/$gt', '/filter/customer/tier/$like'],
    );
    expect(body.issues[0]!.message).toMatch(/\$gt takes a finite number or a string/);
    expect(body.issues[1]!.message).toMatch(/unknown operator \$like/);
    await expectInvalid(await post('EUR'), ['/filter']);
    await expectInvalid(await post([{ currency: 'EUR' }]), ['/filter']);
    await expectInvalid(await post({}), ['/filter']);
    await expectInvalid(await post({ $or: [{ a: 1 }, { 'x/y': {} }] }), ['/filter/$or/1/x~1y']);
    const list = (await json(await call('GET', '/v1/subscriptions'), 200)) as { subscriptions: Json[] };
    expect(list.subscriptions.filter((s) => s.origin === 'api')).toEqual([]);
  });

  it('refuses an invalid filter on PATCH, changing nothing', async () => {
    mesh = await createTestMesh();
    const sub = await json(
      await call('POST', '/v1/subscriptions', {
        type: 'order.created.v1',
        url: 'https://a.example.com/',
        filter: { currency: 'EUR' },
      }),
      201,
    );

    await expectInvalid(
      await call('PATCH', `/v1/subscriptions/${sub.id}`, { filter: { total: { $in: 5 } } }),
      ['/filter/total/$in'],
    );
    expect((await json(await call('GET', `/v1/subscriptions/${sub.id}`), 200)).filter).toEqual({
      currency: 'EUR',
    });
  });

  it('shows a code-declared filter, which only the code changes (409)', async () => {
    mesh = await createTestMesh({
      definitions: {
        converters: orderConverters,
        subscriptions: [
          defineSubscription('order.created.v1', 'https://code.example.com/', {
            id: 'eur-only',
            filter: { currency: 'EUR' },
          }),
        ],
      },
    });

    expect((await json(await call('GET', '/v1/subscriptions/eur-only'), 200)).filter).toEqual({
      currency: 'EUR',
    });
    expect((await call('PATCH', '/v1/subscriptions/eur-only', { filter: null })).status).toBe(409);
    await mesh.post(order('eur', 'EUR', 1));
    await mesh.post(order('usd', 'USD', 1));
    expect(await deliveredTo('eur')).toEqual(['eur-only']);
    expect(await deliveredTo('usd')).toEqual([]);
  });

  it('documents filter in /openapi.json, for requests and answers', async () => {
    mesh = await createTestMesh();
    const doc = (await json(await mesh.get('/openapi.json', ADMIN_TOKEN), 200)) as {
      components: { schemas: Record<string, { properties?: Record<string, Json> }> };
    };
    const { schemas } = doc.components;
    for (const name of ['SubscriptionCreate', 'Subscription']) {
      const filter = schemas[name]?.properties?.filter;
      expect(filter, name).toBeDefined();
      expect(JSON.stringify(filter)).toMatch(/\$gte/);
    }
  });
});
