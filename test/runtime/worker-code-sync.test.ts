import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { defineIntegrationEvent } from '../../src/core/integration-event.ts';
import { createRegistry } from '../../src/core/registry.ts';
import { defineSubscription } from '../../src/core/subscription.ts';
import { createWorkerCodeSync } from '../../src/runtime/worker-code-sync.ts';
import type { SqlDriver, SqlStatement } from '../../src/store/sql-driver.ts';

// The Worker composes its mesh without a database round trip: the code subscriptions' sync rides
// on the isolate's first database call (test/worker/worker.test.ts shows it in workerd on D1).

type Call =
  | { kind: 'query'; sql: string }
  | { kind: 'batch'; sql: string[] }
  | { kind: 'queryAfter'; sql: string[] };

function fakeDriver(options: { fail?: () => boolean } = {}) {
  const calls: Call[] = [];
  const driver: SqlDriver = {
    maxParams: 100,
    async query(sql) {
      calls.push({ kind: 'query', sql });
      return [{ answer: sql }];
    },
    async batch(statements) {
      calls.push({ kind: 'batch', sql: statements.map((s) => s.sql) });
      if (options.fail?.()) throw new Error('database away');
      return statements.map((_, i) => i + 1);
    },
    isConstraintError: () => false,
    async close() {},
  };
  const queryAfter = async (statements: readonly SqlStatement[], sql: string) => {
    calls.push({ kind: 'queryAfter', sql: [...statements.map((s) => s.sql), sql] });
    if (options.fail?.()) throw new Error('database away');
    return [{ answer: sql }];
  };
  return { driver, queryAfter, calls };
}

const OrderCreatedV1 = defineIntegrationEvent('order.created.v1', v.object({ orderId: v.string() }));
const declared = createRegistry({
  domainEvents: [],
  integrationEvents: [OrderCreatedV1],
  converters: [],
  subscriptions: [defineSubscription(OrderCreatedV1, 'https://billing.example.com/hooks')],
}).subscriptions;

describe('the Worker’s code subscription sync', () => {
  it('runs nothing while composing, then rides on the first write batch, ahead of its statements', async () => {
    const { driver, queryAfter, calls } = fakeDriver();
    const sync = createWorkerCodeSync(driver, queryAfter);
    await sync.syncCodeSubscriptions(declared, 1_000);
    expect(calls).toEqual([]);

    const changed = await sync.driver.batch([{ sql: 'INSERT INTO events', args: [] }]);
    expect(changed).toHaveLength(1);
    const first = calls[0] as Extract<Call, { kind: 'batch' }>;
    expect(first.kind).toBe('batch');
    expect(first.sql.at(-1)).toBe('INSERT INTO events');
    expect(first.sql.slice(0, -1).some((sql) => sql.includes('INSERT INTO subscriptions'))).toBe(true);

    await sync.driver.batch([{ sql: 'INSERT INTO events', args: [] }]);
    await sync.driver.query('SELECT 1');
    expect(calls.slice(1)).toEqual([
      { kind: 'batch', sql: ['INSERT INTO events'] },
      { kind: 'query', sql: 'SELECT 1' },
    ]);
  });

  it('turns a first read into one transaction that syncs, then reads', async () => {
    const { driver, queryAfter, calls } = fakeDriver();
    const sync = createWorkerCodeSync(driver, queryAfter);
    await sync.syncCodeSubscriptions(declared, 1_000);

    expect(await sync.driver.query('SELECT revision FROM subscription_revision')).toEqual([
      { answer: 'SELECT revision FROM subscription_revision' },
    ]);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.kind).toBe('queryAfter');
    expect((calls[0] as Extract<Call, { kind: 'queryAfter' }>).sql.at(-1)).toBe(
      'SELECT revision FROM subscription_revision',
    );
    await sync.driver.query('SELECT 1');
    expect(calls[1]).toEqual({ kind: 'query', sql: 'SELECT 1' });
  });

  it('keeps the sync pending while the call carrying it fails', async () => {
    let failing = true;
    const { driver, queryAfter, calls } = fakeDriver({ fail: () => failing });
    const sync = createWorkerCodeSync(driver, queryAfter);
    await sync.syncCodeSubscriptions(declared, 1_000);

    await expect(sync.driver.batch([{ sql: 'INSERT INTO events', args: [] }])).rejects.toThrow(
      'database away',
    );
    failing = false;
    await sync.driver.batch([{ sql: 'INSERT INTO events', args: [] }]);
    const second = calls[1] as Extract<Call, { kind: 'batch' }>;
    expect(second.sql.length).toBeGreaterThan(1);
    expect(second.sql.at(-1)).toBe('INSERT INTO events');
  });
});
