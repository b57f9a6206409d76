import { type Client, createClient, type InValue } from '@libsql/client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createSqlInbox,
  type SqlInboxExecutor,
  type SqlInboxStatement,
} from '../../src/handler/sql-inbox.ts';
import { createTempDir, type TempDir } from './temp-dir.ts';

// createSqlInbox over a recording executor on a real, empty libSQL file: what group commit shares,
// what a failure takes down, and when the table is created.

const NOW = 1_800_000_000_000;
const LEASE = 60_000;

const isCreate = (statement: SqlInboxStatement) =>
  statement.sql.startsWith('CREATE ') || statement.sql.includes('FROM inbox_tokens');
/** The first use's transaction: the inbox's tables (and the take-over of older tokens), nothing else. */
const isCreation = (t: readonly SqlInboxStatement[]) => t.length > 0 && t.every(isCreate);
const isClaim = (statement: SqlInboxStatement) => statement.sql.includes("'running'");
const isPurge = (statement: SqlInboxStatement) => statement.sql.startsWith('DELETE FROM inbox WHERE rowid');

class StatementFault extends Error {}

interface SpyOptions {
  /** Makes chosen statements fail: the error their transaction throws. */
  readonly fail?: (statement: SqlInboxStatement) => Error | undefined;
  /** Awaited after a transaction has run, before `run` answers. */
  readonly afterRun?: (statements: readonly SqlInboxStatement[]) => Promise<void>;
}

/** An executor on `client` that records every transaction it runs. */
function spyExecutor(client: Client, options: SpyOptions = {}) {
  const transactions: (readonly SqlInboxStatement[])[] = [];
  const executor: SqlInboxExecutor = {
    async run(statements) {
      transactions.push(statements);
      for (const statement of statements) {
        const error = options.fail?.(statement);
        if (error !== undefined) throw error;
      }
      const results = await client.batch(
        statements.map((s) => ({ sql: s.sql, args: s.args as InValue[] })),
        'write',
      );
      await options.afterRun?.(statements);
      return results.map((r) => r.rowsAffected);
    },
    async query(sql, args) {
      return (await client.execute({ sql, args: args as InValue[] })).rows;
    },
    isStatementFault: (error) => error instanceof StatementFault,
  };
  /**
   * Transactions as their sizes, the table creations shown as 'create'; the hourly retention pass
   * (its own test below) left out.
   */
  const shape = () =>
    transactions
      .filter((t) => !(t.length === 1 && isPurge(t[0]!)))
      .map((t) => (isCreation(t) ? 'create' : t.length));
  return { executor, transactions, shape };
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('createSqlInbox', () => {
  let temp: TempDir;
  let client: Client;
  beforeEach(() => {
    temp = createTempDir();
    client = createClient({ url: temp.fileUrl() });
  });
  afterEach(() => {
    client.close();
    temp.dispose();
  });

  const count = async (where = '1') =>
    Number((await client.execute(`SELECT count(*) AS n FROM inbox WHERE ${where}`)).rows[0]!.n);

  describe('with group commit', () => {
    it('20 concurrent claims of distinct keys share one transaction, after one shared CREATE TABLE', async () => {
      const spy = spyExecutor(client);
      const inbox = createSqlInbox({ executor: spy.executor, groupCommit: true });
      const keys = Array.from({ length: 20 }, (_, i) => ({ handler: 'billing', eventId: `ie_${i}` }));

      const results = await Promise.all(
        keys.map((key) => inbox.claim({ ...key, nowMs: NOW, leaseMs: LEASE })),
      );
      expect(results).toEqual(keys.map(() => 'claimed'));
      expect(spy.shape()).toEqual(['create', 20]);

      await Promise.all(keys.map((key) => inbox.complete({ ...key, nowMs: NOW + 1 })));
      expect(spy.shape()).toEqual(['create', 20, 20]);
      expect(await count("status = 'done'")).toBe(20);
    });

    it('racing claims of one key in one transaction: exactly one is claimed, the rest see it running', async () => {
      const spy = spyExecutor(client);
      const inbox = createSqlInbox({ executor: spy.executor, groupCommit: true });
      const key = { handler: 'billing', eventId: 'ie_1' };
      const results = await Promise.all(
        Array.from({ length: 10 }, () => inbox.claim({ ...key, nowMs: NOW, leaseMs: LEASE })),
      );
      expect(results.filter((r) => r === 'claimed')).toHaveLength(1);
      expect(results.filter((r) => r === 'running')).toHaveLength(9);
      expect(spy.shape()).toEqual(['create', 10]);
      expect(await count()).toBe(1);
    });

    it('a claim resolves only after its transaction has run to the end', async () => {
      const reached = deferred();
      const commit = deferred();
      const spy = spyExecutor(client, {
        async afterRun(statements) {
          if (!statements.some(isClaim)) return;
          reached.resolve();
          await commit.promise;
        },
      });
      const inbox = createSqlInbox({ executor: spy.executor, groupCommit: true });
      let answered = false;
      const claim = inbox
        .claim({ handler: 'billing', eventId: 'ie_1', nowMs: NOW, leaseMs: LEASE })
        .then((r) => {
          answered = true;
          return r;
        });

      await reached.promise;
      await Promise.resolve();
      expect(answered).toBe(false);
      commit.resolve();
      expect(await claim).toBe('claimed');
    });

    it("a statement's own failure fails only its caller: the others are retried alone and succeed", async () => {
      const bad = 'ie_bad';
      const spy = spyExecutor(client, {
        fail: (s) => (s.args[1] === bad ? new StatementFault('NOT NULL constraint failed') : undefined),
      });
      const inbox = createSqlInbox({ executor: spy.executor, groupCommit: true });
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
      expect((results[2] as PromiseRejectedResult).reason).toBeInstanceOf(StatementFault);
      // The shared attempt, rolled back, then each statement alone.
      expect(spy.shape()).toEqual(['create', 4, 1, 1, 1, 1]);
      expect(await count()).toBe(3);
    });

    it('trouble of the database itself fails the whole group at once, without retrying each alone', async () => {
      const busy = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
      const spy = spyExecutor(client, { fail: (s) => (isClaim(s) ? busy : undefined) });
      const inbox = createSqlInbox({ executor: spy.executor, groupCommit: true });
      const results = await Promise.allSettled(
        ['ie_0', 'ie_1', 'ie_2'].map((eventId) =>
          inbox.claim({ handler: 'billing', eventId, nowMs: NOW, leaseMs: LEASE }),
        ),
      );
      expect(results).toEqual(results.map(() => ({ status: 'rejected', reason: busy })));
      expect(spy.shape()).toEqual(['create', 3]);
    });

    it('without isStatementFault, a failed shared transaction fails every caller in it', async () => {
      const spy = spyExecutor(client, {
        fail: (s) => (s.args[1] === 'ie_bad' ? new StatementFault('refused') : undefined),
      });
      const { isStatementFault: _, ...executor } = spy.executor;
      const inbox = createSqlInbox({ executor, groupCommit: true });
      const results = await Promise.allSettled(
        ['ie_0', 'ie_bad'].map((eventId) =>
          inbox.claim({ handler: 'billing', eventId, nowMs: NOW, leaseMs: LEASE }),
        ),
      );
      expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
      expect(spy.shape()).toEqual(['create', 2]);
    });
  });

  describe('without group commit (the Worker path)', () => {
    it('each write is its own transaction; until the table is known, each caller creates it itself', async () => {
      const spy = spyExecutor(client);
      const inbox = createSqlInbox({ executor: spy.executor });
      const claimAll = (eventIds: readonly string[]) =>
        Promise.all(
          eventIds.map((eventId) => inbox.claim({ handler: 'billing', eventId, nowMs: NOW, leaseMs: LEASE })),
        );

      expect(await claimAll(['ie_0', 'ie_1', 'ie_2'])).toEqual(['claimed', 'claimed', 'claimed']);
      // No caller waits on another's CREATE: in workerd that other request may be gone.
      expect(spy.shape().filter((t) => t === 'create')).toHaveLength(3);
      expect(spy.shape().filter((t) => t !== 'create')).toEqual([1, 1, 1]);

      spy.transactions.length = 0;
      await claimAll(['ie_3', 'ie_4']);
      expect(spy.shape()).toEqual([1, 1]);
    });
  });

  describe('creating the table', () => {
    it('happens once per inbox: every use after the first finds it known', async () => {
      const spy = spyExecutor(client);
      const inbox = createSqlInbox({ executor: spy.executor, groupCommit: true });
      const key = { handler: 'billing', eventId: 'ie_1' };
      await inbox.release({ ...key, claimedAt: NOW });
      await inbox.claim({ ...key, nowMs: NOW, leaseMs: LEASE });
      await inbox.complete({ ...key, nowMs: NOW });
      expect(spy.shape()).toEqual(['create', 1, 1, 1]);
    });

    for (const groupCommit of [true, false]) {
      it(`a failed CREATE fails its callers and is tried again by the next call (groupCommit: ${groupCommit})`, async () => {
        let refuse = true;
        const spy = spyExecutor(client, {
          fail: (s) => (isCreate(s) && refuse ? new Error('disk I/O error') : undefined),
        });
        const inbox = createSqlInbox({ executor: spy.executor, groupCommit });
        const key = { handler: 'billing', eventId: 'ie_1' };
        await expect(inbox.claim({ ...key, nowMs: NOW, leaseMs: LEASE })).rejects.toThrow('disk I/O error');
        refuse = false;
        expect(await inbox.claim({ ...key, nowMs: NOW, leaseMs: LEASE })).toBe('claimed');
        expect(spy.shape()).toEqual(['create', 'create', 1]);
      });
    }

    it('on a database that has the table, leaves its rows alone', async () => {
      const first = createSqlInbox({ executor: spyExecutor(client).executor });
      await first.complete({ handler: 'billing', eventId: 'ie_1', nowMs: NOW });
      const second = createSqlInbox({ executor: spyExecutor(client).executor, groupCommit: true });
      expect(await second.claim({ handler: 'billing', eventId: 'ie_1', nowMs: NOW, leaseMs: LEASE })).toBe(
        'done',
      );
    });
  });

  describe('retention', () => {
    const DAY = 86_400_000;

    it('forgets handled events only past the longest retry schedule, in a pass at most once an hour', async () => {
      const spy = spyExecutor(client);
      // Asked for a day: raised to DEFAULT_INBOX_RETENTION_MS (21 days), as forgetting earlier would
      // run a handler twice on a late retry.
      const inbox = createSqlInbox({ executor: spy.executor, retainMs: DAY });
      const key = (eventId: string) => ({ handler: 'billing', eventId });
      await inbox.complete({ ...key('old'), nowMs: NOW });
      await inbox.complete({ ...key('recent'), nowMs: NOW + 10 * DAY });
      // 20 days after the first: a retry may still come; the pass runs and keeps it.
      await inbox.complete({ ...key('x'), nowMs: NOW + 20 * DAY });
      expect(await inbox.claim({ ...key('old'), nowMs: NOW + 20 * DAY, leaseMs: LEASE })).toBe('done');
      // 22 days after: gone (a pass ran), while the 12-day-old entry stays.
      await inbox.complete({ ...key('y'), nowMs: NOW + 22 * DAY });
      expect(await inbox.claim({ ...key('old'), nowMs: NOW + 22 * DAY, leaseMs: LEASE })).toBe('claimed');
      expect(await inbox.claim({ ...key('recent'), nowMs: NOW + 22 * DAY, leaseMs: LEASE })).toBe('done');
      const passes = spy.transactions.filter((t) => t.length === 1 && isPurge(t[0]!));
      expect(passes).toHaveLength(4);
      // A fifth complete within the hour runs no pass.
      await inbox.complete({ ...key('z'), nowMs: NOW + 22 * DAY + 1000 });
      expect(spy.transactions.filter((t) => t.length === 1 && isPurge(t[0]!))).toHaveLength(4);
    });

    it('token records go once expired: each new record takes a few expired ones with it, in its transaction', async () => {
      const spy = spyExecutor(client);
      const inbox = createSqlInbox({ executor: spy.executor, groupCommit: true });
      const record = (jti: string, nowMs: number) =>
        inbox.recordToken({ jti, handler: 'billing', eventId: jti, expiresAtMs: nowMs + 305_000, nowMs });
      await Promise.all(Array.from({ length: 10 }, (_, i) => record(`old_${i}`, NOW)));
      const count = async () =>
        Number((await client.execute('SELECT count(*) AS n FROM inbox_jtis')).rows[0]?.n);
      expect(await count()).toBe(10);
      const later = NOW + 305_000;
      spy.transactions.length = 0;
      await record('new_1', later);
      // One transaction: the purge, then the record.
      expect(spy.transactions.map((t) => t.map((st) => st.sql.split(' ')[0]))).toEqual([
        ['DELETE', 'INSERT'],
      ]);
      await record('new_2', later);
      await record('new_3', later);
      expect(await count()).toBe(3);
      // Records sharing a transaction share one purge, as large as theirs together would be.
      spy.transactions.length = 0;
      const laterStill = later + 305_000;
      await Promise.all(Array.from({ length: 3 }, (_, i) => record(`newer_${i}`, laterStill + i)));
      expect(spy.transactions.map((t) => t.map((st) => st.sql.split(' ')[0]))).toEqual([
        ['DELETE', 'INSERT', 'INSERT', 'INSERT'],
      ]);
      // Expired by the earliest clock in it, 4 per record: the three new_* go, the newer_* stay.
      expect(spy.transactions[0]![0]!.args).toEqual([laterStill, 12]);
      expect(await count()).toBe(3);
      // An expired token is unknown even before its row goes.
      expect(await record('new_1', later + 305_000)).toEqual({ status: 'new' });
    });
  });
});
