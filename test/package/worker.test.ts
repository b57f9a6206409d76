import { readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/core/clock.ts';
import { readMigrations } from '../../src/runtime/migrations.ts';
import type { D1Database } from '../../src/store/d1-driver.ts';
import { applyD1Migrations, COMPATIBILITY_DATE, getD1 } from '../support/d1.ts';
import {
  bundleProjectWorker,
  installPackedPackage,
  type ProjectWorkerBundle,
} from '../support/packed-package.ts';
import { eventually, freePort } from '../support/processes.ts';
import { type QStashDouble, startQStashDouble } from '../support/qstash-double.ts';
import { allDelivered, copyFixtures, readEvent } from './helpers.ts';

// DESIGN.md "The package", the Worker row: a user's own Worker entry (test/package/fixtures/worker/
// worker.mjs: its own definitions, `export default createWorker({ mesh, handlers })`) bundled from
// the installed tarball as wrangler bundles, run in workerd by miniflare on a real port, its D1
// migrated from `node_modules/hookmesh/migrations` as `wrangler d1 migrations apply` would. Events
// go out through the QStash double (QSTASH_URL), to the Worker's own handler route and to a
// consuming service that is a Worker too (consumer-worker.mjs: `hookmesh/handler` only, D1 inbox);
// the double calls the mesh back and the deliveries become `delivered`.

const PRODUCER_TOKEN = 'support-producer-token-0123456789';
const ADMIN_TOKEN = 'support-admin-token-0123456789abc';
const QSTASH_TOKEN = 'qstash-token-0123456789abcdef';
const KEY = 'sig_worker_current_Zq81mVbX3tKc';
const NEXT_KEY = 'sig_worker_next_Ld02nWcY4uJe';
const DEADLINE_MS = 10_000;
const KIB = 1024;

describe('a user-style Worker bundled from the packed package, in workerd', () => {
  let dir: string;
  let migrationsDir: string;
  let mesh: ProjectWorkerBundle;
  let consumer: ProjectWorkerBundle;
  let meshMf: Miniflare;
  let consumerMf: Miniflare;
  let meshD1: D1Database;
  let consumerD1: D1Database;
  let q: QStashDouble;
  let meshUrl: string;
  let consumerUrl: string;
  const clock = createManualClock(Date.now());

  /** Once a destination or callback has answered, the double's clock is back at real time. */
  const doubleFetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    try {
      return await fetch(input, init);
    } finally {
      clock.set(Date.now());
    }
  }) as typeof fetch;

  const call = async (path: string, token: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${token}`);
    if (init.body !== undefined) headers.set('content-type', 'application/json');
    const res = await fetch(`${meshUrl}${path}`, { ...init, headers });
    const text = await res.text();
    return { status: res.status, body: text === '' ? null : (JSON.parse(text) as Record<string, unknown>) };
  };

  const healthz = async () => {
    const res = await fetch(`${meshUrl}/healthz`);
    await res.arrayBuffer();
    return res.status;
  };

  const inboxRows = async (d1: D1Database, eventId: string) =>
    (
      await d1
        .prepare('SELECT handler, status FROM inbox WHERE event_id = ? ORDER BY handler')
        .bind(eventId)
        .all<{ handler: string; status: string }>()
    ).results;

  beforeAll(async () => {
    const project = await installPackedPackage();
    dir = copyFixtures(project.dir, 'worker');
    migrationsDir = join(project.dir, 'node_modules', 'hookmesh', 'migrations');
    [mesh, consumer] = await Promise.all([
      bundleProjectWorker(dir, 'worker.mjs', join(dir, 'dist', 'worker.js')),
      bundleProjectWorker(dir, 'consumer-worker.mjs', join(dir, 'dist', 'consumer-worker.js')),
    ]);
    console.info(
      [
        `packed tarball: ${(project.tarballBytes / KIB).toFixed(1)} KiB`,
        `consumer Worker (hookmesh/handler only), minified: ${(consumer.bytes / KIB).toFixed(1)} KiB, gzip ${(consumer.gzipBytes / KIB).toFixed(1)} KiB (goal ≤ 40 KiB)`,
        `mesh Worker (createWorker), minified: ${(mesh.bytes / KIB).toFixed(1)} KiB, gzip ${(mesh.gzipBytes / KIB).toFixed(1)} KiB (goal ≤ 100 KiB)`,
      ].join('\n'),
    );

    q = await startQStashDouble({
      token: QSTASH_TOKEN,
      currentSigningKey: KEY,
      nextSigningKey: NEXT_KEY,
      clock,
      fetch: doubleFetch,
    });
    const [meshPort, consumerPort] = [await freePort(), await freePort()];
    meshUrl = `http://127.0.0.1:${meshPort}`;
    consumerUrl = `http://127.0.0.1:${consumerPort}`;

    // The bundles as explicit module lists, as wrangler hands them to workerd (TOOLCHAIN.md).
    meshMf = new Miniflare({
      modules: [{ type: 'ESModule', path: mesh.path, contents: mesh.code }],
      modulesRoot: dirname(mesh.path),
      compatibilityDate: COMPATIBILITY_DATE,
      host: '127.0.0.1',
      port: meshPort,
      d1Databases: ['DB'],
      bindings: {
        // Not production: the API-created subscription below targets a loopback address.
        NODE_ENV: 'development',
        HOOKMESH_ALLOW_PRIVATE_NETWORK: 'true',
        HOOKMESH_PUBLIC_URL: meshUrl,
        HOOKMESH_PRODUCER_TOKENS: `support:${PRODUCER_TOKEN}`,
        HOOKMESH_ADMIN_TOKEN: ADMIN_TOKEN,
        QSTASH_URL: q.url,
        QSTASH_TOKEN,
        QSTASH_CURRENT_SIGNING_KEY: KEY,
        QSTASH_NEXT_SIGNING_KEY: NEXT_KEY,
      },
    });
    consumerMf = new Miniflare({
      modules: [{ type: 'ESModule', path: consumer.path, contents: consumer.code }],
      modulesRoot: dirname(consumer.path),
      compatibilityDate: COMPATIBILITY_DATE,
      host: '127.0.0.1',
      port: consumerPort,
      d1Databases: ['DB'],
      bindings: {
        PUBLIC_URL: consumerUrl,
        QSTASH_CURRENT_SIGNING_KEY: KEY,
        QSTASH_NEXT_SIGNING_KEY: NEXT_KEY,
      },
    });
    await Promise.all([meshMf.ready, consumerMf.ready]);
    [meshD1, consumerD1] = await Promise.all([getD1(meshMf), getD1(consumerMf)]);
  }, 240_000);

  afterAll(async () => {
    await Promise.all([meshMf?.dispose(), consumerMf?.dispose(), q?.close()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('answers /healthz 503 until D1 is migrated from node_modules/hookmesh/migrations, then 200', async () => {
    expect(await healthz()).toBe(503);

    const shipped = readMigrations(migrationsDir);
    expect(shipped.map((m) => m.name)).toEqual(
      readdirSync(migrationsDir)
        .filter((name) => name.endsWith('.sql'))
        .sort(),
    );
    expect(shipped.length).toBeGreaterThan(0);
    // As `wrangler d1 migrations apply` with migrations_dir = "node_modules/hookmesh/migrations".
    expect(await applyD1Migrations(meshD1, shipped)).toEqual(shipped.map((m) => m.name));
    const recorded = await meshD1
      .prepare('SELECT name FROM d1_migrations ORDER BY id')
      .all<{ name: string }>();
    expect((recorded.results ?? []).map((r) => r.name)).toEqual(shipped.map((m) => m.name));

    expect(await healthz()).toBe(200);
  });

  it('accepts an event (202), publishes it to QStash, delivers it to its own handler and to a consumer Worker: delivered', async () => {
    // A consuming service's subscription, made through the admin API.
    const created = await call('/v1/subscriptions', ADMIN_TOKEN, {
      method: 'POST',
      body: JSON.stringify({ type: 'ticket.opened.v1', url: `${consumerUrl}/webhooks/ticket.opened.v1` }),
    });
    expect(created.status).toBe(201);
    const escalations = created.body!.id as string;

    const event = {
      id: 'ticket-42-opened',
      type: 'TicketOpened',
      data: { ticket: { id: 't-42', priority: 'high' } },
    };
    const accepted = await call('/v1/events', PRODUCER_TOKEN, {
      method: 'POST',
      body: JSON.stringify(event),
    });
    expect(accepted.status).toBe(202);
    const [ie] = accepted.body!.integrationEvents as { id: string; type: string }[];
    expect(ie!.type).toBe('ticket.opened.v1');

    // The same event again: 200, nothing new.
    const again = await call('/v1/events', PRODUCER_TOKEN, { method: 'POST', body: JSON.stringify(event) });
    expect(again).toEqual({ status: 200, body: accepted.body });

    // Published by the waitUntil after the 202: one QStash message per subscription.
    const published = await eventually(
      async () => {
        const view = await readEvent(meshUrl, ADMIN_TOKEN, event.id);
        const deliveries = view?.integrationEvents[0]?.deliveries ?? [];
        const messages = deliveries.map((d) => q.messages.find((m) => m.dedupId === `${d.id}-0`));
        return deliveries.length === 2 &&
          deliveries.every((d) => d.status !== 'pending') &&
          messages.every((m) => m !== undefined)
          ? messages.map((m) => m!)
          : undefined;
      },
      DEADLINE_MS,
      'both deliveries to be published to QStash',
    );
    expect(published.map((m) => m.destination).sort()).toEqual(
      [`${meshUrl}/webhooks/ticket.opened.v1`, `${consumerUrl}/webhooks/ticket.opened.v1`].sort(),
    );
    for (const message of published) {
      expect(message.headers).toMatchObject({
        'upstash-callback': `${meshUrl}/v1/qstash/callback`,
        'upstash-forward-ce-id': ie!.id,
        'upstash-forward-ce-type': 'ticket.opened.v1',
      });
      expect(JSON.parse(message.body)).toEqual({ ticketId: 't-42', urgent: true });
    }

    // The double delivers (signed) and calls the mesh back with each outcome.
    clock.set(Date.now());
    await q.deliverDue();
    expect(published.map((m) => m.attempts.map((a) => a.status))).toEqual([[200], [200]]);

    const view = await eventually(
      async () => {
        const read = await readEvent(meshUrl, ADMIN_TOKEN, event.id);
        return allDelivered(read, 2) ? read : undefined;
      },
      DEADLINE_MS,
      'both deliveries to be delivered',
    );
    const deliveries = view!.integrationEvents[0]!.deliveries;
    expect(deliveries.map((d) => [d.status, d.attempts.map((a) => a.status)])).toEqual([
      ['delivered', [200]],
      ['delivered', [200]],
    ]);
    expect(deliveries.map((d) => d.url).sort()).toEqual(published.map((m) => m.destination).sort());
    expect(deliveries.map((d) => d.subscriptionId).sort()).toEqual([escalations, 'support-desk'].sort());

    // Each handler ran once, as its inbox says: the mesh's own in the mesh's D1, the consumer's in
    // its own D1 (a table it created itself).
    expect(await inboxRows(meshD1, ie!.id)).toEqual([{ handler: 'support-desk', status: 'done' }]);
    expect(await inboxRows(consumerD1, ie!.id)).toEqual([{ handler: 'ticket.opened.v1', status: 'done' }]);
  });
});
