import * as v from 'valibot';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defineIntegrationEvent } from '../../src/core/integration-event.ts';
import { createRegistry } from '../../src/core/registry.ts';
import { defineSubscription } from '../../src/core/subscription.ts';
import { createWorkerCodeSync } from '../../src/runtime/worker-code-sync.ts';
import type { SqlDriver, SqlStatement } from '../../src/store/sql-driver.ts';
import { createTempDb, type TempDb } from '../support/temp-db.ts';

// The Worker composes its mesh without a database round trip: the code subscriptions' sync rides
// on the isolate's first database call (test/worker/worker.test.ts shows it in workerd on D1) — a
// check of one statement while the database already holds what is declared, the sync itself when
// it does not. On a real libSQL file: the check is SQL.

type Call = { kind: 'query' | 'batch' | 'queryAfter'; sql: string[] };

/** The temp database's driver, with every call it is given written down (and failing while `fail`). */
function recorded(db: TempDb, options: { fail?: () => boolean } = {}) {
  const calls: Call[] = [];
  const failing = () => {
    if (options.fail?.()) throw new Error('database away');
  };
  const driver: SqlDriver = {
    ...db.driver,
    async query(sql, args) {
      calls.push({ kind: 'query', sql: [sql] });
      failing();
      return db.driver.query(sql, args);
    },
    async batch(statements) {
      calls.push({ kind: 'batch', sql: statements.map((s) => s.sql) });
      failing();
      return db.driver.batch(statements);
    },
  };
  // One transaction, as D1's batch: the statements, then the query as the batch's last statement.
  const queryAfter = async (statements: readonly SqlStatement[], sql: string) => {
    calls.push({ kind: 'queryAfter', sql: [...statements.map((s) => s.sql), sql] });
    failing();
    const tx = await db.client.batch(
      [...statements, { sql, args: [] }].map((s) => ({ sql: s.sql, args: [...s.args] })),
      'write',
    );
    return tx.at(-1)!.rows.map((r) => ({ ...r }));
  };
  return { driver, queryAfter, calls };
}

const OrderCreatedV1 = defineIntegrationEvent('order.created.v1', v.object({ orderId: v.string() }));
const declaredAt = (url: string) =>
  createRegistry({
    domainEvents: [],
    integrationEvents: [OrderCreatedV1],
    converters: [],
    subscriptions: [defineSubscription(OrderCreatedV1, url)],
  }).subscriptions;
const declared = declaredAt('https://billing.example.com/hooks');

const EVENT_TYPE = { sql: "INSERT INTO event_types (name) VALUES ('test.v1')", args: [] };
const syncs = (call: Call | undefined) =>
  call?.sql.some((sql) => sql.includes('INSERT INTO subscriptions')) ?? false;
const codeRows = async (db: TempDb) =>
  db.driver.query(
    "SELECT id, url, updated_at FROM subscriptions WHERE origin = 'code' AND deleted_at IS NULL",
  );

describe('the Worker’s code subscription sync', () => {
  let db: TempDb;
  beforeEach(async () => {
    db = await createTempDb();
  });
  afterEach(async () => {
    await db.dispose();
  });

  it('runs nothing while composing, then rides on the first write batch, ahead of its statements', async () => {
    const { driver, queryAfter, calls } = recorded(db);
    const sync = createWorkerCodeSync(driver, queryAfter);
    await sync.syncCodeSubscriptions(declared, 1_000);
    expect(calls).toEqual([]);

    const changed = await sync.driver.batch([EVENT_TYPE]);
    expect(changed).toEqual([1]);
    // Nothing synced yet: the check failed its batch, which ran again with the sync ahead of it.
    expect(calls).toHaveLength(2);
    expect(syncs(calls[0])).toBe(false);
    expect(syncs(calls[1])).toBe(true);
    expect(calls[1]!.sql.at(-1)).toBe(EVENT_TYPE.sql);
    expect(await codeRows(db)).toEqual([
      expect.objectContaining({ url: 'https://billing.example.com/hooks', updated_at: 1_000 }),
    ]);

    await sync.driver.batch([{ sql: "INSERT INTO event_types (name) VALUES ('test.v2')", args: [] }]);
    await sync.driver.query('SELECT 1');
    expect(calls.slice(2)).toEqual([
      { kind: 'batch', sql: ["INSERT INTO event_types (name) VALUES ('test.v2')"] },
      { kind: 'query', sql: ['SELECT 1'] },
    ]);
  });

  it('checks instead of syncing where the database holds what is declared: one statement, nothing rewritten', async () => {
    // An earlier isolate of the same deployment synced.
    const earlier = createWorkerCodeSync(db.driver, recorded(db).queryAfter);
    await earlier.syncCodeSubscriptions(declared, 1_000);
    await earlier.driver.query('SELECT 1');

    const { driver, queryAfter, calls } = recorded(db);
    const sync = createWorkerCodeSync(driver, queryAfter);
    await sync.syncCodeSubscriptions(declared, 2_000);
    expect(await sync.driver.batch([EVENT_TYPE])).toEqual([1]);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.sql).toHaveLength(2);
    expect(syncs(calls[0])).toBe(false);
    expect(await codeRows(db)).toEqual([expect.objectContaining({ updated_at: 1_000 })]);
  });

  it('syncs when the deployed code declares otherwise: a changed URL, a subscription retired', async () => {
    const earlier = createWorkerCodeSync(db.driver, recorded(db).queryAfter);
    await earlier.syncCodeSubscriptions(declared, 1_000);
    await earlier.driver.query('SELECT 1');

    const moved = createWorkerCodeSync(db.driver, recorded(db).queryAfter);
    await moved.syncCodeSubscriptions(declaredAt('https://billing.example.com/v2/hooks'), 2_000);
    await moved.driver.batch([EVENT_TYPE]);
    expect(await codeRows(db)).toEqual([
      expect.objectContaining({ url: 'https://billing.example.com/v2/hooks', updated_at: 2_000 }),
    ]);

    const none = createWorkerCodeSync(db.driver, recorded(db).queryAfter);
    await none.syncCodeSubscriptions([], 3_000);
    await none.driver.query('SELECT 1');
    expect(await codeRows(db)).toEqual([]);
  });

  it('turns a first read into one transaction that syncs, then reads', async () => {
    const { driver, queryAfter, calls } = recorded(db);
    const sync = createWorkerCodeSync(driver, queryAfter);
    await sync.syncCodeSubscriptions(declared, 1_000);

    expect(await sync.driver.query('SELECT count(*) AS n FROM subscriptions')).toEqual([{ n: 1 }]);
    expect(calls.map((c) => c.kind)).toEqual(['queryAfter', 'queryAfter']);
    expect(calls[1]!.sql.at(-1)).toBe('SELECT count(*) AS n FROM subscriptions');
    await sync.driver.query('SELECT 1');
    expect(calls[2]).toEqual({ kind: 'query', sql: ['SELECT 1'] });
  });

  it('keeps the sync pending while the call carrying it fails', async () => {
    let failing = true;
    const { driver, queryAfter, calls } = recorded(db, { fail: () => failing });
    const sync = createWorkerCodeSync(driver, queryAfter);
    await sync.syncCodeSubscriptions(declared, 1_000);

    await expect(sync.driver.batch([EVENT_TYPE])).rejects.toThrow('database away');
    failing = false;
    await sync.driver.batch([EVENT_TYPE]);
    expect(syncs(calls.at(-1))).toBe(true);
    expect(calls.at(-1)!.sql.at(-1)).toBe(EVENT_TYPE.sql);
    expect(await codeRows(db)).toHaveLength(1);
  });
});
