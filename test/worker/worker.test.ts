import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toDeliveryRequest } from '../../src/core/delivery-request.ts';
import type { D1Database } from '../../src/store/d1-driver.ts';
import { buildWorker, type WorkerBundle } from '../../worker/build.ts';
import {
  applyD1Migrations,
  COMPATIBILITY_DATE,
  countRows,
  getD1,
  migratePersistedD1,
} from '../support/d1.ts';

// The bundle `npm run build:worker` makes, run by workerd (miniflare) with a D1 database that
// wrangler's procedure migrated beforehand — the Worker itself never migrates.

const PUBLIC_URL = 'https://hookmesh.example.com';
const PRODUCER_TOKEN = 'billing-token-0123456789abcdef-0123456789';
const ADMIN_TOKEN = 'admin-token-0123456789abcdef-0123456789';
const SIGNING_KEY = 'sig_current_7kYjw48mhY7kAjqNGcy6cr29RJ6r';

const BINDINGS = {
  NODE_ENV: 'production',
  HOOKMESH_PUBLIC_URL: PUBLIC_URL,
  HOOKMESH_TRANSPORT: 'qstash',
  HOOKMESH_PRODUCER_TOKENS: `billing:${PRODUCER_TOKEN}`,
  HOOKMESH_ADMIN_TOKEN: ADMIN_TOKEN,
  QSTASH_TOKEN: 'qstash-token-for-tests',
  // Nothing listens there: these tests are about the API in workerd; publishes fail and stay due (test/worker/worker-qstash.test.ts covers QStash).
  QSTASH_URL: 'http://127.0.0.1:9',
  QSTASH_CURRENT_SIGNING_KEY: SIGNING_KEY,
  QSTASH_NEXT_SIGNING_KEY: 'sig_next_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs',
};

function startWorker(bundle: WorkerBundle, persist: string | false): Miniflare {
  return new Miniflare({
    // An explicit module list, as wrangler hands a bundle to workerd (see TOOLCHAIN.md).
    modules: [{ type: 'ESModule', path: bundle.path }],
    // Module names are paths relative to this root; a bundle outside the cwd needs its own.
    modulesRoot: dirname(bundle.path),
    compatibilityDate: COMPATIBILITY_DATE,
    d1Databases: { DB: 'hookmesh' },
    d1Persist: persist,
    bindings: BINDINGS,
  });
}

interface ScheduledFetcher {
  scheduled(options: { cron: string; scheduledTime: Date }): Promise<{ outcome: string }>;
}

const orderCreated = (id: string) => ({
  id,
  type: 'OrderCreated',
  data: { order: { id: `o-${id}`, customerId: 'c-1', total: 42.5, currency: 'EUR' } },
});

/**
 * A temp dir holding the Worker bundle and, when `migrated`, a persisted D1 migrated as `wrangler
 * d1 migrations apply` would: made before the enclosing describe's tests, removed after them.
 */
function useBuiltWorker(options: { readonly migrated: boolean }): {
  readonly dir: string;
  readonly bundle: WorkerBundle;
} {
  const fixture = { dir: '', bundle: undefined as unknown as WorkerBundle };
  beforeAll(async () => {
    fixture.dir = mkdtempSync(join(tmpdir(), 'hookmesh-worker-'));
    fixture.bundle = await buildWorker({ outfile: join(fixture.dir, 'worker.js') });
    if (options.migrated) await migratePersistedD1(join(fixture.dir, 'd1'));
  }, 60_000);
  afterAll(() => {
    rmSync(fixture.dir, { recursive: true, force: true });
  });
  return fixture;
}

describe('the Worker bundle in workerd (miniflare, D1)', () => {
  let dir: string;
  let bundle: WorkerBundle;
  let mf: Miniflare;
  let d1: D1Database;

  const post = (body: unknown, token: string | null = PRODUCER_TOKEN) =>
    mf.dispatchFetch(`${PUBLIC_URL}/v1/events`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      },
      body: JSON.stringify(body),
    });
  const get = (path: string, token = PRODUCER_TOKEN) =>
    mf.dispatchFetch(`${PUBLIC_URL}${path}`, { headers: { authorization: `Bearer ${token}` } });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hookmesh-worker-'));
    const built = performance.now();
    bundle = await buildWorker({ outfile: join(dir, 'worker.js') });
    const buildMs = performance.now() - built;

    // Migrate first, in a Miniflare of its own over the same persisted D1, as `wrangler d1
    // migrations apply` would before a deploy; the measured start below then finds it ready.
    await migratePersistedD1(join(dir, 'd1'));

    const started = performance.now();
    mf = startWorker(bundle, join(dir, 'd1'));
    await mf.ready;
    const ready = performance.now();
    const first = await mf.dispatchFetch(`${PUBLIC_URL}/healthz`);
    const answered = performance.now();
    expect(first.status).toBe(200);
    await first.arrayBuffer();
    const warmStart = performance.now();
    await (await mf.dispatchFetch(`${PUBLIC_URL}/healthz`)).arrayBuffer();
    const warm = performance.now() - warmStart;
    d1 = await getD1(mf);

    const ms = (n: number) => `${n.toFixed(0)} ms`;
    console.log(
      [
        `worker bundle: ${(bundle.bytes / 1024).toFixed(1)} KiB, gzip ${(bundle.gzipBytes / 1024).toFixed(1)} KiB (built in ${ms(buildMs)})`,
        `cold start, new Miniflare → first /healthz answer: ${ms(answered - started)}`,
        `  of which workerd start (mf.ready): ${ms(ready - started)}; first request (composes the mesh): ${ms(answered - ready)}`,
        `warm /healthz: ${warm.toFixed(1)} ms`,
      ].join('\n'),
    );
  }, 60_000);

  afterAll(async () => {
    await mf?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers /healthz once the database is migrated', async () => {
    const res = await mf.dispatchFetch(`${PUBLIC_URL}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('accepts an event (202), writes it to D1, shows it, and answers a repeat with 200', async () => {
    const res = await post(orderCreated('evt-1'));
    expect(res.status).toBe(202);
    const accepted = (await res.json()) as { id: string; integrationEvents: { id: string; type: string }[] };
    expect(accepted).toMatchObject({ id: 'evt-1', integrationEvents: [{ type: 'order.created.v1' }] });
    expect(await countRows(d1, 'domain_events')).toBe(1);
    expect(await countRows(d1, 'integration_events')).toBe(1);
    expect(await countRows(d1, 'deliveries')).toBe(1);

    const shown = await get('/v1/events/evt-1');
    expect(shown.status).toBe(200);
    expect(await shown.json()).toMatchObject({
      id: 'evt-1',
      type: 'OrderCreated',
      source: 'billing',
      integrationEvents: [
        {
          id: accepted.integrationEvents[0]!.id,
          type: 'order.created.v1',
          deliveries: [
            {
              subscriptionId: 'example-billing',
              url: `${PUBLIC_URL}/webhooks/order.created.v1`,
              status: 'pending',
              attempts: [],
            },
          ],
        },
      ],
    });

    const again = await post(orderCreated('evt-1'));
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual(accepted);
    expect(await countRows(d1, 'domain_events')).toBe(1);
  });

  it('refuses a request without a token (401)', async () => {
    const res = await post(orderCreated('evt-anon'), null);
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    await res.arrayBuffer();
    expect((await d1.prepare("SELECT id FROM domain_events WHERE id = 'evt-anon'").all()).results).toEqual(
      [],
    );
  });

  it('refuses a body over the limit with no Content-Length (as dispatchFetch streams it) with 413, writing nothing', async () => {
    const res = await post({ ...orderCreated('evt-big'), metadata: { pad: 'x'.repeat(256 * 1024) } });
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(await res.json()).toMatchObject({ type: 'urn:hookmesh:problem:payload-too-large', status: 413 });
    expect((await d1.prepare("SELECT id FROM domain_events WHERE id = 'evt-big'").all()).results).toEqual([]);
  });

  it('keeps simultaneous requests apart: each new event in, exactly one copy of a raced id', async () => {
    const fresh = await Promise.all(Array.from({ length: 20 }, (_, i) => post(orderCreated(`par-${i}`))));
    const raced = await Promise.all(Array.from({ length: 10 }, () => post(orderCreated('evt-raced'))));

    expect(fresh.map((r) => r.status)).toEqual(Array(20).fill(202));
    expect(raced.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 202]);
    await Promise.all([...fresh, ...raced].map((r) => r.arrayBuffer()));
    const rows = await d1
      .prepare("SELECT count(*) AS n FROM domain_events WHERE id LIKE 'par-%' OR id = 'evt-raced'")
      .all<{ n: number }>();
    expect(rows.results?.[0]?.n).toBe(21);
  });

  it("runs the example's billing handler, which posts OrderPaid back to the mesh in-process", async () => {
    const url = `${PUBLIC_URL}/webhooks/order.created.v1`;
    const req = await toDeliveryRequest({
      url,
      event: {
        id: 'ie-handler-1',
        type: 'order.created.v1',
        source: '/producers/billing',
        time: '2026-04-26T10:00:00.000Z',
        data: JSON.stringify({ orderId: 'o-9', customerId: 'c-9', total: 12, currency: 'EUR' }),
      },
      traceparent: null,
      retried: 0,
      messageId: 'msg-1',
      signingKey: SIGNING_KEY,
      nowMs: Date.now(),
    });

    const res = await mf.dispatchFetch(url, { method: 'POST', headers: req.headers, body: req.body });

    expect(res.status).toBe(200);
    await res.arrayBuffer();
    const paid = await get('/v1/events/paid-ie-handler-1');
    expect(paid.status).toBe(200);
    expect(await paid.json()).toMatchObject({
      type: 'OrderPaid',
      data: { orderId: 'o-9', amount: 12, paidAt: '2026-04-26T10:00:00.000Z' },
      integrationEvents: [{ type: 'order.paid.v1' }],
    });
    expect(
      (await d1.prepare("SELECT status FROM inbox WHERE event_id = 'ie-handler-1'").all()).results,
    ).toEqual([{ status: 'done' }]);
  });

  it('refuses an unsigned delivery to a handler route (401)', async () => {
    const res = await mf.dispatchFetch(`${PUBLIC_URL}/webhooks/order.created.v1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'ce-id': 'ie-forged' },
      body: '{}',
    });
    expect(res.status).toBe(401);
    await res.arrayBuffer();
  });

  it('runs the cron handler', async () => {
    // miniflare types its Fetcher with @cloudflare/workers-types, which is not installed here.
    const worker = (await mf.getWorker()) as unknown as ScheduledFetcher;
    const result = await worker.scheduled({ cron: '* * * * *', scheduledTime: new Date() });
    expect(result.outcome).toBe('ok');
  });
});

describe('the Worker before wrangler migrated its database', () => {
  const worker = useBuiltWorker({ migrated: false });

  it('never migrates: 503 until every migration is recorded in d1_migrations, then 200', async () => {
    const mf = startWorker(worker.bundle, false);
    const healthz = async () => {
      const res = await mf.dispatchFetch(`${PUBLIC_URL}/healthz`);
      return { status: res.status, body: (await res.json()) as { detail?: string } };
    };
    try {
      const d1 = await getD1(mf);
      const tables = () =>
        d1.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_cf_%'").all();

      expect((await healthz()).status).toBe(503);
      // A producer posting before the migrations ran gets a 503 that says why, not a 500.
      const early = await mf.dispatchFetch(`${PUBLIC_URL}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${PRODUCER_TOKEN}` },
        body: JSON.stringify(orderCreated('evt-early')),
      });
      expect(early.status).toBe(503);
      expect(early.headers.get('retry-after')).toBe('5');
      expect(await early.json()).toMatchObject({
        reason: 'not_migrated',
        detail: expect.stringMatching(/^storage: database not migrated/),
      });
      expect((await tables()).results).toEqual([]);

      // The tables are there, but the record of a migration is not (as if wrangler were midway).
      await applyD1Migrations(d1);
      const [first] = (await d1.prepare('SELECT name FROM d1_migrations ORDER BY id').all<{ name: string }>())
        .results!;
      await d1.prepare('DELETE FROM d1_migrations WHERE name = ?').bind(first!.name).all();
      expect(await healthz()).toMatchObject({
        status: 503,
        body: { detail: 'migrations are not applied yet' },
      });

      await d1.prepare('INSERT INTO d1_migrations (name) VALUES (?)').bind(first!.name).all();
      expect((await healthz()).status).toBe(200);
    } finally {
      await mf.dispose();
    }
  });

  it('refuses to start without a D1 binding or a libSQL URL it can reach over HTTP', async () => {
    const mf = new Miniflare({
      modules: [{ type: 'ESModule', path: worker.bundle.path }],
      modulesRoot: dirname(worker.bundle.path),
      compatibilityDate: COMPATIBILITY_DATE,
      bindings: { ...BINDINGS, DATABASE_URL: 'file:./data/hookmesh.db' },
    });
    try {
      const res = await mf.dispatchFetch(`${PUBLIC_URL}/v1/events/evt-1`, {
        headers: { authorization: `Bearer ${PRODUCER_TOKEN}` },
      });
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ detail: expect.stringMatching(/D1 binding named DB/) });
    } finally {
      await mf.dispose();
    }
  });
});

describe('a fresh isolate and the subscriptions declared in code', () => {
  const worker = useBuiltWorker({ migrated: true });

  it('composes without the database: /healthz syncs nothing, the first event still gets their deliveries', async () => {
    const mf = startWorker(worker.bundle, join(worker.dir, 'd1'));
    try {
      const d1 = await getD1(mf);
      const health = await mf.dispatchFetch(`${PUBLIC_URL}/healthz`);
      expect(health.status).toBe(200);
      await health.arrayBuffer();
      // Composed and answering, and no subscription written yet: the sync waits for a call that needs it.
      expect(await countRows(d1, 'subscriptions')).toBe(0);

      // The isolate's first ingest: the declared subscription exists for it, in the same transaction.
      const res = await mf.dispatchFetch(`${PUBLIC_URL}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${PRODUCER_TOKEN}` },
        body: JSON.stringify(orderCreated('evt-fresh-1')),
      });
      expect(res.status).toBe(202);
      await res.arrayBuffer();
      const shown = await mf.dispatchFetch(`${PUBLIC_URL}/v1/events/evt-fresh-1`, {
        headers: { authorization: `Bearer ${PRODUCER_TOKEN}` },
      });
      expect(await shown.json()).toMatchObject({
        integrationEvents: [
          {
            type: 'order.created.v1',
            deliveries: [
              { subscriptionId: 'example-billing', url: `${PUBLIC_URL}/webhooks/order.created.v1` },
            ],
          },
        ],
      });
      expect(
        (await d1.prepare("SELECT id FROM subscriptions WHERE origin = 'code' AND deleted_at IS NULL").all())
          .results?.length,
      ).toBeGreaterThan(0);
    } finally {
      await mf.dispose();
    }
  });

  it('the next isolate finds them synced: its first ingest checks, rewrites none, and still delivers to them', async () => {
    const codeRows = async (d1: D1Database) =>
      (await d1.prepare("SELECT id, updated_at FROM subscriptions WHERE origin = 'code' ORDER BY id").all())
        .results;
    const first = startWorker(worker.bundle, join(worker.dir, 'd1'));
    let synced: unknown[] | undefined;
    try {
      const res = await first.dispatchFetch(`${PUBLIC_URL}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${PRODUCER_TOKEN}` },
        body: JSON.stringify(orderCreated('evt-next-1')),
      });
      expect(res.status).toBe(202);
      await res.arrayBuffer();
      synced = await codeRows(await getD1(first));
    } finally {
      await first.dispose();
    }
    expect(synced?.length).toBeGreaterThan(0);

    const next = startWorker(worker.bundle, join(worker.dir, 'd1'));
    try {
      const res = await next.dispatchFetch(`${PUBLIC_URL}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${PRODUCER_TOKEN}` },
        body: JSON.stringify(orderCreated('evt-next-2')),
      });
      expect(res.status).toBe(202);
      await res.arrayBuffer();
      // The rows as the first isolate left them (`updated_at` too): the check found nothing to sync.
      expect(await codeRows(await getD1(next))).toEqual(synced);
      const shown = await next.dispatchFetch(`${PUBLIC_URL}/v1/events/evt-next-2`, {
        headers: { authorization: `Bearer ${PRODUCER_TOKEN}` },
      });
      expect(await shown.json()).toMatchObject({
        integrationEvents: [{ deliveries: [{ subscriptionId: 'example-billing' }] }],
      });
    } finally {
      await next.dispose();
    }
  });
});

describe('a Worker given its bindings (cloudflare:workers): composed as workerd starts it', () => {
  const worker = useBuiltWorker({ migrated: true });

  /** A Worker on `bindings`, and what workerd wrote to its stdout and stderr so far. */
  const started = (bindings: Record<string, string>) => {
    let output = '';
    let waiting: { text: string; resolve: () => void } | null = null;
    const collect = (stream: Readable) =>
      stream.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (waiting && output.includes(waiting.text)) waiting.resolve();
      });
    const mf = new Miniflare({
      modules: [{ type: 'ESModule', path: worker.bundle.path }],
      modulesRoot: dirname(worker.bundle.path),
      compatibilityDate: COMPATIBILITY_DATE,
      d1Databases: { DB: 'hookmesh' },
      d1Persist: join(worker.dir, 'd1'),
      bindings,
      handleRuntimeStdio: (stdout: Readable, stderr: Readable) => {
        collect(stdout);
        collect(stderr);
      },
    });
    return {
      mf,
      output: () => output,
      /** Resolves once `text` was written: no time limit of its own, the test's applies. */
      written: (text: string) =>
        new Promise<void>((resolve) => {
          waiting = { text, resolve };
          if (output.includes(text)) resolve();
        }),
    };
  };

  it('fails at start, before any request, where a binding is missing; its first request says which', async () => {
    const { QSTASH_TOKEN: _left, ...withoutToken } = BINDINGS;
    const worker = started(withoutToken);
    try {
      await worker.mf.ready;
      // Nothing was asked of it yet: the module's evaluation composed the mesh, and failed.
      await worker.written('the mesh could not start');
      expect(worker.output()).toMatch(/QSTASH_TOKEN is required/);

      const res = await worker.mf.dispatchFetch(`${PUBLIC_URL}/healthz`);
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ detail: expect.stringMatching(/QSTASH_TOKEN is required/) });
    } finally {
      await worker.mf.dispose();
    }
  });

  it('starts without randomness, timers or I/O in global scope, and its first requests use that mesh', async () => {
    const worker = started(BINDINGS);
    try {
      const res = await worker.mf.dispatchFetch(`${PUBLIC_URL}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${PRODUCER_TOKEN}` },
        body: JSON.stringify(orderCreated('evt-started-1')),
      });
      expect(res.status).toBe(202);
      expect((await worker.mf.dispatchFetch(`${PUBLIC_URL}/healthz`)).status).toBe(200);
      // Workerd refuses those in global scope with an error the start would have logged.
      expect(worker.output()).not.toMatch(/could not start|Disallowed operation/);
    } finally {
      await worker.mf.dispose();
    }
  });
});
