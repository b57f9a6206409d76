import { afterEach, describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN,
  createTestMesh,
  orderCreated,
  PRODUCER_TOKEN,
  type TestMesh,
} from '../support/test-mesh.ts';

let mesh: TestMesh;
afterEach(async () => {
  await mesh?.dispose();
});

type Json = Record<string, unknown>;

interface SubscriptionJson {
  id: string;
  type: string;
  url: string;
  retries: number;
  retryDelay: string | null;
  origin: 'code' | 'api';
  createdAt: string;
  updatedAt: string;
}

/** An admin request; a body is sent as JSON unless `raw` or another content type is given. */
function call(
  method: string,
  path: string,
  body?: unknown,
  init: { token?: string | null; raw?: string; contentType?: string | null } = {},
): Promise<Response> {
  const headers: Record<string, string> = {};
  const token = init.token === undefined ? ADMIN_TOKEN : init.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const contentType = init.contentType === undefined ? 'application/json' : init.contentType;
  const hasBody = body !== undefined || init.raw !== undefined;
  if (hasBody && contentType !== null) headers['content-type'] = contentType;
  return Promise.resolve(
    mesh.app.request(path, {
      method,
      headers,
      ...(hasBody ? { body: init.raw ?? JSON.stringify(body) } : {}),
    }),
  );
}

async function create(body: Json): Promise<SubscriptionJson> {
  const res = await call('POST', '/v1/subscriptions', body);
  expect(res.status).toBe(201);
  return (await res.json()) as SubscriptionJson;
}

async function expectProblem(res: Response, status: number, type: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  const body = (await res.json()) as Json;
  expect(body).toMatchObject({ type: `urn:hookmesh:problem:${type}`, status });
  return body;
}

/** Deliveries of one event, as `GET /v1/events/:id` lists them. */
async function deliveriesOf(eventId: string) {
  const res = await mesh.get(`/v1/events/${eventId}`, ADMIN_TOKEN);
  expect(res.status).toBe(200);
  const body = (await res.json()) as {
    integrationEvents: { type: string; deliveries: { subscriptionId: string; url: string }[] }[];
  };
  return body.integrationEvents.flatMap((ie) =>
    ie.deliveries.map((d) => ({ type: ie.type, subscriptionId: d.subscriptionId, url: d.url })),
  );
}

const NOW = '2026-11-30T12:00:00.000Z';

describe('subscriptions — authentication', () => {
  it('401 without a token, 403 with a producer token, on every route', async () => {
    mesh = await createTestMesh();
    const routes: [string, string, unknown?][] = [
      ['GET', '/v1/subscriptions'],
      ['POST', '/v1/subscriptions', { type: 'order.created.v1', url: 'https://example.com/hook' }],
      ['GET', '/v1/subscriptions/example-billing'],
      ['PATCH', '/v1/subscriptions/example-billing', { retries: 1 }],
      ['DELETE', '/v1/subscriptions/example-billing'],
    ];
    for (const [method, path, body] of routes) {
      const none = await expectProblem(await call(method, path, body, { token: null }), 401, 'unauthorized');
      expect(none.detail).toBeTypeOf('string');
      expect((await call(method, path, body, { token: 'wrong-token' })).status).toBe(401);
      await expectProblem(await call(method, path, body, { token: PRODUCER_TOKEN }), 403, 'forbidden');
    }
    expect(await mesh.db.count("subscriptions WHERE origin = 'api'")).toBe(0);
  });
});

describe('POST /v1/subscriptions', () => {
  it('answers 201 with Location and the subscription, with the default policy', async () => {
    mesh = await createTestMesh();
    const res = await call('POST', '/v1/subscriptions', {
      type: 'order.created.v1',
      url: 'https://example.com/hook',
    });
    expect(res.status).toBe(201);
    const body = (await res.json()) as SubscriptionJson;
    expect(body).toEqual({
      id: expect.stringMatching(/^sub_[0-9a-f-]{36}$/),
      type: 'order.created.v1',
      url: 'https://example.com/hook',
      retries: 10,
      retryDelay: null,
      origin: 'api',
      maxConcurrency: 16,
      pauseAfter: 50,
      paused: false,
      pausedReason: null,
      pausedAt: null,
      filter: null,
      createdAt: NOW,
      updatedAt: NOW,
    });
    expect(res.headers.get('location')).toBe(`/v1/subscriptions/${body.id}`);
    const fetched = await call('GET', res.headers.get('location')!);
    expect(fetched.status).toBe(200);
    expect(await fetched.json()).toEqual(body);
  });

  it('takes retries and a retryDelay expression, and stores the URL as WHATWG serialises it', async () => {
    mesh = await createTestMesh();
    const body = await create({
      type: 'order.*',
      url: 'https://EXAMPLE.com:443/a/../hook?x=1',
      retries: 0,
      retryDelay: 'pow(2, retried) * 1000',
    });
    expect(body).toMatchObject({
      type: 'order.*',
      url: 'https://example.com/hook?x=1',
      retries: 0,
      retryDelay: 'pow(2, retried) * 1000',
    });
    expect((await create({ type: 'order.paid.v1', url: 'http://x.example/', retries: 20 })).retries).toBe(20);
    expect(
      (await create({ type: 'order.paid.v1', url: 'http://x.example/', retryDelay: null })).retryDelay,
    ).toBeNull();
  });

  it('400 with issues (JSON pointer + message) for invalid bodies, writing nothing', async () => {
    mesh = await createTestMesh();
    const cases: [unknown, string, string | RegExp][] = [
      [{ url: 'https://example.com/' }, '/type', /type/i],
      [{ type: 'Order.Created', url: 'https://example.com/' }, '/type', 'prefix.*'],
      [{ type: 'order.created', url: 'https://example.com/' }, '/type', 'prefix.*'],
      [{ type: '*', url: 'https://example.com/' }, '/type', 'prefix.*'],
      [{ type: 'order.*.v1', url: 'https://example.com/' }, '/type', 'prefix.*'],
      [{ type: 'order.created.v1' }, '/url', /url/i],
      [{ type: 'order.created.v1', url: '/relative' }, '/url', 'absolute'],
      [{ type: 'order.created.v1', url: 'ftp://example.com/' }, '/url', 'http or https'],
      [{ type: 'order.created.v1', url: 'https://user:pw@example.com/' }, '/url', 'credentials'],
      [{ type: 'order.created.v1', url: `https://example.com/${'x'.repeat(2048)}` }, '/url', '2048'],
      [{ type: 'order.created.v1', url: 'https://example.com/', retries: 21 }, '/retries', '0 to 20'],
      [{ type: 'order.created.v1', url: 'https://example.com/', retries: -1 }, '/retries', '0 to 20'],
      [{ type: 'order.created.v1', url: 'https://example.com/', retries: 1.5 }, '/retries', 'integer'],
      [{ type: 'order.created.v1', url: 'https://example.com/', retries: '3' }, '/retries', 'number'],
      [
        { type: 'order.created.v1', url: 'https://example.com/', retryDelay: 'process.exit()' },
        '/retryDelay',
        'unknown identifier "process"',
      ],
      [
        { type: 'order.created.v1', url: 'https://example.com/', retryDelay: 'pow(2)' },
        '/retryDelay',
        'takes 2 arguments',
      ],
      [{ type: 'order.created.v1', url: 'https://example.com/', retryDelay: '' }, '/retryDelay', 'empty'],
      [{ type: 'order.created.v1', url: 'https://example.com/', retryDelay: 1000 }, '/retryDelay', 'string'],
      [{ type: 'order.created.v1', url: 'https://example.com/', origin: 'code' }, '/origin', /./],
      [{ type: 'order.created.v1', url: 'https://example.com/', id: 'mine' }, '/id', /./],
    ];
    for (const [body, path, message] of cases) {
      const problem = await expectProblem(await call('POST', '/v1/subscriptions', body), 400, 'bad-request');
      const issues = problem.issues as { path: string; message: string }[];
      expect(issues, JSON.stringify(body)).toContainEqual({
        path,
        message:
          typeof message === 'string' ? expect.stringContaining(message) : expect.stringMatching(message),
      });
    }
    for (const body of [[], 'a string', 42, null]) {
      const problem = await expectProblem(await call('POST', '/v1/subscriptions', body), 400, 'bad-request');
      expect(problem.issues).toEqual([{ path: '', message: expect.any(String) }]);
    }
    expect(await mesh.db.count("subscriptions WHERE origin = 'api'")).toBe(0);
  });

  it('415 when the body is not JSON, 400 when it is malformed', async () => {
    mesh = await createTestMesh();
    const body = { type: 'order.created.v1', url: 'https://example.com/hook' };
    await expectProblem(
      await call('POST', '/v1/subscriptions', body, { contentType: null }),
      415,
      'unsupported-media-type',
    );
    await expectProblem(
      await call('POST', '/v1/subscriptions', body, { contentType: 'text/plain' }),
      415,
      'unsupported-media-type',
    );
    await expectProblem(
      await call('POST', '/v1/subscriptions', undefined, { raw: '{"type": ' }),
      400,
      'malformed-json',
    );
    await expectProblem(
      await call('POST', '/v1/subscriptions', undefined, {
        raw: JSON.stringify({ ...body, pad: 'x'.repeat(70_000) }),
      }),
      413,
      'payload-too-large',
    );
    expect(await mesh.db.count("subscriptions WHERE origin = 'api'")).toBe(0);
  });
});

describe('subscription URL rules (DESIGN "Trust")', () => {
  const refused = [
    'http://127.0.0.1/',
    'https://127.0.0.1/',
    'https://2130706433/',
    'https://0x7f000001/',
    'https://0177.0.0.1/',
    'https://127.1/',
    'https://[::1]/',
    'https://[::ffff:127.0.0.1]/',
    'https://169.254.169.254/',
    'https://10.0.0.1/',
    'https://192.168.1.1/',
    'https://[fd00:ec2::254]/',
    'https://localhost/',
    'https://api.localhost/',
    'https://metadata.google.internal/',
  ];

  it('in production: https only, and no loopback, private, link-local or metadata address in any spelling', async () => {
    mesh = await createTestMesh({ urlRules: { requireHttps: true, allowPrivateNetwork: false } });
    const http = await expectProblem(
      await call('POST', '/v1/subscriptions', { type: 'order.created.v1', url: 'http://example.com/hook' }),
      400,
      'bad-request',
    );
    expect(http.issues).toEqual([{ path: '/url', message: 'URL must use https' }]);
    for (const url of refused) {
      const problem = await expectProblem(
        await call('POST', '/v1/subscriptions', { type: 'order.created.v1', url }),
        400,
        'bad-request',
      );
      expect(problem.issues, url).toEqual([
        { path: '/url', message: expect.stringMatching(/https|loopback/) },
      ]);
    }
    expect(await mesh.db.count("subscriptions WHERE origin = 'api'")).toBe(0);
    const ok = await create({ type: 'order.created.v1', url: 'https://example.com/hook' });
    expect(ok.url).toBe('https://example.com/hook');

    // A PATCH is held to the same rules.
    const patched = await expectProblem(
      await call('PATCH', `/v1/subscriptions/${ok.id}`, { url: 'https://0x7f000001/' }),
      400,
      'bad-request',
    );
    expect(patched.issues).toEqual([{ path: '/url', message: expect.stringContaining('loopback') }]);
    expect(((await (await call('GET', `/v1/subscriptions/${ok.id}`)).json()) as SubscriptionJson).url).toBe(
      'https://example.com/hook',
    );
  });

  it('https required but the private network allowed: only plain http is refused', async () => {
    mesh = await createTestMesh({ urlRules: { requireHttps: true, allowPrivateNetwork: true } });
    await expectProblem(
      await call('POST', '/v1/subscriptions', { type: 'order.created.v1', url: 'http://10.0.0.1/' }),
      400,
      'bad-request',
    );
    expect((await create({ type: 'order.created.v1', url: 'https://10.0.0.1/' })).url).toBe(
      'https://10.0.0.1/',
    );
  });

  it('in development (the default rules): http and private addresses are accepted', async () => {
    mesh = await createTestMesh();
    for (const url of ['http://127.0.0.1:9/hook', 'http://localhost:3000/hook', 'https://[::1]/']) {
      expect((await call('POST', '/v1/subscriptions', { type: 'order.created.v1', url })).status).toBe(201);
    }
  });
});

describe('GET /v1/subscriptions', () => {
  it('lists code-declared and API-created subscriptions by creation time, with their origin', async () => {
    mesh = await createTestMesh();
    mesh.clock.advance(1_000);
    const a = await create({ type: 'order.created.v1', url: 'https://a.example.com/' });
    mesh.clock.advance(1_000);
    const b = await create({ type: 'order.*', url: 'https://b.example.com/' });
    const res = await call('GET', '/v1/subscriptions');
    expect(res.status).toBe(200);
    const { subscriptions } = (await res.json()) as { subscriptions: SubscriptionJson[] };
    expect(subscriptions.map((s) => [s.id, s.origin])).toEqual([
      ['example-billing', 'code'],
      ['example-notifications', 'code'],
      [a.id, 'api'],
      [b.id, 'api'],
    ]);
    expect(subscriptions[0]).toEqual({
      id: 'example-billing',
      type: 'order.created.v1',
      url: 'http://127.0.0.1:9/webhooks/order.created.v1',
      retries: 10,
      retryDelay: null,
      origin: 'code',
      maxConcurrency: 16,
      pauseAfter: 50,
      paused: false,
      pausedReason: null,
      pausedAt: null,
      filter: null,
      createdAt: NOW,
      updatedAt: NOW,
    });
    expect(subscriptions[3]).toEqual(b);
  });

  it('filters by ?type= (the exact type or pattern), and refuses a bad one', async () => {
    mesh = await createTestMesh();
    const prefix = await create({ type: 'order.*', url: 'https://b.example.com/' });
    const exact = await create({ type: 'order.created.v1', url: 'https://a.example.com/' });
    const list = async (query: string) =>
      (
        (await (await call('GET', `/v1/subscriptions${query}`)).json()) as {
          subscriptions: SubscriptionJson[];
        }
      ).subscriptions.map((s) => s.id);
    expect(await list('?type=order.created.v1')).toEqual(['example-billing', exact.id]);
    expect(await list('?type=order.*')).toEqual([prefix.id]);
    expect(await list('?type=invoice.paid.v1')).toEqual([]);
    await expectProblem(await call('GET', '/v1/subscriptions?type=Nope'), 400, 'bad-request');
    await expectProblem(await call('GET', '/v1/subscriptions?typo=order.*'), 400, 'bad-request');
  });

  it('404 for an unknown id', async () => {
    mesh = await createTestMesh();
    await expectProblem(await call('GET', '/v1/subscriptions/sub_nope'), 404, 'not-found');
  });
});

describe('PATCH /v1/subscriptions/:id', () => {
  it('400 for a retryDelay with a control character, on create and on change (DESIGN "Hardening rules")', async () => {
    mesh = await createTestMesh();
    const sub = await create({ type: 'order.created.v1', url: 'https://a.example.com/', retryDelay: '1000' });
    for (const retryDelay of ['pow(2, retried)\n* 1000', '1000\t', '1000\r\n+1', '1000\u0000']) {
      const created = await expectProblem(
        await call('POST', '/v1/subscriptions', {
          type: 'order.created.v1',
          url: 'https://b.example.com/',
          retryDelay,
        }),
        400,
        'bad-request',
      );
      expect(created.issues).toEqual([
        { path: '/retryDelay', message: expect.stringContaining('control character') },
      ]);
      const changed = await expectProblem(
        await call('PATCH', `/v1/subscriptions/${sub.id}`, { retryDelay }),
        400,
        'bad-request',
      );
      expect(changed.issues).toEqual([
        { path: '/retryDelay', message: expect.stringContaining('control character') },
      ]);
    }
    expect(await mesh.db.count("subscriptions WHERE origin = 'api'")).toBe(1);
    expect(await (await call('GET', `/v1/subscriptions/${sub.id}`)).json()).toMatchObject({
      retryDelay: '1000',
    });
  });

  it('changes the given fields only, validated as on create', async () => {
    mesh = await createTestMesh();
    const sub = await create({
      type: 'order.created.v1',
      url: 'https://a.example.com/',
      retries: 3,
      retryDelay: '1000',
    });
    mesh.clock.advance(60_000);
    const res = await call('PATCH', `/v1/subscriptions/${sub.id}`, {
      url: 'https://b.example.com/x',
      retries: 5,
    });
    expect(res.status).toBe(200);
    const updated = (await res.json()) as SubscriptionJson;
    expect(updated).toEqual({
      ...sub,
      url: 'https://b.example.com/x',
      retries: 5,
      updatedAt: '2026-11-30T12:01:00.000Z',
    });
    expect(await (await call('GET', `/v1/subscriptions/${sub.id}`)).json()).toEqual(updated);

    const cleared = await call('PATCH', `/v1/subscriptions/${sub.id}`, { retryDelay: null, type: 'order.*' });
    expect(await cleared.json()).toMatchObject({ retryDelay: null, type: 'order.*', retries: 5 });

    for (const [body, path] of [
      [{ retries: 99 }, '/retries'],
      [{ retryDelay: 'retried +' }, '/retryDelay'],
      [{ type: 'nope' }, '/type'],
      [{ url: 'mailto:x@example.com' }, '/url'],
      [{ origin: 'code' }, '/origin'],
      [{}, ''],
    ] as const) {
      const problem = await expectProblem(
        await call('PATCH', `/v1/subscriptions/${sub.id}`, body),
        400,
        'bad-request',
      );
      expect(problem.issues).toEqual([{ path, message: expect.any(String) }]);
    }
    await expectProblem(
      await call('PATCH', `/v1/subscriptions/${sub.id}`, { retries: 1 }, { contentType: 'text/plain' }),
      415,
      'unsupported-media-type',
    );
    await expectProblem(
      await call('PATCH', `/v1/subscriptions/${sub.id}`, undefined, { raw: '{' }),
      400,
      'malformed-json',
    );
    expect(await (await call('GET', `/v1/subscriptions/${sub.id}`)).json()).toMatchObject({
      type: 'order.*',
      retries: 5,
    });
  });

  it('404 for an unknown or deleted subscription; 409 for a code-declared one', async () => {
    mesh = await createTestMesh();
    await expectProblem(await call('PATCH', '/v1/subscriptions/sub_nope', { retries: 1 }), 404, 'not-found');
    const sub = await create({ type: 'order.created.v1', url: 'https://a.example.com/' });
    expect((await call('DELETE', `/v1/subscriptions/${sub.id}`)).status).toBe(204);
    await expectProblem(await call('PATCH', `/v1/subscriptions/${sub.id}`, { retries: 1 }), 404, 'not-found');

    const problem = await expectProblem(
      await call('PATCH', '/v1/subscriptions/example-billing', { url: 'https://evil.example.com/' }),
      409,
      'conflict',
    );
    expect(problem.detail).toContain('declared in code; change it there');
    expect(await (await call('GET', '/v1/subscriptions/example-billing')).json()).toMatchObject({
      url: 'http://127.0.0.1:9/webhooks/order.created.v1',
      origin: 'code',
    });
  });
});

describe('DELETE /v1/subscriptions/:id', () => {
  it('204, then gone from GET and the list; 404 the second time', async () => {
    mesh = await createTestMesh();
    const sub = await create({ type: 'order.created.v1', url: 'https://a.example.com/' });
    const res = await call('DELETE', `/v1/subscriptions/${sub.id}`);
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
    await expectProblem(await call('GET', `/v1/subscriptions/${sub.id}`), 404, 'not-found');
    const list = (await (await call('GET', '/v1/subscriptions')).json()) as {
      subscriptions: SubscriptionJson[];
    };
    expect(list.subscriptions.map((s) => s.id)).not.toContain(sub.id);
    await expectProblem(await call('DELETE', `/v1/subscriptions/${sub.id}`), 404, 'not-found');
    await expectProblem(await call('DELETE', '/v1/subscriptions/sub_nope'), 404, 'not-found');
    // Soft delete: the row stays, for the deliveries that point at it.
    expect(await mesh.db.count('subscriptions WHERE deleted_at IS NOT NULL')).toBe(1);
  });

  it('409 for a code-declared subscription, which keeps receiving', async () => {
    mesh = await createTestMesh();
    const problem = await expectProblem(
      await call('DELETE', '/v1/subscriptions/example-billing'),
      409,
      'conflict',
    );
    expect(problem.detail).toContain('declared in code; change it there');
    expect((await call('GET', '/v1/subscriptions/example-billing')).status).toBe(200);
    expect((await mesh.post(orderCreated('e1'))).status).toBe(202);
    expect(await deliveriesOf('e1')).toEqual([
      {
        type: 'order.created.v1',
        subscriptionId: 'example-billing',
        url: 'http://127.0.0.1:9/webhooks/order.created.v1',
      },
    ]);
  });
});

describe('subscriptions and ingest', () => {
  it('a subscription created through the API applies to events accepted after it, not before', async () => {
    mesh = await createTestMesh();
    expect((await mesh.post(orderCreated('before'))).status).toBe(202);
    const sub = await create({ type: 'order.created.v1', url: 'https://audit.example.com/hook' });
    expect((await mesh.post(orderCreated('after'))).status).toBe(202);

    expect((await deliveriesOf('before')).map((d) => d.subscriptionId)).toEqual(['example-billing']);
    const after = await deliveriesOf('after');
    expect(after).toHaveLength(2);
    expect(after).toContainEqual({
      type: 'order.created.v1',
      subscriptionId: sub.id,
      url: 'https://audit.example.com/hook',
    });
    // The delivery carries the subscription's policy as it was at acceptance.
    const rows = await mesh.db.driver.query(
      `SELECT max_retries, retry_delay FROM deliveries WHERE subscription_ref = (SELECT ref FROM subscription_refs WHERE id = ?)`,
      [sub.id],
    );
    expect(rows).toEqual([expect.objectContaining({ max_retries: 10, retry_delay: null })]);
  });

  it('prefix.* selects every integration type under the prefix', async () => {
    mesh = await createTestMesh();
    const sub = await create({ type: 'order.*', url: 'https://audit.example.com/all', retryDelay: '500' });
    await mesh.post(orderCreated('c1'));
    await mesh.post({
      id: 'p1',
      type: 'OrderPaid',
      data: { orderId: 'o-1', amount: 42.5, paidAt: '2026-11-30T12:00:00Z' },
    });
    expect(await deliveriesOf('c1')).toContainEqual({
      type: 'order.created.v1',
      subscriptionId: sub.id,
      url: 'https://audit.example.com/all',
    });
    expect(await deliveriesOf('p1')).toContainEqual({
      type: 'order.paid.v1',
      subscriptionId: sub.id,
      url: 'https://audit.example.com/all',
    });
    const other = await create({ type: 'invoice.*', url: 'https://audit.example.com/invoices' });
    await mesh.post(orderCreated('c2'));
    expect((await deliveriesOf('c2')).map((d) => d.subscriptionId)).not.toContain(other.id);
  });

  it('a changed subscription applies from then on; accepted deliveries keep their URL', async () => {
    mesh = await createTestMesh();
    const sub = await create({ type: 'order.created.v1', url: 'https://a.example.com/' });
    await mesh.post(orderCreated('e1'));
    await call('PATCH', `/v1/subscriptions/${sub.id}`, { url: 'https://b.example.com/' });
    await mesh.post(orderCreated('e2'));
    await call('PATCH', `/v1/subscriptions/${sub.id}`, { type: 'order.paid.v1' });
    await mesh.post(orderCreated('e3'));
    const urlOf = async (id: string) =>
      (await deliveriesOf(id)).filter((d) => d.subscriptionId === sub.id).map((d) => d.url);
    expect(await urlOf('e1')).toEqual(['https://a.example.com/']);
    expect(await urlOf('e2')).toEqual(['https://b.example.com/']);
    expect(await urlOf('e3')).toEqual([]);
  });

  it('deleting a subscription stops new deliveries and keeps the ones made', async () => {
    mesh = await createTestMesh();
    const sub = await create({ type: 'order.created.v1', url: 'https://a.example.com/' });
    await mesh.post(orderCreated('e1'));
    expect((await call('DELETE', `/v1/subscriptions/${sub.id}`)).status).toBe(204);
    await mesh.post(orderCreated('e2'));
    expect((await deliveriesOf('e1')).map((d) => d.subscriptionId)).toContain(sub.id);
    expect((await deliveriesOf('e2')).map((d) => d.subscriptionId)).toEqual(['example-billing']);
  });
});
