import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'libsql';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run.ts';
import { orderConverters } from '../../src/example/orders.ts';
import { defineMesh } from '../../src/index.ts';
import { type ServedMesh, serveMesh } from '../../src/node.ts';
import { readMigrations } from '../../src/runtime/migrations.ts';
import { openLibsqlFileDriver } from '../../src/store/libsql-file-driver.ts';
import { applyMigrations } from '../../src/store/migrate.ts';
import { MIGRATION_NAMES } from '../../src/store/migration-names.ts';
import { type LoopbackServer, startLoopbackServer } from '../support/loopback-server.ts';
import { eventually } from '../support/processes.ts';

// Upgrading a database the first release wrote (DESIGN "Storage"; issue 11, "Upgrades"): its
// schema is `0000_init.sql` alone, filled with rows shaped as that release wrote them — pending,
// retrying, delivered and dead deliveries with their attempts, an API-created subscription — then
// `hookmesh migrate` applies every later migration (whatever MIGRATION_NAMES lists, so each new
// migration is covered the day it is added), and a real mesh runs on it.

const PRODUCER = 'upgrade-producer-token-0123456789';
const ADMIN = 'upgrade-admin-token-0123456789';
const MINUTE = 60_000;

let dir: string | undefined;
let mesh: ServedMesh | undefined;
let handler: LoopbackServer | undefined;
afterEach(async () => {
  await mesh?.close();
  await handler?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  mesh = handler = dir = undefined;
});

interface Fixture {
  /** Integration event id (the `ce-id`) and body of each delivery, by the state it was left in. */
  readonly byState: Record<
    'pending' | 'retrying' | 'delivered' | 'dead',
    { ceId: string; data: string; deliveryId: string; eventId: string; time: string }
  >;
}

/** What the first release wrote for one accepted OrderCreated with one matching subscription. */
function writeFirstReleaseRows(path: string, handlerUrl: string, now: number): Fixture {
  const db = new Database(path);
  try {
    const subscriptionUrl = `${handlerUrl}/hooks/order.created.v1`;
    db.prepare(
      `INSERT INTO subscriptions (id, type, url, retries, retry_delay, origin, created_at, updated_at, deleted_at)
       VALUES ('sub_0190aa', 'order.created.v1', ?, 10, NULL, 'api', ?, ?, NULL)`,
    ).run([subscriptionUrl, now - 60 * MINUTE, now - 60 * MINUTE]);
    // A deleted one, as the admin API's DELETE left it: it must match nothing after the upgrade.
    db.prepare(
      `INSERT INTO subscriptions (id, type, url, retries, retry_delay, origin, created_at, updated_at, deleted_at)
       VALUES ('sub_0190ab', 'order.*', ?, 3, '1000', 'api', ?, ?, ?)`,
    ).run([`${handlerUrl}/deleted`, now - 60 * MINUTE, now - 30 * MINUTE, now - 30 * MINUTE]);
    const states = ['pending', 'retrying', 'delivered', 'dead'] as const;
    const byState = {} as Fixture['byState'];
    states.forEach((state, n) => {
      const receivedAt = now - (10 - n) * MINUTE;
      const eventId = `old-${state}`;
      const ceId = randomUUID();
      const data = JSON.stringify({ orderId: `o-${n}`, customerId: 'c-1', total: 10 + n, currency: 'EUR' });
      // Time-prefixed delivery ids: 12 hex digits of the acceptance millisecond, 20 random ones.
      const deliveryId = receivedAt.toString(16).padStart(12, '0') + randomBytes(10).toString('hex');
      db.prepare(
        `INSERT INTO domain_events (id, type, source, data, occurred_at, metadata, traceparent, received_at)
         VALUES (?, 'OrderCreated', 'shop', ?, NULL, NULL, '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', ?)`,
      ).run([eventId, JSON.stringify({ order: JSON.parse(data) }), receivedAt]);
      db.prepare(
        `INSERT INTO integration_events (id, domain_event_id, seq, type, source, time, data)
         VALUES (?, ?, 0, 'order.created.v1', '/producers/shop', ?, ?)`,
      ).run([ceId, eventId, new Date(receivedAt).toISOString(), data]);
      const attempts = { pending: 0, retrying: 2, delivered: 1, dead: 11 }[state];
      const retried = { pending: 0, retrying: 1, delivered: 0, dead: 10 }[state];
      // The retrying one is due again now; the others' next time is their last attempt's.
      const nextAttemptAt = state === 'retrying' ? now - MINUTE : receivedAt;
      db.prepare(
        `INSERT INTO deliveries (id, integration_event_id, subscription_id, url, status, attempts, retried, max_retries,
           retry_delay, next_attempt_at, lease_owner, lease_expires_at, generation, message_id, created_at, updated_at)
         VALUES (?, ?, 'sub_0190aa', ?, ?, ?, ?, 10, NULL, ?, NULL, NULL, 0, NULL, ?, ?)`,
      ).run([
        deliveryId,
        ceId,
        subscriptionUrl,
        state,
        attempts,
        retried,
        nextAttemptAt,
        receivedAt,
        receivedAt + attempts,
      ]);
      for (let number = 1; number <= attempts; number++) {
        const ok = state === 'delivered';
        db.prepare(
          `INSERT INTO attempts (delivery_id, number, at, status, duration_ms, error, response_excerpt)
           VALUES (?, ?, ?, ?, 3, NULL, ?)`,
        ).run([deliveryId, number, receivedAt + number, ok ? 200 : 500, ok ? '{}' : 'upstream down']);
      }
      byState[state] = { ceId, data, deliveryId, eventId, time: new Date(receivedAt).toISOString() };
    });
    return { byState };
  } finally {
    db.close();
  }
}

async function admin(path: string, init: RequestInit = {}) {
  const res = await fetch(`${mesh!.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${ADMIN}`, ...(init.headers as Record<string, string> | undefined) },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function statusOf(eventId: string): Promise<string> {
  const { body } = await admin(`/v1/events/${eventId}`);
  const [ie] = body.integrationEvents as { deliveries: { status: string }[] }[];
  return ie!.deliveries[0]!.status;
}

describe('upgrading a database written by the first release', () => {
  it('migrates with hookmesh migrate, then a mesh delivers what was pending, reads it all and replays the dead one', async () => {
    dir = mkdtempSync(join(tmpdir(), 'hookmesh-upgrade-'));
    const path = join(dir, 'mesh.db');
    const url = `file:${path}`;
    handler = await startLoopbackServer(() => ({ status: 200, body: '{}' }));

    // The first release's schema, applied by the migrator as that release applied it.
    const [first, ...later] = readMigrations();
    expect(first!.name).toBe(MIGRATION_NAMES[0]);
    expect(later.map((m) => m.name)).toEqual(MIGRATION_NAMES.slice(1));
    const driver = openLibsqlFileDriver(path, { busyTimeoutMs: 5_000 });
    await applyMigrations(driver, [first!]);
    driver.closeNow();
    const fixture = writeFirstReleaseRows(path, handler.url, Date.now());

    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(['migrate'], {
      env: { DATABASE_URL: url },
      out: (line) => out.push(line),
      err: (line) => err.push(line),
    });
    expect({ code, err }).toEqual({ code: 0, err: [] });
    expect(out).toEqual([expect.stringContaining(`applied ${MIGRATION_NAMES.slice(1).join(', ')}`)]);
    const check = new Database(path, { readonly: true });
    try {
      expect(check.prepare('PRAGMA integrity_check').all()).toEqual([{ integrity_check: 'ok' }]);
      expect(check.prepare('PRAGMA foreign_key_check').all()).toEqual([]);
      const recorded = check.prepare('SELECT name FROM d1_migrations ORDER BY id').all() as {
        name: string;
      }[];
      expect(recorded.map((r) => r.name)).toEqual([...MIGRATION_NAMES]);
      const counts = check
        .prepare('SELECT status, count(*) AS n FROM deliveries GROUP BY status ORDER BY status')
        .all();
      // Ids as their 16 bytes (0008); the reads and the replay below find them by their old text.
      expect(
        check
          .prepare(
            `SELECT (SELECT group_concat(DISTINCT typeof(id) || length(id)) FROM integration_events) AS events,
               (SELECT group_concat(DISTINCT typeof(id) || length(id)) FROM deliveries) AS deliveries,
               (SELECT group_concat(DISTINCT typeof(delivery_id) || length(delivery_id)) FROM attempts) AS attempts`,
          )
          .get(),
      ).toMatchObject({ events: 'blob16', deliveries: 'blob16', attempts: 'blob16' });
      // Derivable from their domain events, so stored as NULL (0008); the reads below derive them.
      expect(
        check
          .prepare('SELECT count(*) AS n FROM integration_events WHERE source IS NULL AND time IS NULL')
          .get(),
      ).toMatchObject({ n: 4 });
      // Types by number (0009): each name once in event_types, every event pointing at its own.
      expect(check.prepare('SELECT ref, name FROM event_types ORDER BY name').all()).toEqual([
        { ref: expect.any(Number), name: 'OrderCreated' },
        { ref: expect.any(Number), name: 'order.created.v1' },
      ]);
      expect(
        check
          .prepare(
            `SELECT (SELECT group_concat(DISTINCT t.name) FROM domain_events de JOIN event_types t ON t.ref = de.type_ref) AS domain,
               (SELECT group_concat(DISTINCT t.name) FROM integration_events ie JOIN event_types t ON t.ref = ie.type_ref) AS integration`,
          )
          .get(),
      ).toMatchObject({ domain: 'OrderCreated', integration: 'order.created.v1' });
      expect(counts).toEqual([
        { status: 'dead', n: 1 },
        { status: 'delivered', n: 1 },
        { status: 'pending', n: 1 },
        { status: 'retrying', n: 1 },
      ]);
    } finally {
      check.close();
    }

    mesh = await serveMesh({
      env: {
        PORT: '0',
        HOST: '127.0.0.1',
        DATABASE_URL: url,
        HOOKMESH_PRODUCER_TOKENS: `shop:${PRODUCER}`,
        HOOKMESH_ADMIN_TOKEN: ADMIN,
        QSTASH_CURRENT_SIGNING_KEY: 'upgrade-signing-key-0123456789',
      },
      log: () => {},
      mesh: defineMesh({ converters: orderConverters, subscriptions: [] }),
    });
    expect((await fetch(`${mesh.url}/healthz`)).status).toBe(200);

    // What was pending and what was due for a retry reach the handler, byte for byte as stored.
    const { pending, retrying, delivered, dead } = fixture.byState;
    await eventually(async () =>
      (await statusOf(pending.eventId)) === 'delivered' && (await statusOf(retrying.eventId)) === 'delivered'
        ? true
        : undefined,
    );
    const seen = (ceId: string) => handler!.requests.filter((r) => r.headers['ce-id'] === ceId);
    expect(seen(pending.ceId)).toHaveLength(1);
    expect(seen(pending.ceId)[0]).toMatchObject({ path: '/hooks/order.created.v1', body: pending.data });
    // 0008 stores an old event's source and time as NULL (derivable): the headers are the same.
    expect(seen(pending.ceId)[0]!.headers).toMatchObject({
      'ce-type': 'order.created.v1',
      'ce-source': '/producers/shop',
      'ce-time': pending.time,
      'upstash-retried': '0',
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    });
    expect(seen(retrying.ceId)[0]).toMatchObject({ body: retrying.data });
    expect(seen(retrying.ceId)[0]!.headers['upstash-retried']).toBe('1');
    expect(seen(delivered.ceId)).toEqual([]);
    expect(seen(dead.ceId)).toEqual([]);
    expect(handler.requests.filter((r) => r.path === '/deleted')).toEqual([]);

    // Reads: an old event with its old attempts, and the operator's lists.
    const old = await admin(`/v1/events/${delivered.eventId}`);
    expect(old.status).toBe(200);
    expect(old.body).toMatchObject({
      id: delivered.eventId,
      type: 'OrderCreated',
      source: 'shop',
      integrationEvents: [
        {
          id: delivered.ceId,
          type: 'order.created.v1',
          deliveries: [{ status: 'delivered', attempts: [{ number: 1, status: 200 }] }],
        },
      ],
    });
    const retried = await admin(`/v1/events/${retrying.eventId}`);
    const [ie] = retried.body.integrationEvents as { deliveries: { attempts: { number: number }[] }[] }[];
    expect(ie!.deliveries[0]!.attempts.map((a) => a.number)).toEqual([1, 2, 3]);
    const deadList = await admin('/v1/deliveries?status=dead&type=order.created.v1');
    expect(deadList.status).toBe(200);
    expect(JSON.stringify(deadList.body)).toContain(dead.deliveryId);
    expect(JSON.stringify(deadList.body)).toContain('"type":"order.created.v1"');
    const subscriptions = await admin('/v1/subscriptions');
    expect(JSON.stringify(subscriptions.body)).toContain('sub_0190aa');

    // A new event still gets a delivery through the old subscription.
    const posted = await fetch(`${mesh.url}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${PRODUCER}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        id: 'new-after-upgrade',
        type: 'OrderCreated',
        data: { order: { id: 'o-new', customerId: 'c-2', total: 5, currency: 'EUR' } },
      }),
    });
    expect(posted.status).toBe(202);
    await eventually(async () => ((await statusOf('new-after-upgrade')) === 'delivered' ? true : undefined));

    // The dead one, replayed, is delivered under a new generation; its old attempts stay.
    const replay = await admin(`/v1/deliveries/${dead.deliveryId}/retry`, { method: 'POST' });
    expect(replay.status).toBeLessThan(300);
    await eventually(async () => ((await statusOf(dead.eventId)) === 'delivered' ? true : undefined));
    expect(seen(dead.ceId)).toHaveLength(1);
    expect(seen(dead.ceId)[0]!.headers['upstash-retried']).toBe('0');
    const replayed = await admin(`/v1/events/${dead.eventId}`);
    const [deadIe] = replayed.body.integrationEvents as {
      deliveries: { attempts: { number: number }[] }[];
    }[];
    expect(deadIe!.deliveries[0]!.attempts.map((a) => a.number).at(-1)).toBe(12);
  });
});
