import { describe, expect, it } from 'vitest';
import type { NewDomainEvent } from '../../src/core/event-store.ts';
import { defineSubscription } from '../../src/core/subscription.ts';
import { OrderCreatedV1 } from '../../src/example/orders.ts';
import type { SqlDriver } from '../../src/store/sql-driver.ts';
import { deliveryIdOut } from '../../src/store/sql-ids.ts';
import { createSqlMetricsStore, toAcceptedAt } from '../../src/store/sql-metrics.ts';
import { createSqlStores } from '../../src/store/sql-stores.ts';
import { sqlBackends } from '../support/sql-backends.ts';

const NOW = Date.UTC(2026, 0, 15, 12);

/** Rows as the stores leave them, written directly so every status and edge is there at once. */
async function seed(driver: SqlDriver): Promise<void> {
  const deliveries: [string, number][] = [
    ['pending', NOW - 5000],
    ['pending', NOW + 60_000],
    ['retrying', NOW - 42_000],
    ['retrying', NOW + 1000],
    ['in_flight', NOW - 900_000],
    ['delivered', NOW - 1_000_000],
    ['delivered', NOW],
    ['delivered', NOW],
    ['dead', NOW - 2_000_000],
  ];
  await driver.batch([
    {
      sql: `INSERT INTO event_types (ref, name) VALUES (1, 'OrderCreated'), (2, 'order.created.v1')`,
      args: [],
    },
    {
      sql: `INSERT INTO domain_events (ref, id, type_ref, source, data, received_at) VALUES (1, 'e1', 1, 'billing', '{}', ?1)`,
      args: [NOW],
    },
    {
      sql: `INSERT INTO integration_events (ref, id, domain_event_ref, seq, type_ref, source, time, data)
            VALUES (1, 'ie1', 1, 0, 2, '/producers/billing', '2026-01-15T12:00:00Z', '{}')`,
      args: [],
    },
    // First: their insert trigger numbers them and their URL (0008), which deliveries refer to.
    ...[
      ['s1', null, null],
      ['s2', null, null],
      ['paused', null, NOW - 86_400_000],
      ['gone', NOW, null],
      ['gone-paused', NOW, NOW],
    ].map(([id, deletedAt, pausedAt]) => ({
      sql: `INSERT INTO subscriptions (id, type, url, retries, origin, created_at, updated_at, deleted_at, paused_at)
            VALUES (?1, 'order.created.v1', 'http://h.test/', 10, 'api', ?2, ?2, ?3, ?4)`,
      args: [id!, NOW, deletedAt!, pausedAt!],
    })),
    ...deliveries.map(([status, due], i) => ({
      sql: `INSERT INTO deliveries (id, integration_event_ref, subscription_ref, endpoint_id, status, max_retries, next_attempt_at, created_at, updated_at)
            VALUES (?1, 1, (SELECT ref FROM subscription_refs WHERE id = ?2), 1, ?3, 10, ?4, ?5, ?5)`,
      args: [`d${i}`, i % 2 === 0 ? 's1' : 's2', status, due, NOW],
    })),
    // Held by a paused subscription: due long ago, but waiting on purpose.
    ...[
      ['held-1', 'pending', NOW - 3_600_000],
      ['held-2', 'retrying', NOW - 7_200_000],
    ].map(([id, status, due]) => ({
      sql: `INSERT INTO deliveries (id, integration_event_ref, subscription_ref, endpoint_id, status, max_retries, next_attempt_at, created_at, updated_at)
            VALUES (?1, 1, (SELECT ref FROM subscription_refs WHERE id = 'paused'), 1, ?2, 10, ?3, ?4, ?4)`,
      args: [id!, status!, due!, NOW],
    })),
  ]);
}

function describeMetricsStore(name: string, open: () => Promise<SqlDriver>) {
  describe(`SQL metrics store on ${name}`, () => {
    it('reads nothing as zeros and no due delivery', async () => {
      const gauges = await createSqlMetricsStore(await open()).readGauges();
      expect(gauges).toEqual({
        deliveries: { pending: 0, in_flight: 0, retrying: 0, delivered: 0, dead: 0 },
        earliestDueAt: null,
        subscriptions: { active: 0, paused: 0 },
      });
    });

    it('counts deliveries per status, the earliest due time of those not held, live subscriptions by state', async () => {
      const driver = await open();
      await seed(driver);
      expect(await createSqlMetricsStore(driver).readGauges()).toEqual({
        deliveries: { pending: 3, in_flight: 1, retrying: 3, delivered: 3, dead: 1 },
        // In flight is not waiting to be due, whatever its next_attempt_at says; held ones wait on purpose.
        earliestDueAt: NOW - 42_000,
        subscriptions: { active: 2, paused: 1 },
      });
    });
  });
}

const backends = sqlBackends();
for (const backend of backends) describeMetricsStore(backend.name, backend.open);
const libsqlFile = backends.find((b) => b.name === 'libSQL (file)')!;

describe('the gauges query', () => {
  it('reads deliveries through indexes only: no step visits their table', async () => {
    const driver = await libsqlFile.open();
    const statements: string[] = [];
    const spy: SqlDriver = {
      ...driver,
      query: (sql, args) => {
        statements.push(sql);
        return driver.query(sql, args);
      },
    };
    await createSqlMetricsStore(spy).readGauges();
    expect(statements).toHaveLength(1);
    const plan = await driver.query(`EXPLAIN QUERY PLAN ${statements[0]}`);
    const steps = plan.map((r) => String(r.detail)).filter((d) => /^(SCAN|SEARCH) (deliveries|d)\b/.test(d));
    expect(steps.length).toBeGreaterThanOrEqual(7);
    for (const step of steps) expect(step).toMatch(/USING COVERING INDEX/);
  });
});

describe('toAcceptedAt', () => {
  it('reads the acceptance time from the ids the SQL store gives deliveries', async () => {
    const driver = await libsqlFile.open();
    const stores = createSqlStores({ driver });
    await stores.subscriptions.syncCodeSubscriptions(
      [defineSubscription(OrderCreatedV1, 'http://h.test/hook', { id: 's1' })],
      NOW,
    );
    const event = (id: string, receivedAt: number): NewDomainEvent => ({
      id,
      type: 'OrderCreated',
      source: 'billing',
      data: '{}',
      occurredAt: null,
      metadata: null,
      traceparent: null,
      receivedAt,
      integrationEvents: [
        { id: `${id}/ie`, type: 'order.created.v1', source: '/producers/billing', time: 'x', data: '{}' },
      ],
    });
    expect(await stores.events.appendEvents([event('a', NOW)])).toEqual({ ok: true });
    expect(await stores.events.appendEvents([event('b', NOW + 1234)])).toEqual({ ok: true });
    const rows = await driver.query(
      `SELECT ${deliveryIdOut('id')} AS id, created_at FROM deliveries ORDER BY created_at`,
    );
    expect(rows.map((r) => toAcceptedAt(String(r.id)))).toEqual([NOW, NOW + 1234]);
    expect(rows.map((r) => Number(r.created_at))).toEqual([NOW, NOW + 1234]);
  });

  it('is null for ids of another shape', () => {
    for (const id of ['d1', 'sub-1', '019ad4a1c2f0', `${'0'.repeat(31)}g`, `${'A'.repeat(32)}`]) {
      expect(toAcceptedAt(id)).toBeNull();
    }
  });
});
