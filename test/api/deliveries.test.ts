import { afterEach, describe, expect, it } from 'vitest';
import { openLibsql } from '../../src/store/libsql-store.ts';
import { createSqlDeliveryAdminStore } from '../../src/store/sql-delivery-admin-store.ts';
import { deliveryIdIn } from '../../src/store/sql-ids.ts';
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

interface DeliveryJson {
  id: string;
  eventId: string;
  integrationEventId: string;
  type: string;
  subscriptionId: string;
  url: string;
  status: string;
  attempts: number;
  generation: number;
  nextAttemptAt: string | null;
  createdAt: string;
  updatedAt: string;
}

interface PageJson {
  deliveries: DeliveryJson[];
  nextCursor: string | null;
}

const START = Date.UTC(2026, 10, 30, 12, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();

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

async function expectProblem(res: Response, status: number, type: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  const body = (await res.json()) as Json;
  expect(body).toMatchObject({ type: `urn:hookmesh:problem:${type}`, status });
  return body;
}

async function list(query = ''): Promise<PageJson> {
  const res = await call('GET', `/v1/deliveries${query}`);
  expect(res.status).toBe(200);
  return (await res.json()) as PageJson;
}

/** Every delivery, through the API, in its order. */
async function all(query = ''): Promise<DeliveryJson[]> {
  return (await list(`?limit=500${query ? `&${query}` : ''}`)).deliveries;
}

function orderPaid(id: string) {
  return { id, type: 'OrderPaid', data: { orderId: `o-${id}`, amount: 1, paidAt: '2026-11-30T12:00:00Z' } };
}

/** What the dispatcher would leave behind after the last failed attempt (it does not exist yet). */
async function makeDead(id: string) {
  await mesh.db.driver.query(
    `UPDATE deliveries SET status = 'dead', attempts = 11, retried = 10, message_id = 'msg-1',
       lease_owner = 'worker-1', lease_expires_at = ?1, updated_at = ?2 WHERE id = ${deliveryIdIn('?3')}`,
    [START + 30_000, START, id],
  );
}

async function setStatus(id: string, status: string) {
  await mesh.db.driver.query(`UPDATE deliveries SET status = ?1 WHERE id = ${deliveryIdIn('?2')}`, [
    status,
    id,
  ]);
}

async function row(id: string) {
  const [r] = await mesh.db.driver.query(`SELECT * FROM deliveries WHERE id = ${deliveryIdIn('?1')}`, [id]);
  return r!;
}

describe('deliveries — authentication', () => {
  it('401 without a token, 403 with a producer token, on every route', async () => {
    mesh = await createTestMesh();
    await mesh.post(orderCreated('e1'));
    const [d] = await all();
    await makeDead(d!.id);
    const routes: [string, string, unknown?][] = [
      ['GET', '/v1/deliveries'],
      ['POST', `/v1/deliveries/${d!.id}/retry`],
      ['POST', '/v1/deliveries/retry', {}],
    ];
    for (const [method, path, body] of routes) {
      await expectProblem(await call(method, path, body, { token: null }), 401, 'unauthorized');
      expect((await call(method, path, body, { token: 'nope' })).status).toBe(401);
      await expectProblem(await call(method, path, body, { token: PRODUCER_TOKEN }), 403, 'forbidden');
    }
    expect((await row(d!.id)).status).toBe('dead');
  });
});

describe('GET /v1/deliveries', () => {
  it('lists deliveries with their event, type, subscription and state', async () => {
    mesh = await createTestMesh();
    await mesh.post(orderCreated('e1'));
    const page = await list();
    expect(page).toEqual({
      deliveries: [
        {
          id: expect.any(String),
          eventId: 'e1',
          integrationEventId: expect.any(String),
          type: 'order.created.v1',
          subscriptionId: 'example-billing',
          url: 'http://127.0.0.1:9/webhooks/order.created.v1',
          status: 'pending',
          attempts: 0,
          generation: 0,
          orderingKey: 'o-e1',
          nextAttemptAt: iso(START),
          createdAt: iso(START),
          updatedAt: iso(START),
        },
      ],
      nextCursor: null,
    });
    const event = (await (await mesh.get('/v1/events/e1', ADMIN_TOKEN)).json()) as {
      integrationEvents: { id: string; deliveries: { id: string }[] }[];
    };
    expect(page.deliveries[0]!.integrationEventId).toBe(event.integrationEvents[0]!.id);
    expect(page.deliveries[0]!.id).toBe(event.integrationEvents[0]!.deliveries[0]!.id);
  });

  it('filters by status, type (exact or prefix.*), subscription and time range', async () => {
    mesh = await createTestMesh();
    const audit = (await (
      await call('POST', '/v1/subscriptions', { type: 'order.*', url: 'https://audit.example.com/' })
    ).json()) as { id: string };
    await mesh.post(orderCreated('c1')); // t0: billing + audit
    mesh.clock.advance(60_000);
    await mesh.post(orderPaid('p1')); // t1: notifications + audit
    mesh.clock.advance(60_000);
    await mesh.post(orderCreated('c2')); // t2: billing + audit
    const everything = await all();
    expect(everything).toHaveLength(6);
    const key = (d: DeliveryJson) => `${d.eventId}>${d.subscriptionId}`;

    await makeDead(everything.find((d) => d.eventId === 'p1' && d.subscriptionId === audit.id)!.id);
    await setStatus(
      everything.find((d) => d.eventId === 'c1' && d.subscriptionId === 'example-billing')!.id,
      'delivered',
    );

    expect((await all('status=dead')).map(key)).toEqual([`p1>${audit.id}`]);
    expect((await all('status=delivered')).map(key)).toEqual(['c1>example-billing']);
    expect(await all('status=pending')).toHaveLength(4);
    expect(await all('status=retrying')).toEqual([]);
    expect((await all('type=order.paid.v1')).map(key).sort()).toEqual(
      [`p1>${audit.id}`, 'p1>example-notifications'].sort(),
    );
    expect(await all('type=order.*')).toHaveLength(6);
    expect(await all('type=invoice.*')).toEqual([]);
    expect(await all('type=order.created.v2')).toEqual([]);
    expect((await all(`subscription=${audit.id}`)).map((d) => d.eventId)).toEqual(['c1', 'p1', 'c2']);
    expect((await all('subscription=example-notifications')).map((d) => d.eventId)).toEqual(['p1']);
    // since is inclusive, until exclusive.
    expect((await all(`since=${iso(START + 60_000)}`)).map((d) => d.eventId).sort()).toEqual([
      'c2',
      'c2',
      'p1',
      'p1',
    ]);
    expect((await all(`until=${iso(START + 60_000)}`)).map((d) => d.eventId)).toEqual(['c1', 'c1']);
    expect(
      (
        await all(`since=${encodeURIComponent('2026-11-30T13:01:00+01:00')}&until=${iso(START + 120_000)}`)
      ).map((d) => d.eventId),
    ).toEqual(['p1', 'p1']);
    // Filters combine.
    expect(
      (await all(`type=order.created.v1&subscription=${audit.id}&since=${iso(START + 1)}`)).map(key),
    ).toEqual([`c2>${audit.id}`]);
    expect(await all(`status=dead&type=order.created.v1`)).toEqual([]);
  });

  it('pages through cursors in (createdAt, id) order, ending with a null cursor', async () => {
    mesh = await createTestMesh();
    // Ties in createdAt (several events per millisecond) must page as well as distinct times.
    for (let i = 0; i < 25; i++) {
      await mesh.post(orderCreated(`e${i}`));
      if (i % 3 === 0) mesh.clock.advance(1);
    }
    const expected = await all();
    expect(expected).toHaveLength(25);
    const sorted = [...expected].sort((a, b) =>
      a.createdAt === b.createdAt ? (a.id < b.id ? -1 : 1) : a.createdAt < b.createdAt ? -1 : 1,
    );
    expect(expected).toEqual(sorted);

    const pages: PageJson[] = [];
    let cursor: string | null = null;
    do {
      const page = await list(`?limit=10${cursor ? `&cursor=${cursor}` : ''}`);
      pages.push(page);
      cursor = page.nextCursor;
      if (cursor !== null) expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    } while (cursor !== null);
    expect(pages.map((p) => p.deliveries.length)).toEqual([10, 10, 5]);
    expect(pages.flatMap((p) => p.deliveries)).toEqual(expected);

    // Exactly a page's worth left: the page says there is no next one.
    const twenty = await list(`?limit=20&cursor=${pages[0]!.nextCursor}`);
    expect(twenty.deliveries).toHaveLength(15);
    expect(twenty.nextCursor).toBeNull();
    const exact = await list('?limit=25');
    expect(exact.nextCursor).toBeNull();
    // The default page is 100.
    expect((await list()).deliveries).toHaveLength(25);

    // Cursors combine with filters.
    await mesh.post([orderPaid('p1'), orderPaid('p2'), orderPaid('p3')]);
    const first = await list('?type=order.paid.v1&limit=2');
    expect(first.deliveries.map((d) => d.type)).toEqual(['order.paid.v1', 'order.paid.v1']);
    const second = await list(`?type=order.paid.v1&limit=2&cursor=${first.nextCursor}`);
    expect(second.deliveries).toHaveLength(1);
    expect(second.nextCursor).toBeNull();
    expect([...first.deliveries, ...second.deliveries].map((d) => d.eventId).sort()).toEqual([
      'p1',
      'p2',
      'p3',
    ]);
  });

  it('400 with issues for an invalid query', async () => {
    mesh = await createTestMesh();
    const cases: [string, string][] = [
      ['status=lost', '/status'],
      ['type=Order', '/type'],
      ['type=*', '/type'],
      ['subscription=', '/subscription'],
      ['since=yesterday', '/since'],
      ['since=2026-02-31T00:00:00Z', '/since'],
      ['since=2026-11-30', '/since'],
      ['until=1796040000000', '/until'],
      [`since=${iso(START + 1)}&until=${iso(START)}`, '/until'],
      ['limit=0', '/limit'],
      ['limit=501', '/limit'],
      ['limit=ten', '/limit'],
      ['limit=1.5', '/limit'],
      ['limit=-1', '/limit'],
      ['cursor=not-a-cursor', '/cursor'],
      [`cursor=${btoa('["x","y"]')}`, '/cursor'],
      ['cursor=%F0%9F%98%80', '/cursor'],
      ['status=dead&status=pending', '/status'],
      ['subscriptionId=example-billing', '/subscriptionId'],
    ];
    for (const [query, path] of cases) {
      const problem = await expectProblem(await call('GET', `/v1/deliveries?${query}`), 400, 'bad-request');
      expect(problem.issues, query).toEqual([{ path, message: expect.any(String) }]);
    }
    expect((await list('?limit=500')).deliveries).toEqual([]);
    expect((await list('?limit=1')).deliveries).toEqual([]);
  });
});

describe('POST /v1/deliveries/:id/retry', () => {
  it('replays a dead delivery as a new generation, once; again is 200 unchanged', async () => {
    mesh = await createTestMesh();
    await mesh.post(orderCreated('e1'));
    const [d] = await all();
    await makeDead(d!.id);
    expect((await all('status=dead')).map((x) => x.id)).toEqual([d!.id]);
    mesh.clock.advance(3_600_000);
    const now = START + 3_600_000;

    const res = await call('POST', `/v1/deliveries/${d!.id}/retry`);
    expect(res.status).toBe(202);
    const { delivery } = (await res.json()) as { delivery: DeliveryJson };
    expect(delivery).toEqual({
      ...d,
      status: 'pending',
      attempts: 11,
      generation: 1,
      nextAttemptAt: iso(now),
      updatedAt: iso(now),
    });
    expect(await row(d!.id)).toMatchObject({
      status: 'pending',
      generation: 1,
      retried: 0,
      attempts: 11,
      next_attempt_at: now,
      message_id: null,
      lease_owner: null,
      lease_expires_at: null,
      updated_at: now,
    });

    mesh.clock.advance(1_000);
    const again = await call('POST', `/v1/deliveries/${d!.id}/retry`);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ delivery });
    expect(await row(d!.id)).toMatchObject({ generation: 1, updated_at: now });

    // In flight or retrying: also left alone.
    for (const status of ['in_flight', 'retrying']) {
      await setStatus(d!.id, status);
      const res = await call('POST', `/v1/deliveries/${d!.id}/retry`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { delivery: DeliveryJson }).delivery).toMatchObject({
        status,
        generation: 1,
      });
    }

    // Dead again after the second generation: a replay makes the third.
    await makeDead(d!.id);
    expect((await call('POST', `/v1/deliveries/${d!.id}/retry`)).status).toBe(202);
    expect(await row(d!.id)).toMatchObject({ status: 'pending', generation: 2 });
  });

  it('409 for a delivered one, 404 for an unknown one', async () => {
    mesh = await createTestMesh();
    await mesh.post(orderCreated('e1'));
    const [d] = await all();
    await setStatus(d!.id, 'delivered');
    const problem = await expectProblem(await call('POST', `/v1/deliveries/${d!.id}/retry`), 409, 'conflict');
    expect(problem.detail).toContain('delivered');
    expect(await row(d!.id)).toMatchObject({ status: 'delivered', generation: 0 });
    await expectProblem(await call('POST', '/v1/deliveries/nope/retry'), 404, 'not-found');
  });

  it('concurrent replays of one delivery bump its generation once', async () => {
    mesh = await createTestMesh();
    await mesh.post(orderCreated('e1'));
    const [d] = await all();
    await makeDead(d!.id);
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => call('POST', `/v1/deliveries/${d!.id}/retry`)),
    );
    expect(answers.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 202]);
    expect(await row(d!.id)).toMatchObject({ status: 'pending', generation: 1 });
  });

  it('replays once when two processes (two connections to the file) race', async () => {
    mesh = await createTestMesh();
    await mesh.post(orderCreated('e1'));
    const [d] = await all();
    await makeDead(d!.id);
    const other = await openLibsql({ url: mesh.db.url });
    try {
      const otherStore = createSqlDeliveryAdminStore({ driver: other.driver });
      const [api, direct] = await Promise.all([
        Promise.all(Array.from({ length: 5 }, () => call('POST', `/v1/deliveries/${d!.id}/retry`))),
        Promise.all(Array.from({ length: 5 }, () => otherStore.replayDelivery(d!.id, START + 1))),
      ]);
      const replayed =
        api.filter((r) => r.status === 202).length + direct.filter((r) => r.outcome === 'replayed').length;
      expect(replayed).toBe(1);
      expect(direct.every((r) => r.outcome === 'replayed' || r.outcome === 'unchanged')).toBe(true);
      expect(await row(d!.id)).toMatchObject({ status: 'pending', generation: 1 });
    } finally {
      other.client.close();
    }
  });
});

describe('POST /v1/deliveries/retry', () => {
  it('replays every dead delivery matching the filter, and answers how many', async () => {
    mesh = await createTestMesh();
    for (let i = 0; i < 3; i++) await mesh.post(orderCreated(`c${i}`));
    mesh.clock.advance(60_000);
    for (let i = 0; i < 2; i++) await mesh.post(orderPaid(`p${i}`));
    await mesh.post(orderCreated('c-alive'));
    for (const d of await all()) if (d.eventId !== 'c-alive') await makeDead(d.id);
    await setStatus((await all())[0]!.id, 'delivered'); // c-something delivered: not replayed
    const deadCreated = (await all('status=dead&type=order.created.v1')).length;
    expect(deadCreated).toBe(2);

    mesh.clock.advance(1_000);
    const res = await call('POST', '/v1/deliveries/retry', { type: 'order.created.v1' });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ replayed: 2 });
    expect(await all('status=dead&type=order.created.v1')).toEqual([]);
    expect(await all('status=dead&type=order.paid.v1')).toHaveLength(2);
    for (const d of await all('type=order.created.v1&status=pending')) {
      expect(d.generation).toBe(d.eventId === 'c-alive' ? 0 : 1);
    }
    expect((await all('status=delivered')).map((d) => d.generation)).toEqual([0]);

    // Idempotent: nothing dead is left of that type.
    const again = await call('POST', '/v1/deliveries/retry', { type: 'order.created.v1', status: 'dead' });
    expect(again.status).toBe(202);
    expect(await again.json()).toEqual({ replayed: 0 });

    // By prefix, with a time range that excludes nothing here.
    const byPrefix = await call('POST', '/v1/deliveries/retry', { type: 'order.*', since: iso(START) });
    expect(await byPrefix.json()).toEqual({ replayed: 2 });
    expect(await all('status=dead')).toEqual([]);
    const rows = await mesh.db.driver.query(
      'SELECT DISTINCT retried, message_id, lease_owner FROM deliveries WHERE generation = 1',
    );
    expect(rows).toEqual([expect.objectContaining({ retried: 0, message_id: null, lease_owner: null })]);
  });

  it('filters by subscription and time range; {} replays every dead delivery', async () => {
    mesh = await createTestMesh();
    await mesh.post(orderCreated('c0'));
    mesh.clock.advance(60_000);
    await mesh.post(orderCreated('c1'));
    await mesh.post(orderPaid('p0'));
    for (const d of await all()) await makeDead(d.id);

    const replay = async (filter: Json) =>
      ((await (await call('POST', '/v1/deliveries/retry', filter)).json()) as { replayed: number }).replayed;
    expect(await replay({ subscription: 'nobody' })).toBe(0);
    expect(await replay({ until: iso(START) })).toBe(0);
    expect(await replay({ subscription: 'example-billing', until: iso(START + 60_000) })).toBe(1);
    expect((await all('status=dead')).map((d) => d.eventId).sort()).toEqual(['c1', 'p0']);
    expect(await replay({ subscription: 'example-notifications' })).toBe(1);
    expect(await replay({})).toBe(1);
    expect(await all('status=dead')).toEqual([]);
  });

  it('refuses invalid filters (400), non-JSON (415) and malformed JSON (400), replaying nothing', async () => {
    mesh = await createTestMesh();
    await mesh.post(orderCreated('c0'));
    const [d] = await all();
    await makeDead(d!.id);
    const cases: [unknown, string][] = [
      [{ status: 'pending' }, '/status'],
      [{ type: 'Order' }, '/type'],
      [{ since: 'today' }, '/since'],
      [{ since: iso(START + 1), until: iso(START) }, '/until'],
      [{ subscriptionId: 'example-billing' }, '/subscriptionId'],
      [{ limit: 10 }, '/limit'],
      [[], ''],
      ['dead', ''],
    ];
    for (const [body, path] of cases) {
      const problem = await expectProblem(
        await call('POST', '/v1/deliveries/retry', body),
        400,
        'bad-request',
      );
      expect(problem.issues, JSON.stringify(body)).toEqual([{ path, message: expect.any(String) }]);
    }
    await expectProblem(
      await call('POST', '/v1/deliveries/retry', {}, { contentType: 'text/plain' }),
      415,
      'unsupported-media-type',
    );
    await expectProblem(await call('POST', '/v1/deliveries/retry'), 415, 'unsupported-media-type');
    await expectProblem(
      await call('POST', '/v1/deliveries/retry', undefined, { raw: '{"type":' }),
      400,
      'malformed-json',
    );
    expect((await row(d!.id)).status).toBe('dead');
  });
});

describe('DELETE /v1/deliveries?status=dead&until=', () => {
  it('purges dead deliveries accepted before until, and their event once nothing of it remains', async () => {
    mesh = await createTestMesh();
    await mesh.post(orderCreated('old'));
    mesh.clock.advance(60_000);
    await mesh.post(orderCreated('new'));
    await mesh.post(orderCreated('pending'));
    const byEvent = new Map((await all()).map((d) => [d.eventId, d] as const));
    const oldDelivery = byEvent.get('old');
    const newDelivery = byEvent.get('new');
    await makeDead(oldDelivery!.id);
    await makeDead(newDelivery!.id);
    await mesh.db.driver.query(
      `INSERT INTO attempts (delivery_id, number, at, status, duration_ms) VALUES (${deliveryIdIn('?1')}, 1, ?2, 500, 3)`,
      [oldDelivery!.id, START],
    );

    const until = encodeURIComponent(iso(START + 1000));
    await expectProblem(
      await call('DELETE', `/v1/deliveries?status=dead&until=${until}`, undefined, { token: PRODUCER_TOKEN }),
      403,
      'forbidden',
    );
    const res = await call('DELETE', `/v1/deliveries?status=dead&until=${until}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ purged: 1, more: false });

    expect((await all()).map((d) => [d.eventId, d.status]).sort()).toEqual([
      ['new', 'dead'],
      ['pending', 'pending'],
    ]);
    expect((await mesh.get('/v1/events/old', ADMIN_TOKEN)).status).toBe(404);
    expect(await mesh.db.count('attempts')).toBe(0);
    // The id is free again; again within the window nothing more goes.
    expect((await mesh.post(orderCreated('old'))).status).toBe(202);
    expect(await (await call('DELETE', `/v1/deliveries?status=dead&until=${until}`)).json()).toEqual({
      purged: 0,
      more: false,
    });
  });

  it('refuses other statuses and a missing or malformed until (400 problem+json)', async () => {
    mesh = await createTestMesh();
    for (const [query, path] of [
      ['status=pending&until=2026-11-30T12:00:00Z', '/status'],
      ['status=delivered&until=2026-11-30T12:00:00Z', '/status'],
      ['until=2026-11-30T12:00:00Z', '/status'],
      ['status=dead', '/until'],
      ['status=dead&until=yesterday', '/until'],
      ['status=dead&until=2026-11-30T12:00:00Z&type=order.*', '/type'],
    ] as const) {
      const body = await expectProblem(await call('DELETE', `/v1/deliveries?${query}`), 400, 'bad-request');
      expect(JSON.stringify(body)).toContain(path);
    }
  });
});
