import { drizzle } from 'drizzle-orm/libsql';
import { afterEach, describe, expect, it } from 'vitest';
import { createLibsqlInbox, createSqlInbox } from '../../src/store/libsql-inbox.ts';
import * as schema from '../../src/store/schema.ts';
import type { SqlDriver, SqlStatement } from '../../src/store/sql-driver.ts';
import { describeInboxContract } from '../handler/inbox.contract.ts';
import { createTempDb, type TempDb } from '../support/temp-db.ts';

const NOW = 1_800_000_000_000;
const LEASE = 60_000;

/** The driver, with every transaction it runs recorded; `fail` makes chosen statements throw. */
function spyOn(driver: SqlDriver, fail: (statement: SqlStatement) => unknown = () => undefined) {
  const transactions: (readonly SqlStatement[])[] = [];
  const spy: SqlDriver = {
    ...driver,
    async batch(statements) {
      transactions.push(statements);
      for (const statement of statements) {
        const error = fail(statement);
        if (error !== undefined) throw error;
      }
      return driver.batch(statements);
    },
  };
  return { driver: spy, transactions };
}

/** What a libSQL constraint failure looks like to `isConstraintError`. */
const constraintError = () =>
  Object.assign(new Error('NOT NULL constraint failed'), { code: 'SQLITE_CONSTRAINT' });

// The Worker's path (createSqlInbox without grouping, as createD1Inbox and src/runtime/worker.ts
// build it) on a libSQL file, next to the grouped default that test/handler runs the contract on.
describeInboxContract('libSQL file, ungrouped', async () => {
  const db = await createTempDb();
  return {
    inbox: createLibsqlInbox(db.client, db.driver, { groupCommit: false }),
    dispose: () => db.dispose(),
  };
});

describe('libSQL inbox: group commit', () => {
  let db: TempDb | undefined;
  afterEach(async () => {
    await db?.dispose();
  });

  it('20 concurrent claims of distinct keys share one transaction, each claimed', async () => {
    db = await createTempDb();
    const { driver, transactions } = spyOn(db.driver);
    const inbox = createLibsqlInbox(db.client, driver);
    const keys = Array.from({ length: 20 }, (_, i) => ({ handler: 'billing', eventId: `ie_${i}` }));
    const results = await Promise.all(keys.map((key) => inbox.claim({ ...key, nowMs: NOW, leaseMs: LEASE })));
    expect(results).toEqual(keys.map(() => 'claimed'));
    expect(transactions).toHaveLength(1);
    expect(transactions[0]).toHaveLength(20);

    await Promise.all(keys.map((key) => inbox.complete({ ...key, nowMs: NOW + 1 })));
    expect(transactions).toHaveLength(2);
    expect(transactions[1]).toHaveLength(20);
    expect(await db.driver.query("SELECT count(*) AS n FROM inbox WHERE status = 'done'")).toEqual([
      { n: 20 },
    ]);
  });

  it('racing claims of one key in one transaction: exactly one is claimed, the rest see it running', async () => {
    db = await createTempDb();
    const { driver, transactions } = spyOn(db.driver);
    const inbox = createLibsqlInbox(db.client, driver);
    const key = { handler: 'billing', eventId: 'ie_1' };
    const results = await Promise.all(
      Array.from({ length: 10 }, () => inbox.claim({ ...key, nowMs: NOW, leaseMs: LEASE })),
    );
    expect(results.filter((r) => r === 'claimed')).toHaveLength(1);
    expect(results.filter((r) => r === 'running')).toHaveLength(9);
    expect(transactions).toHaveLength(1);
    expect(await db.count('inbox')).toBe(1);
  });

  it('a claim resolves only after its transaction has committed', async () => {
    db = await createTempDb();
    const real = db.driver;
    let committed = false;
    const driver: SqlDriver = {
      ...real,
      async batch(statements) {
        const changed = await real.batch(statements);
        await new Promise((resolve) => setTimeout(resolve, 20));
        committed = true;
        return changed;
      },
    };
    const inbox = createLibsqlInbox(db.client, driver);
    const claim = inbox.claim({ handler: 'billing', eventId: 'ie_1', nowMs: NOW, leaseMs: LEASE });
    expect(await claim).toBe('claimed');
    expect(committed).toBe(true);
  });

  it("a statement's own failure fails only its caller: the others are retried alone and succeed", async () => {
    db = await createTempDb();
    const bad = 'ie_bad';
    const { driver, transactions } = spyOn(db.driver, (s) =>
      s.args[1] === bad ? constraintError() : undefined,
    );
    const inbox = createLibsqlInbox(db.client, driver);
    const ids = ['ie_0', 'ie_1', bad, 'ie_2'];
    const results = await Promise.allSettled(
      ids.map((eventId) => inbox.claim({ handler: 'billing', eventId, nowMs: NOW, leaseMs: LEASE })),
    );
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : 'rejected'))).toEqual([
      'claimed',
      'claimed',
      'rejected',
      'claimed',
    ]);
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ code: 'SQLITE_CONSTRAINT' });
    // The shared attempt, rolled back, then each statement alone.
    expect(transactions.map((t) => t.length)).toEqual([4, 1, 1, 1, 1]);
    expect(await db.count('inbox')).toBe(3);
  });

  it('a real constraint failure in SQLite rolls back the group, and isolation recovers the rest', async () => {
    db = await createTempDb();
    const inbox = createLibsqlInbox(db.client, db.driver);
    const results = await Promise.allSettled([
      inbox.claim({ handler: 'billing', eventId: 'ie_0', nowMs: NOW, leaseMs: LEASE }),
      // NOT NULL on inbox.event_id.
      inbox.claim({ handler: 'billing', eventId: null as unknown as string, nowMs: NOW, leaseMs: LEASE }),
      inbox.complete({ handler: 'billing', eventId: 'ie_1', nowMs: NOW }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(await db.driver.query('SELECT event_id, status FROM inbox ORDER BY event_id')).toEqual([
      { event_id: 'ie_0', status: 'running' },
      { event_id: 'ie_1', status: 'done' },
    ]);
  });

  it('trouble of the database itself fails the whole group at once, without retrying each alone', async () => {
    db = await createTempDb();
    const busy = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
    const { driver, transactions } = spyOn(db.driver, () => busy);
    const inbox = createLibsqlInbox(db.client, driver);
    const results = await Promise.allSettled(
      ['ie_0', 'ie_1', 'ie_2'].map((eventId) =>
        inbox.claim({ handler: 'billing', eventId, nowMs: NOW, leaseMs: LEASE }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(transactions).toHaveLength(1);
  });

  it('without group commit (the Worker path), each write is its own transaction', async () => {
    db = await createTempDb();
    const { driver, transactions } = spyOn(db.driver);
    // As src/runtime/worker.ts and createD1Inbox build it: no groupCommit option.
    const inbox = createSqlInbox({ db: drizzle(db.client, { schema }), driver });
    await Promise.all(
      ['ie_0', 'ie_1', 'ie_2'].map((eventId) =>
        inbox.claim({ handler: 'billing', eventId, nowMs: NOW, leaseMs: LEASE }),
      ),
    );
    expect(transactions.map((t) => t.length)).toEqual([1, 1, 1]);
  });
});
