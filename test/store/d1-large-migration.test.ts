import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AttemptRecord } from '../../src/core/dispatch-queue.ts';
import { runRetentionPass } from '../../src/core/retention.ts';
import { defineSubscription } from '../../src/core/subscription.ts';
import { readMigrations } from '../../src/runtime/migrations.ts';
import { createD1Driver, type D1Database } from '../../src/store/d1-driver.ts';
import { createD1Stores } from '../../src/store/d1-store.ts';
import { deliveryIdOut, eventIdOut } from '../../src/store/sql-ids.ts';
import { applyD1Migrations, createD1Miniflare, dropAllTables, getD1 } from '../support/d1.ts';

// Issue 11: 0008 and 0009 rewrite the event tables in one transaction each. A D1 database written
// by 0007 with a realistic amount of data in it (50,000 events, 110,000 deliveries, their
// attempts) is migrated the way wrangler migrates it before a deploy — each file and its
// `d1_migrations` record one batch, on workerd's D1 (miniflare) — and then every row is checked
// against the formula that wrote it, and the mesh ingests and delivers on it.

const EVENTS = 50_000;
const T0 = Date.UTC(2026, 0, 15, 9, 30, 0);
const OCCURRED = '2026-01-15T09:29:59.000Z';
const EXACT = { id: 's-exact', type: 'order.created.v1', url: 'https://billing.example.com/hooks' };
const PREFIX = { id: 's-prefix', type: 'order.*', url: 'https://audit.example.com/hooks' };
/** Where the exact subscription pointed before it moved: held only by deliveries. */
const OLD_URL = 'https://billing.example.com/old';

// Each column as SQL of the event's number `i` (an SQL expression), so one formula both writes a
// row and checks it after the migration. Every 5th event has a second integration event.
const col = {
  eventId: (i: string) => `'evt-' || ${i}`,
  eventType: (i: string) => `CASE ${i} % 5 WHEN 0 THEN 'OrderPaid' ELSE 'OrderCreated' END`,
  data: (i: string) => `json_object('order', json_object('id', 'o-' || ${i}, 'total', ${i} * 0.5))`,
  occurredAt: (i: string) => `CASE WHEN ${i} % 3 = 0 THEN NULL ELSE '${OCCURRED}' END`,
  metadata: (i: string) => `CASE WHEN ${i} % 2 = 0 THEN '{"tenant":"t-' || (${i} % 9) || '"}' END`,
  // Canonical UUIDs (stored as 16 bytes by 0008) but every 7th, which stays text.
  ieId: (i: string, seq: string) =>
    `CASE WHEN ${i} % 7 = 0 THEN 'ie-' || ${i} || '-' || ${seq} ELSE printf('0190aa00-0000-7000-8000-%012d', ${i} * 2 + ${seq}) END`,
  ieType: (seq: string) => `CASE ${seq} WHEN 0 THEN 'order.created.v1' ELSE 'order.paid.v1' END`,
  // What ingest derives (0008 stores NULL for it), but every 11th event's, kept as written.
  ieSource: (i: string) => `CASE WHEN ${i} % 11 = 0 THEN '/elsewhere' ELSE '/producers/billing' END`,
  ieTime: (i: string) =>
    `CASE WHEN ${i} % 11 = 0 THEN '2026-02-01T00:00:00.000Z' WHEN ${i} % 3 = 0 THEN strftime('%Y-%m-%dT%H:%M:%S.', (${T0} + ${i}) / 1000, 'unixepoch') || substr(1000 + (${T0} + ${i}) % 1000, 2) || 'Z' ELSE '${OCCURRED}' END`,
  ieData: (i: string, seq: string) => `'{"n":' || ${i} || ',"seq":' || ${seq} || '}'`,
  // k: 0 the prefix subscription's delivery, 1 the exact one's (seq 0 only). 32 hex digits (16
  // bytes after 0008) but every 13th event's, which stay text.
  deliveryId: (i: string, seq: string, k: string) =>
    `CASE WHEN ${i} % 13 = 0 THEN 'd-' || ${i} || '-' || ${seq} || '-' || ${k} ELSE printf('%012x%020x', ${T0} + ${i}, (${i} * 2 + ${seq}) * 2 + ${k}) END`,
  status: (i: string) =>
    `CASE ${i} % 50 WHEN 0 THEN 'dead' WHEN 1 THEN 'pending' WHEN 2 THEN 'retrying' ELSE 'delivered' END`,
  attempts: (i: string) => `CASE ${i} % 50 WHEN 0 THEN 3 WHEN 1 THEN 0 ELSE 1 END`,
  url: (i: string, k: string) =>
    `CASE WHEN ${k} = 0 THEN '${PREFIX.url}' WHEN ${i} % 17 = 0 THEN '${OLD_URL}' ELSE '${EXACT.url}' END`,
  orderingKey: (i: string) => `CASE WHEN ${i} % 4 = 0 THEN 'cust-' || (${i} % 97) END`,
};

/** Event numbers 0 … EVENTS - 1 as `n(i)`. */
const NUMBERS = `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${EVENTS - 1})`;
/** Integration events as `x(i, seq)`. */
const PAIRS = `${NUMBERS}, x(i, seq) AS (SELECT i, 0 FROM n UNION ALL SELECT i, 1 FROM n WHERE i % 5 = 0)`;
/** Deliveries as `y(i, seq, k)`. */
const TRIPLES = `${PAIRS}, y(i, seq, k) AS (SELECT i, seq, 0 FROM x UNION ALL SELECT i, 0, 1 FROM x WHERE seq = 0)`;

/** The rows 0007's schema holds, written by the formulas above. */
const FILL = [
  `INSERT INTO subscriptions (id, type, url, retries, origin, created_at, updated_at) VALUES
     ('${EXACT.id}', '${EXACT.type}', '${EXACT.url}', 10, 'api', 0, 0),
     ('${PREFIX.id}', '${PREFIX.type}', '${PREFIX.url}', 3, 'api', 0, 0)`,
  `${NUMBERS} INSERT INTO domain_events (id, type, source, data, occurred_at, metadata, traceparent, received_at)
     SELECT ${col.eventId('i')}, ${col.eventType('i')}, 'billing', ${col.data('i')}, ${col.occurredAt('i')},
       ${col.metadata('i')}, NULL, ${T0} + i FROM n`,
  `${PAIRS} INSERT INTO integration_events (id, domain_event_id, seq, type, source, time, data)
     SELECT ${col.ieId('i', 'seq')}, ${col.eventId('i')}, seq, ${col.ieType('seq')}, ${col.ieSource('i')},
       ${col.ieTime('i')}, ${col.ieData('i', 'seq')} FROM x ORDER BY i, seq`,
  `${TRIPLES} INSERT INTO deliveries (id, integration_event_id, subscription_id, url, status, attempts, retried,
       max_retries, next_attempt_at, created_at, updated_at, ordering_key)
     SELECT ${col.deliveryId('i', 'seq', 'k')}, ${col.ieId('i', 'seq')},
       CASE k WHEN 0 THEN '${PREFIX.id}' ELSE '${EXACT.id}' END, ${col.url('i', 'k')}, ${col.status('i')},
       ${col.attempts('i')}, 0, 10, ${T0} + i + 60000, ${T0} + i, ${T0} + i + 100, ${col.orderingKey('i')}
     FROM y ORDER BY i, seq, k`,
  `${TRIPLES}, a(number) AS (VALUES (1), (2), (3))
     INSERT INTO attempts (delivery_id, number, at, status, duration_ms, error)
     SELECT ${col.deliveryId('i', 'seq', 'k')}, a.number, ${T0} + i + a.number, CASE ${col.status('i')}
       WHEN 'delivered' THEN 200 ELSE 500 END, (i % 40) + a.number, CASE ${col.status('i')} WHEN 'delivered' THEN NULL
       ELSE 'HTTP 500' END
     FROM y JOIN a ON a.number <= ${col.attempts('i')}`,
];

/** What the formulas wrote, counted in JS: integration events, deliveries, by status. */
function expected() {
  const byStatus = { dead: 0, pending: 0, retrying: 0, delivered: 0 };
  let integration = 0;
  for (let i = 0; i < EVENTS; i++) {
    const seqs = i % 5 === 0 ? 2 : 1;
    integration += seqs;
    // seq 0 goes to both subscriptions, seq 1 (order.paid.v1) to the prefix one only.
    const deliveries = seqs === 2 ? 3 : 2;
    const status = [null, 'pending', 'retrying'][i % 50] ?? (i % 50 === 0 ? 'dead' : 'delivered');
    byStatus[(i % 50 === 0 ? 'dead' : status) as keyof typeof byStatus] += deliveries;
  }
  const deliveries = byStatus.dead + byStatus.pending + byStatus.retrying + byStatus.delivered;
  return { integration, deliveries, byStatus };
}
const { integration: INTEGRATION, deliveries: DELIVERIES, byStatus: BY_STATUS } = expected();
/** The ISO time of a receipt (ms, SQL), as 0008 and the read path derive an integration event's. */
const isoOf = (ms: string) =>
  `strftime('%Y-%m-%dT%H:%M:%S.', ${ms} / 1000, 'unixepoch') || substr(1000 + ${ms} % 1000, 2) || 'Z'`;

describe('migrations 0008 and 0009 on a large D1 database (issue 11)', () => {
  const mf = createD1Miniflare(['DB']);
  let d1: D1Database;
  const migrations = readMigrations();
  const names = migrations.map((m) => m.name);
  const from = names.indexOf('0008_compact_storage.sql');

  beforeAll(async () => {
    d1 = await getD1(mf, 'DB');
    await dropAllTables(d1);
  });

  afterAll(async () => {
    await mf.dispose();
  });

  const one = async (sql: string) => (await createD1Driver(d1).query(sql))[0] ?? {};

  it('keeps every row of a database 0007 wrote, and the mesh ingests and delivers on it', async () => {
    const driver = createD1Driver(d1);
    await applyD1Migrations(d1, migrations.slice(0, from));
    for (const sql of FILL) await driver.batch([{ sql, args: [] }]);
    const before = await one(`SELECT (SELECT count(*) FROM domain_events) AS events,
      (SELECT count(*) FROM integration_events) AS integration, (SELECT count(*) FROM deliveries) AS deliveries,
      (SELECT count(*) FROM attempts) AS attempts`);
    expect(before).toEqual({
      events: EVENTS,
      integration: INTEGRATION,
      deliveries: DELIVERIES,
      attempts: expect.any(Number),
    });

    // As wrangler applies them: each file with its d1_migrations row in one batch (d1.ts).
    expect(await applyD1Migrations(d1, migrations)).toEqual(names.slice(from));

    expect(await driver.query('PRAGMA foreign_key_check')).toEqual([]);
    // Every row as its formula wrote it, read through the columns and lookups 0008 and 0009 made.
    const i = `(de.received_at - ${T0})`;
    expect(
      await one(`SELECT count(*) AS n FROM domain_events de WHERE de.id = ${col.eventId(i)}
        AND (SELECT name FROM event_types WHERE ref = de.type_ref) = ${col.eventType(i)} AND de.source = 'billing'
        AND de.data = ${col.data(i)} AND de.occurred_at IS ${col.occurredAt(i)} AND de.metadata IS ${col.metadata(i)}`),
    ).toEqual({ n: EVENTS });
    expect(
      await one(`SELECT count(*) AS n FROM integration_events ie JOIN domain_events de ON de.ref = ie.domain_event_ref
        WHERE ${eventIdOut('ie.id')} = ${col.ieId(i, 'ie.seq')}
          AND (SELECT name FROM event_types WHERE ref = ie.type_ref) = ${col.ieType('ie.seq')}
          AND coalesce(ie.source, '/producers/' || de.source) = ${col.ieSource(i)}
          AND coalesce(ie.time, de.occurred_at, ${isoOf('de.received_at')}) = ${col.ieTime(i)}
          AND ie.data = ${col.ieData(i, 'ie.seq')}`),
    ).toEqual({ n: INTEGRATION });
    expect(
      await one(`SELECT count(*) AS n FROM deliveries d JOIN integration_events ie ON ie.ref = d.integration_event_ref
        JOIN domain_events de ON de.ref = ie.domain_event_ref
        JOIN subscription_refs sr ON sr.ref = d.subscription_ref JOIN endpoints e ON e.id = d.endpoint_id
        WHERE ${deliveryIdOut('d.id')} = ${col.deliveryId(i, 'ie.seq', `(sr.id = '${EXACT.id}')`)}
          AND e.url = ${col.url(i, `(sr.id = '${EXACT.id}')`)} AND d.status = ${col.status(i)}
          AND d.attempts = ${col.attempts(i)} AND d.next_attempt_at = ${T0} + ${i} + 60000
          AND d.created_at = ${T0} + ${i} AND d.updated_at = ${T0} + ${i} + 100
          AND d.ordering_key IS (CASE WHEN d.status = 'delivered' THEN NULL ELSE ${col.orderingKey(i)} END)`),
    ).toEqual({ n: DELIVERIES });
    expect(
      await one(`SELECT count(*) AS n, sum(a.number = d.attempts) AS last FROM attempts a
        JOIN deliveries d ON d.id = a.delivery_id`),
    ).toEqual({ n: before.attempts, last: DELIVERIES - BY_STATUS.pending });

    // The read path shows one event whole: derived source and time, ids back as text, its deliveries.
    const stores = createD1Stores(d1);
    const view = await stores.events.getEvent('evt-85');
    expect(view).toMatchObject({ id: 'evt-85', type: 'OrderPaid', occurredAt: OCCURRED });
    expect(view!.integrationEvents.map((ie) => [ie.id, ie.type, ie.source, ie.time])).toEqual([
      ['0190aa00-0000-7000-8000-000000000170', 'order.created.v1', '/producers/billing', OCCURRED],
      ['0190aa00-0000-7000-8000-000000000171', 'order.paid.v1', '/producers/billing', OCCURRED],
    ]);
    expect(view!.integrationEvents[0]!.deliveries.map((d) => d.url).sort()).toEqual(
      [OLD_URL, PREFIX.url].sort(),
    );

    // The mesh on it: the subscriptions synced, a new event accepted, and every due delivery —
    // the migrated pending ones and the new — leased and delivered.
    await stores.subscriptions.syncCodeSubscriptions(
      [
        defineSubscription(EXACT.type, EXACT.url, { id: EXACT.id, maxConcurrency: 1000 }),
        defineSubscription(PREFIX.type, PREFIX.url, { id: PREFIX.id, maxConcurrency: 1000 }),
      ],
      T0,
    );
    const now = T0 + EVENTS + 120_000;
    expect(
      await stores.events.appendEvents([
        {
          id: 'after-upgrade',
          type: 'OrderCreated',
          source: 'billing',
          data: '{"order":{"id":"o-new"}}',
          occurredAt: null,
          metadata: null,
          traceparent: null,
          receivedAt: now,
          integrationEvents: [
            {
              id: 'after-upgrade/ie0',
              type: 'order.created.v1',
              source: '/producers/billing',
              time: new Date(now).toISOString(),
              data: '{}',
            },
          ],
        },
      ]),
    ).toEqual({ ok: true });
    let delivered = 0;
    for (;;) {
      const leased = await stores.dispatch.leaseDue({ owner: 'o', now, leaseMs: 60_000, limit: 500 });
      if (leased.length === 0) break;
      const records: AttemptRecord[] = leased.map((d) => ({
        deliveryId: d.id,
        owner: 'o',
        number: d.attempts + 1,
        at: now,
        status: 200,
        durationMs: 1,
        error: null,
        responseExcerpt: null,
        next: 'delivered',
        nextAttemptAt: now,
        retried: 0,
      }));
      await stores.dispatch.recordAttempts(records);
      delivered += leased.length;
    }
    // The migrated pending and retrying ones, and the new event's two.
    expect(delivered).toBe(BY_STATUS.pending + BY_STATUS.retrying + 2);
    const fresh = await stores.events.getEvent('after-upgrade');
    expect(fresh!.integrationEvents[0]!.deliveries.map((d) => [d.url, d.status]).sort()).toEqual(
      [
        [EXACT.url, 'delivered'],
        [PREFIX.url, 'delivered'],
      ].sort(),
    );
    // Retention on it: every settled event goes, the 1 in 50 holding a dead delivery stays. The
    // lookup rows only purged events held (OrderCreated; the old URL is still a dead delivery's)
    // stay while the integration events left span more rowids than the prune reads under the
    // lock, and go when it is let read them all.
    const pass = await runRetentionPass(stores.retention, { before: now + 1, maxBatches: 1000 });
    expect(pass).toMatchObject({
      events: EVENTS - EVENTS / 50 + 1,
      eventTypes: 0,
      endpoints: 0,
      subscriptionRefs: 0,
      done: true,
    });
    expect(await stores.retention.prune({ limit: 50, holderRows: 2 * INTEGRATION })).toEqual({
      eventTypes: 1,
      endpoints: 0,
      subscriptionRefs: 0,
    });
    expect(await one('SELECT count(*) AS n FROM domain_events')).toEqual({ n: EVENTS / 50 });
    expect(await driver.query('PRAGMA foreign_key_check')).toEqual([]);
  }, 120_000);
});
