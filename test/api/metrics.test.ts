import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { createApi } from '../../src/api/app.ts';
import { createManualClock } from '../../src/core/clock.ts';
import type { HttpSender } from '../../src/core/http-sender.ts';
import { createIdGenerator } from '../../src/core/ids.ts';
import { createMeshMetrics } from '../../src/core/metrics.ts';
import { PROMETHEUS_CONTENT_TYPE } from '../../src/core/metrics-text.ts';
import { createRegistry } from '../../src/core/registry.ts';
import { defaultRetryDelayMs } from '../../src/core/retry-policy.ts';
import { signQStashJwt } from '../../src/core/signature.ts';
import { defineSubscription } from '../../src/core/subscription.ts';
import { OrderCreatedV1, orderConverters } from '../../src/example/orders.ts';
import { readConfig } from '../../src/runtime/config.ts';
import { createLocalMesh, type LocalMesh } from '../../src/runtime/local-mesh.ts';
import { readMigrations } from '../../src/runtime/migrations.ts';
import { resolveSecrets } from '../../src/runtime/secrets.ts';
import { type LibsqlDatabase, openLibsql } from '../../src/store/libsql-store.ts';
import { applyMigrations } from '../../src/store/migrate.ts';
import { createSqlStores, type SqlStores } from '../../src/store/sql-stores.ts';

interface ParsedFamily {
  name: string;
  help: string;
  type: string;
  metrics: {
    value?: string;
    labels?: Record<string, string>;
    buckets?: Record<string, string>;
    count?: string;
    sum?: string;
  }[];
}
// A real Prometheus text-format parser (ported from the Python client's), not a regex of ours.
const parsePrometheus = createRequire(import.meta.url)('parse-prometheus-text-format') as (
  text: string,
) => ParsedFamily[];

const PRODUCER = 'billing-token-0123456789abcdef';
const ADMIN = 'admin-token-0123456789abcdef';
const SCRAPER = 'metrics-token-0123456789abcdef';
const SIGNING_KEY = 'sig_current_0123456789abcdef';
const START = Date.UTC(2026, 0, 15, 12);

const databases: LibsqlDatabase[] = [];
const meshes: LocalMesh[] = [];
afterEach(async () => {
  for (const m of meshes.splice(0)) await m.stop();
  for (const d of databases.splice(0)) await d.driver.close();
});

async function openStores(): Promise<SqlStores> {
  const database = await openLibsql({ url: ':memory:' });
  databases.push(database);
  await applyMigrations(database.driver, readMigrations());
  return createSqlStores(database);
}

/** Handlers at ok.test answer 200; those at down.test 500. */
const send: HttpSender = async (request) => ({
  status: new URL(request.url).hostname === 'ok.test' ? 200 : 500,
  headers: {},
  excerpt: '',
});

/**
 * The mesh as Node and Deno run it (`createLocalMesh`: API, local dispatcher, wiring), on an
 * in-memory database and a manual clock. Its dispatcher does not poll: the test runs it.
 */
async function startMesh(env: Record<string, string> = {}) {
  const clock = createManualClock(START);
  const config = readConfig(
    {
      HOOKMESH_PRODUCER_TOKENS: `billing:${PRODUCER}`,
      HOOKMESH_ADMIN_TOKEN: ADMIN,
      QSTASH_CURRENT_SIGNING_KEY: SIGNING_KEY,
      HOOKMESH_RETENTION_DAYS: '0',
      ...env,
    },
    { transport: 'local' },
  );
  const mesh = await createLocalMesh({
    config,
    secrets: resolveSecrets(config, null),
    publicUrl: 'http://mesh.test',
    stores: await openStores(),
    inbox: null,
    definitions: {
      converters: orderConverters,
      subscriptions: [
        defineSubscription(OrderCreatedV1, 'http://ok.test/hook', { id: 'sub-ok' }),
        defineSubscription(OrderCreatedV1, 'http://down.test/hook', { id: 'sub-down', retries: 1 }),
      ],
    },
    handlers: [],
    send,
    clock,
    log: () => {},
    owner: 'metrics-test',
  });
  meshes.push(mesh);
  // Stop the poll; `runOnce` still attempts what is due, at the clock's time.
  await mesh.dispatcher?.stop();
  const request = (path: string, token: string | null, init: RequestInit = {}) =>
    Promise.resolve(
      mesh.fetch(
        new Request(`http://mesh.test${path}`, {
          ...init,
          headers: {
            ...(token === null ? {} : { authorization: `Bearer ${token}` }),
            ...(init.body ? { 'content-type': 'application/json' } : {}),
          },
        }),
      ),
    );
  const post = (body: unknown) =>
    request('/v1/events', PRODUCER, { method: 'POST', body: JSON.stringify(body) });
  const scrape = async (token = ADMIN) => {
    const res = await request('/metrics', token);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(PROMETHEUS_CONTENT_TYPE);
    return parsePrometheus(await res.text());
  };
  return { mesh, clock, request, post, scrape };
}

function orderCreated(id: string) {
  return {
    id,
    type: 'OrderCreated',
    data: { order: { id: `o-${id}`, customerId: 'c-1', total: 42.5, currency: 'EUR' } },
  };
}

function family(parsed: ParsedFamily[], name: string): ParsedFamily {
  const found = parsed.find((f) => f.name === name);
  if (!found) throw new Error(`no ${name} in the scrape`);
  return found;
}

/** A labelled family's values by the label's value. */
function byLabel(parsed: ParsedFamily[], name: string, label: string): Record<string, number> {
  return Object.fromEntries(family(parsed, name).metrics.map((m) => [m.labels?.[label], Number(m.value)]));
}

describe('GET /metrics after a run with delivered and dead deliveries', () => {
  it('reports gauges that agree with GET /v1/deliveries and counters of what this process did', async () => {
    const { mesh, clock, request, post, scrape } = await startMesh();
    expect((await post([orderCreated('a'), orderCreated('b')])).status).toBe(202);
    expect((await post(orderCreated('c'))).status).toBe(202);
    // A copy of an accepted event is answered 200 and accepts nothing new.
    expect((await post(orderCreated('c'))).status).toBe(200);

    clock.advance(1500);
    expect(await mesh.dispatcher!.runOnce()).toBe(6); // 3 delivered to ok.test, 3 retrying at down.test
    clock.advance(defaultRetryDelayMs(0) + 1);
    expect(await mesh.dispatcher!.runOnce()).toBe(3); // the one retry each: dead

    const parsed = await scrape();
    for (const f of parsed) expect(f.help).not.toBe('');

    // The store's gauges, against the admin API's own listing.
    const listed = await request('/v1/deliveries?limit=500', ADMIN);
    const { deliveries } = (await listed.json()) as { deliveries: { status: string }[] };
    const expected: Record<string, number> = { pending: 0, in_flight: 0, retrying: 0, delivered: 0, dead: 0 };
    for (const d of deliveries) expected[d.status]!++;
    expect(family(parsed, 'hookmesh_deliveries').type).toBe('GAUGE');
    expect(byLabel(parsed, 'hookmesh_deliveries', 'status')).toEqual(expected);
    expect(expected).toMatchObject({ delivered: 3, dead: 3 });
    expect(family(parsed, 'hookmesh_oldest_due_delivery_seconds').metrics).toEqual([{ value: '0' }]);
    expect(byLabel(parsed, 'hookmesh_subscriptions', 'state')).toEqual({ active: 2, paused: 0 });

    // This process's counters.
    expect(family(parsed, 'hookmesh_events_accepted_total').type).toBe('COUNTER');
    expect(byLabel(parsed, 'hookmesh_events_accepted_total', 'type')).toEqual({
      OrderCreated: 3,
      OrderPaid: 0,
    });
    expect(byLabel(parsed, 'hookmesh_attempts_total', 'outcome')).toEqual({
      delivered: 3,
      retry: 3,
      dead: 3,
    });
    const [duration] = family(parsed, 'hookmesh_attempt_duration_seconds').metrics;
    expect(family(parsed, 'hookmesh_attempt_duration_seconds').type).toBe('HISTOGRAM');
    expect(duration?.count).toBe('9');
    expect(duration?.buckets?.['+Inf']).toBe('9');
    // Accepted at START, delivered 1.5 s later (the fake handler answers at once).
    const [latency] = family(parsed, 'hookmesh_delivery_latency_seconds').metrics;
    expect(latency?.count).toBe('3');
    expect(latency?.buckets?.['1']).toBe('0');
    expect(latency?.buckets?.['2.5']).toBe('3');
    expect(Number(latency?.sum)).toBeGreaterThanOrEqual(4.5);
  });

  it('reports how long the oldest due delivery has waited', async () => {
    const { clock, post, scrape } = await startMesh();
    expect((await post(orderCreated('late'))).status).toBe(202);
    clock.advance(30_000);
    const parsed = await scrape();
    expect(family(parsed, 'hookmesh_oldest_due_delivery_seconds').metrics).toEqual([{ value: '30' }]);
    expect(byLabel(parsed, 'hookmesh_deliveries', 'status')).toMatchObject({ pending: 2, delivered: 0 });
  });
});

describe('GET /metrics tokens', () => {
  it('takes the admin token or the metrics token; refuses none, unknown and producer tokens', async () => {
    const { request, scrape } = await startMesh({ HOOKMESH_METRICS_TOKEN: SCRAPER });
    await scrape(ADMIN);
    await scrape(SCRAPER);
    for (const [token, status] of [
      [null, 401],
      ['not-a-token', 401],
      [`${SCRAPER}x`, 401],
      [PRODUCER, 403],
    ] as const) {
      const res = await request('/metrics', token);
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      if (status === 401) expect(res.headers.get('www-authenticate')).toBe('Bearer');
    }
  });

  it('the metrics token reaches no other route', async () => {
    const { request, post } = await startMesh({ HOOKMESH_METRICS_TOKEN: SCRAPER });
    expect((await post(orderCreated('x'))).status).toBe(202);
    const refused = [
      await request('/v1/deliveries', SCRAPER),
      await request('/v1/subscriptions', SCRAPER),
      await request('/v1/events/x', SCRAPER),
      await request('/v1/events', SCRAPER, { method: 'POST', body: JSON.stringify(orderCreated('y')) }),
      await request('/v1/deliveries/retry', SCRAPER, { method: 'POST', body: '{}' }),
    ];
    for (const res of refused) expect(res.status).toBe(401);
    expect((await request('/v1/deliveries', ADMIN)).status).toBe(200);
  });

  it('without HOOKMESH_METRICS_TOKEN, the admin token alone', async () => {
    const { request, scrape } = await startMesh();
    await scrape(ADMIN);
    expect((await request('/metrics', SCRAPER)).status).toBe(401);
  });

  it('a dispatcher-only process serves /metrics (and /healthz), nothing else', async () => {
    const { request, scrape } = await startMesh({ HOOKMESH_ROLE: 'dispatcher' });
    const parsed = await scrape();
    expect(byLabel(parsed, 'hookmesh_attempts_total', 'outcome')).toEqual({
      delivered: 0,
      retry: 0,
      dead: 0,
    });
    expect((await request('/healthz', null)).status).toBe(200);
    expect((await request('/v1/deliveries', ADMIN)).status).toBe(404);
  });
});

describe('GET /metrics with the QStash transport', () => {
  it('counts each attempt a callback newly records, by outcome; a repeat is not counted', async () => {
    const clock = createManualClock(START);
    const stores = await openStores();
    const registry = createRegistry({
      converters: orderConverters,
      subscriptions: [defineSubscription(OrderCreatedV1, 'https://h.test/hook', { id: 'sub', retries: 1 })],
    });
    await stores.subscriptions.syncCodeSubscriptions(registry.subscriptions, clock.now());
    const callbackUrl = 'https://mesh.test/v1/qstash/callback';
    const metrics = createMeshMetrics();
    const app = createApi({
      registry,
      events: stores.events,
      subscriptions: stores.subscriptions,
      deliveries: stores.deliveries,
      urlRules: { requireHttps: false, allowPrivateNetwork: true },
      tokens: { producers: [{ name: 'billing', token: PRODUCER }], admin: ADMIN },
      clock,
      newId: createIdGenerator(clock),
      qstash: { signingKeys: { current: SIGNING_KEY }, callbackUrl, queue: stores.publish },
      metrics: { store: stores.metrics, process: metrics },
    });
    const accepted = await app.request('/v1/events', {
      method: 'POST',
      headers: { authorization: `Bearer ${PRODUCER}`, 'content-type': 'application/json' },
      body: JSON.stringify([orderCreated('q1'), orderCreated('q2')]),
    });
    expect(accepted.status).toBe(202);
    const leased = await stores.publish.leaseForPublish({
      owner: 'o',
      now: clock.now(),
      leaseMs: 30_000,
      limit: 10,
    });
    expect(leased).toHaveLength(2);
    await stores.publish.markPublished(
      leased.map((d, i) => ({
        deliveryId: d.id,
        owner: 'o',
        generation: d.generation,
        messageId: `msg-${i}`,
        at: clock.now(),
      })),
    );
    const callback = async (messageId: string, status: number, retried: number) => {
      const body = JSON.stringify({ status, retried, maxRetries: 1, sourceMessageId: messageId, body: '' });
      const signature = await signQStashJwt({ key: SIGNING_KEY, url: callbackUrl, body, nowMs: clock.now() });
      const res = await app.request('/v1/qstash/callback', {
        method: 'POST',
        headers: { 'upstash-signature': signature, 'content-type': 'application/json' },
        body,
      });
      expect(res.status).toBe(200);
      return ((await res.json()) as { outcome: string }).outcome;
    };
    expect(await callback('msg-0', 200, 0)).toBe('applied');
    expect(await callback('msg-1', 500, 0)).toBe('applied');
    expect(await callback('msg-1', 500, 0)).toBe('duplicate');
    expect(await callback('msg-1', 500, 1)).toBe('applied');

    const res = await app.request('/metrics', { headers: { authorization: `Bearer ${ADMIN}` } });
    const parsed = parsePrometheus(await res.text());
    expect(byLabel(parsed, 'hookmesh_attempts_total', 'outcome')).toEqual({
      delivered: 1,
      retry: 1,
      dead: 1,
    });
    expect(byLabel(parsed, 'hookmesh_events_accepted_total', 'type')).toEqual({
      OrderCreated: 2,
      OrderPaid: 0,
    });
    expect(byLabel(parsed, 'hookmesh_deliveries', 'status')).toMatchObject({ delivered: 1, dead: 1 });
    // QStash reports neither an attempt's duration nor, here, the acceptance time.
    expect(family(parsed, 'hookmesh_attempt_duration_seconds').metrics[0]?.count).toBe('0');
  });
});
