import { type Client, createClient, type InValue } from '@libsql/client';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Inbox } from '../../src/handler/inbox.ts';
import {
  createLibsqlInbox as createClientInbox,
  toGatheringExecutor,
} from '../../src/handler/libsql-inbox.ts';
import { createLibsqlInbox } from '../../src/handler/node.ts';
import {
  createSqlInbox,
  type SqlInboxExecutor,
  type SqlInboxStatement,
} from '../../src/handler/sql-inbox.ts';
import { createTempDir, type TempDir } from './temp-dir.ts';

// Group commit over an executor with `runExpecting`: the like statements of a group's callers run
// as a few multi-row statements, and every caller gets the answer it gets when the group runs
// statement by statement (sql-inbox.test.ts, whose executor has no `runExpecting`).

const NOW = 1_800_000_000_000;
const LEASE = 60_000;
const EXPIRES = NOW + 300_000;

class StatementFault extends Error {}

interface Transaction {
  readonly statements: readonly SqlInboxStatement[];
  /** Run through `runExpecting`; false: through `run`. */
  readonly expecting: boolean;
  outcome: 'kept' | 'rolled back' | 'failed';
}

/**
 * An executor on `client` recording each transaction; `runExpecting` through an interactive
 * transaction, rolled back when a statement changed other rows than expected.
 */
function spyExecutor(client: Client, fail?: (statement: SqlInboxStatement) => Error | undefined) {
  const transactions: Transaction[] = [];
  const check = (statements: readonly SqlInboxStatement[]) => {
    for (const statement of statements) {
      const error = fail?.(statement);
      if (error !== undefined) throw error;
    }
  };
  const executor: SqlInboxExecutor = {
    async run(statements) {
      const t: Transaction = { statements, expecting: false, outcome: 'failed' };
      transactions.push(t);
      check(statements);
      const results = await client.batch(
        statements.map((s) => ({ sql: s.sql, args: s.args as InValue[] })),
        'write',
      );
      t.outcome = 'kept';
      return results.map((r) => r.rowsAffected);
    },
    async runExpecting(statements, expected) {
      const t: Transaction = { statements, expecting: true, outcome: 'failed' };
      transactions.push(t);
      check(statements);
      const tx = await client.transaction('write');
      try {
        const results = await tx.batch(statements.map((s) => ({ sql: s.sql, args: s.args as InValue[] })));
        const changed = results.map((r) => r.rowsAffected);
        if (changed.some((n, i) => expected[i] !== undefined && n !== expected[i])) {
          await tx.rollback();
          t.outcome = 'rolled back';
          return null;
        }
        await tx.commit();
        t.outcome = 'kept';
        return changed;
      } finally {
        tx.close();
      }
    },
    async query(sql, args) {
      return (await client.execute({ sql, args: args as InValue[] })).rows;
    },
    isStatementFault: (error) => error instanceof StatementFault,
  };
  /** The transactions from the `from`th, each as how it went and the rows of each statement. */
  const after = (from: number) =>
    transactions.slice(from).map((t) => ({
      how: t.outcome === 'kept' ? (t.expecting ? 'gathered' : 'one by one') : t.outcome,
      rows: t.statements.map(rowsOf),
    }));
  return { executor, transactions, after };
}

/** Rows a statement writes: its `VALUES (…)` groups, 1 for a one-row statement or the purge. */
function rowsOf(statement: SqlInboxStatement): number {
  const values = statement.sql.match(/VALUES (.*)\n/)?.[1];
  return values === undefined ? 1 : values.split('), (').length;
}

const admission = (eventId: string, jti: string, nowMs = NOW) => ({
  jti,
  handler: 'billing',
  eventId,
  expiresAtMs: EXPIRES,
  nowMs,
  leaseMs: LEASE,
});
const NEW_AND_CLAIMED = { token: { status: 'new' }, claim: 'claimed' };

describe('group commit with multi-row statements', () => {
  let temp: TempDir;
  let client: Client;
  let spy: ReturnType<typeof spyExecutor>;
  let inbox: Inbox;
  /** Transactions before the test's own: the tables' creation and a first write. */
  let warm: number;
  beforeEach(async () => {
    temp = createTempDir();
    client = createClient({ url: temp.fileUrl() });
    spy = spyExecutor(client, (s) => (s.args.includes('ie_bad') ? new StatementFault('refused') : undefined));
    inbox = createSqlInbox({ executor: spy.executor, groupCommit: true });
    await inbox.complete({ handler: 'warm', eventId: 'ie_warm', nowMs: NOW });
    warm = spy.transactions.length;
  });
  afterEach(() => {
    client.close();
    temp.dispose();
  });
  const rows = async (sql: string) => (await client.execute(sql)).rows.map((r) => ({ ...r }));

  it("gathers a group's tokens, claims and completes: chunks of 2^k rows, each caller answered", async () => {
    const ids = ['ie_0', 'ie_1', 'ie_2', 'ie_3', 'ie_4'];
    const admitted = await Promise.all(ids.map((id) => inbox.recordTokenAndClaim!(admission(id, `j_${id}`))));
    expect(admitted).toEqual(ids.map(() => NEW_AND_CLAIMED));
    await Promise.all(ids.map((eventId) => inbox.complete({ handler: 'billing', eventId, nowMs: NOW + 1 })));
    // The purge, tokens in 4 + 1 rows, claims in 4 + 1; then the completes in 4 + 1.
    expect(spy.after(warm)).toEqual([
      { how: 'gathered', rows: [1, 4, 1, 4, 1] },
      { how: 'gathered', rows: [4, 1] },
    ]);
    expect(
      await rows("SELECT count(*) AS n FROM inbox WHERE status = 'done' AND handler = 'billing'"),
    ).toEqual([{ n: 5 }]);
    expect(await rows("SELECT count(*) AS n FROM inbox_jtis WHERE jti LIKE 'j_ie_%'")).toEqual([{ n: 5 }]);
  });

  it('one jti twice in a group: the first is new and claims, the second is its replay — one by one', async () => {
    const admitted = await Promise.all([
      inbox.recordTokenAndClaim!(admission('ie_0', 'j_same')),
      inbox.recordTokenAndClaim!(admission('ie_1', 'j_other')),
      inbox.recordTokenAndClaim!(admission('ie_2', 'j_same')),
    ]);
    expect(admitted).toEqual([
      NEW_AND_CLAIMED,
      NEW_AND_CLAIMED,
      {
        token: { status: 'replay', key: { handler: 'billing', eventId: 'ie_0' }, handled: false },
        claim: null,
      },
    ]);
    expect(spy.after(warm)).toEqual([{ how: 'one by one', rows: [1, 1, 1, 1, 1, 1, 1] }]);
    expect(await rows("SELECT event_id FROM inbox WHERE handler = 'billing' ORDER BY event_id")).toEqual([
      { event_id: 'ie_0' },
      { event_id: 'ie_1' },
    ]);
  });

  it('two copies of one event in a group (two jtis): both tokens new, the first claims, the second sees it running', async () => {
    const admitted = await Promise.all([
      inbox.recordTokenAndClaim!(admission('ie_0', 'j_a')),
      inbox.recordTokenAndClaim!(admission('ie_1', 'j_b')),
      inbox.recordTokenAndClaim!(admission('ie_0', 'j_c')),
    ]);
    expect(admitted).toEqual([
      NEW_AND_CLAIMED,
      NEW_AND_CLAIMED,
      { token: { status: 'new' }, claim: 'running' },
    ]);
    expect(spy.after(warm)[0]).toEqual({ how: 'one by one', rows: [1, 1, 1, 1, 1, 1, 1] });
  });

  it('a replayed token in a group: the gathered attempt is rolled back, then each runs alone', async () => {
    expect(await inbox.recordTokenAndClaim!(admission('ie_0', 'j_0'))).toEqual(NEW_AND_CLAIMED);
    await inbox.complete({ handler: 'billing', eventId: 'ie_0', nowMs: NOW + 1 });
    const before = spy.transactions.length;
    const admitted = await Promise.all([
      inbox.recordTokenAndClaim!(admission('ie_1', 'j_1')),
      // The token of ie_0's request again, now under another event id.
      inbox.recordTokenAndClaim!(admission('ie_9', 'j_0', NOW + 2)),
      inbox.recordTokenAndClaim!(admission('ie_2', 'j_2')),
    ]);
    expect(admitted).toEqual([
      NEW_AND_CLAIMED,
      {
        token: { status: 'replay', key: { handler: 'billing', eventId: 'ie_0' }, handled: true },
        claim: null,
      },
      NEW_AND_CLAIMED,
    ]);
    expect(spy.after(before)).toEqual([
      { how: 'rolled back', rows: [1, 2, 1, 2, 1] },
      { how: 'one by one', rows: [1, 1, 1, 1, 1, 1, 1] },
    ]);
    expect(await rows("SELECT event_id FROM inbox WHERE handler = 'billing' ORDER BY event_id")).toEqual([
      { event_id: 'ie_0' },
      { event_id: 'ie_1' },
      { event_id: 'ie_2' },
    ]);
  });

  it("a token live by its caller's clock stays a replay though another caller's clock has it expired", async () => {
    const token = { jti: 'j_0', handler: 'billing', eventId: 'ie_0', expiresAtMs: NOW + 1_000 };
    expect(await inbox.recordToken({ ...token, nowMs: NOW })).toEqual({ status: 'new' });
    const before = spy.transactions.length;
    const answers = await Promise.all([
      inbox.recordToken({ ...token, eventId: 'ie_9', nowMs: NOW + 500 }),
      inbox.recordToken({
        ...token,
        jti: 'j_1',
        eventId: 'ie_1',
        expiresAtMs: NOW + 5_000,
        nowMs: NOW + 2_000,
      }),
    ]);
    expect(answers).toEqual([
      { status: 'replay', key: { handler: 'billing', eventId: 'ie_0' }, handled: false },
      { status: 'new' },
    ]);
    expect(spy.after(before).map((t) => t.how)).toEqual(['rolled back', 'one by one']);
  });

  it('a claim refused in a group (a live claim): rolled back, then one by one; the others claim', async () => {
    expect(await inbox.claim({ handler: 'billing', eventId: 'ie_0', nowMs: NOW, leaseMs: LEASE })).toBe(
      'claimed',
    );
    const before = spy.transactions.length;
    const claims = await Promise.all(
      ['ie_1', 'ie_0', 'ie_2'].map((eventId) =>
        inbox.claim({ handler: 'billing', eventId, nowMs: NOW + 1, leaseMs: LEASE }),
      ),
    );
    expect(claims).toEqual(['claimed', 'running', 'claimed']);
    expect(spy.after(before)).toEqual([
      { how: 'rolled back', rows: [2, 1] },
      { how: 'one by one', rows: [1, 1, 1] },
    ]);
  });

  it("a multi-row statement's own failure fails only the faulty caller: each is retried alone", async () => {
    const results = await Promise.allSettled(
      ['ie_0', 'ie_bad', 'ie_1'].map((eventId) =>
        inbox.recordTokenAndClaim!(admission(eventId, `j_${eventId}`)),
      ),
    );
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : 'rejected'))).toEqual([
      NEW_AND_CLAIMED,
      'rejected',
      NEW_AND_CLAIMED,
    ]);
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(StatementFault);
    // Alone, a caller's token and claim are one row each: statement by statement, as before.
    expect(spy.after(warm)).toEqual([
      { how: 'failed', rows: [1, 2, 1, 2, 1] },
      { how: 'one by one', rows: [1, 1, 1] },
      { how: 'failed', rows: [1, 1, 1] },
      { how: 'one by one', rows: [1, 1, 1] },
    ]);
    expect(await rows("SELECT event_id FROM inbox WHERE handler = 'billing' ORDER BY event_id")).toEqual([
      { event_id: 'ie_0' },
      { event_id: 'ie_1' },
    ]);
  });

  it('releases and extends ride along as their own statements, each with its own answer', async () => {
    await Promise.all(
      ['ie_0', 'ie_1'].map((eventId) =>
        inbox.claim({ handler: 'billing', eventId, nowMs: NOW, leaseMs: LEASE }),
      ),
    );
    const before = spy.transactions.length;
    const [extended, missed, , , claimed, claimedToo] = await Promise.all([
      inbox.extend({ handler: 'billing', eventId: 'ie_0', claimedAt: NOW, nowMs: NOW + 1, leaseMs: LEASE }),
      inbox.extend({ handler: 'billing', eventId: 'ie_3', claimedAt: NOW, nowMs: NOW + 1, leaseMs: LEASE }),
      inbox.release({ handler: 'billing', eventId: 'ie_1', claimedAt: NOW }),
      inbox.complete({ handler: 'billing', eventId: 'ie_4', nowMs: NOW + 1 }),
      inbox.claim({ handler: 'billing', eventId: 'ie_5', nowMs: NOW + 1, leaseMs: LEASE }),
      inbox.claim({ handler: 'billing', eventId: 'ie_6', nowMs: NOW + 1, leaseMs: LEASE }),
    ]);
    expect([extended, missed, claimed, claimedToo]).toEqual([true, false, 'claimed', 'claimed']);
    // The claims in one statement, the complete, then the extends and the release in their order.
    expect(spy.after(before)).toEqual([{ how: 'gathered', rows: [2, 1, 1, 1, 1] }]);
    expect(
      await rows("SELECT event_id, status FROM inbox WHERE handler = 'billing' ORDER BY event_id"),
    ).toEqual([
      { event_id: 'ie_0', status: 'running' },
      { event_id: 'ie_4', status: 'done' },
      { event_id: 'ie_5', status: 'running' },
      { event_id: 'ie_6', status: 'running' },
    ]);
  });

  it('keys SQLite might not keep apart (a NUL, a lone surrogate) are never gathered', async () => {
    const odd = ['ie_\0a', 'ie_\ud800'];
    const claims = await Promise.all(
      ['ie_0', ...odd].map((eventId) =>
        inbox.claim({ handler: 'billing', eventId, nowMs: NOW, leaseMs: LEASE }),
      ),
    );
    expect(claims[0]).toBe('claimed');
    expect(spy.after(warm).map((t) => t.how)).toEqual(['one by one']);
  });
});

describe('the client inbox on a file it opened: gathered in an interactive transaction', () => {
  it('its calls take turns: none starts while a transaction is open, nor is stopped by one that failed', async () => {
    const steps: string[] = [];
    let letBatch!: () => void;
    const batchMay = new Promise<void>((resolve) => {
      letBatch = resolve;
    });
    const client = {
      async transaction() {
        steps.push('begin');
        return {
          async batch(statements: readonly unknown[]) {
            await batchMay;
            steps.push('batch');
            return statements.map(() => ({ rowsAffected: 2 }));
          },
          async commit() {
            steps.push('commit');
          },
          async rollback() {
            steps.push('rollback');
          },
          close() {},
        };
      },
      async execute() {
        steps.push('read');
        return { rows: [] };
      },
      async batch(statements: readonly unknown[]) {
        steps.push('write');
        if (steps.length > 6) throw new StatementFault('refused');
        return statements.map(() => ({ rowsAffected: 1 }));
      },
    } as unknown as Client;
    const executor = toGatheringExecutor(async () => client);
    const statement = { sql: 'UPDATE …', args: [] };
    const calls = [
      executor.runExpecting!([statement], [2]),
      executor.query('SELECT …', []),
      executor.run([statement]),
      executor.runExpecting!([statement], [1]),
      executor.run([statement]),
      executor.query('SELECT …', []),
    ];
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(steps).toEqual(['begin']);
    letBatch();
    const settled = await Promise.allSettled(calls);
    expect(steps).toEqual([
      'begin',
      'batch',
      'commit',
      'read',
      'write',
      'begin',
      'batch',
      'rollback',
      'write',
      'read',
    ]);
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : 'failed'))).toEqual([
      [2],
      [],
      [1],
      null,
      'failed',
      [],
    ]);
  });

  it('answers each caller on an in-memory database (one connection, which a transaction holds)', async () => {
    // A read lent the connection while a transaction held it would be refused at once.
    const inbox = createClientInbox({ url: 'file::memory:' });
    try {
      await inbox.recordTokenAndClaim!(admission('ie_0', 'j_0'));
      const ids = ['ie_1', 'ie_2', 'ie_3', 'ie_4'];
      const [replay, ...admitted] = await Promise.all([
        // Refused, then read back while the next group's transaction runs.
        inbox.recordTokenAndClaim!(admission('ie_9', 'j_0')),
        ...ids.map((id) => inbox.recordTokenAndClaim!(admission(id, `j_${id}`))),
        ...ids.map((id) => inbox.claim({ handler: 'other', eventId: id, nowMs: NOW, leaseMs: LEASE })),
      ]);
      expect(replay).toEqual({
        token: { status: 'replay', key: { handler: 'billing', eventId: 'ie_0' }, handled: false },
        claim: null,
      });
      expect(admitted).toEqual([...ids.map(() => NEW_AND_CLAIMED), ...ids.map(() => 'claimed')]);
      const again = await Promise.all(ids.map((id) => inbox.recordTokenAndClaim!(admission(id, `j2_${id}`))));
      expect(again).toEqual(ids.map(() => ({ token: { status: 'new' }, claim: 'running' })));
    } finally {
      await inbox.close();
    }
  });
});

// The same rounds of concurrent calls on three inboxes — the Node file inbox and the client inbox on
// a file it opened (both gather) and a client inbox whose executor has no `runExpecting` (statement
// by statement) — answer alike and leave the same rows: replays, copies of one event, expired
// tokens and leases, late releases.
describe('gathered and one by one answer alike', () => {
  const jti = fc.constantFrom('j0', 'j1', 'j2', 'j3');
  const eventId = fc.constantFrom('e0', 'e1', 'e2');
  const handler = fc.constantFrom('a', 'b');
  const at = fc.integer({ min: 0, max: 8 }).map((s) => NOW + s * 1_000);
  const leaseMs = fc.constantFrom(1_000, 3_000);
  const expiresAtMs = fc.constantFrom(NOW + 2_000, NOW + 5_000, NOW + 9_000);
  const call = fc.oneof(
    fc.record({ op: fc.constant('admit' as const), jti, handler, eventId, expiresAtMs, nowMs: at, leaseMs }),
    fc.record({ op: fc.constant('token' as const), jti, handler, eventId, expiresAtMs, nowMs: at }),
    fc.record({ op: fc.constant('claim' as const), handler, eventId, nowMs: at, leaseMs }),
    fc.record({ op: fc.constant('complete' as const), handler, eventId, nowMs: at }),
    fc.record({ op: fc.constant('release' as const), handler, eventId, claimedAt: at }),
    fc.record({ op: fc.constant('extend' as const), handler, eventId, claimedAt: at, nowMs: at, leaseMs }),
  );
  type Call = typeof call extends fc.Arbitrary<infer T> ? T : never;
  const perform = (inbox: Inbox, c: Call) => {
    switch (c.op) {
      case 'admit':
        return inbox.recordTokenAndClaim!(c);
      case 'token':
        return inbox.recordToken(c);
      case 'claim':
        return inbox.claim(c);
      case 'complete':
        return inbox.complete(c);
      case 'release':
        return inbox.release(c);
      case 'extend':
        return inbox.extend(c);
    }
  };
  const dump = async (url: string) => {
    const client = createClient({ url });
    try {
      const inbox = await client.execute('SELECT * FROM inbox ORDER BY handler, event_id');
      const tokens = await client.execute('SELECT * FROM inbox_jtis ORDER BY expires_at, jti');
      return [inbox.rows.map((r) => ({ ...r })), tokens.rows.map((r) => ({ ...r }))];
    } finally {
      client.close();
    }
  };

  it('for rounds of up to 12 concurrent calls', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(call, { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 6 }),
        async (rounds) => {
          const temp = createTempDir();
          const gathered = createLibsqlInbox({ url: temp.fileUrl('gathered.db') });
          const gatheredByClient = createClientInbox({ url: temp.fileUrl('client.db') });
          const client = createClient({ url: temp.fileUrl('one-by-one.db') });
          const { executor } = spyExecutor(client);
          const { runExpecting: _, ...oneByOne } = executor;
          const reference = createSqlInbox({ executor: oneByOne, groupCommit: true });
          try {
            for (const round of rounds) {
              const [a, b, c] = await Promise.all([
                Promise.allSettled(round.map((call) => perform(gathered, call))),
                Promise.allSettled(round.map((call) => perform(gatheredByClient, call))),
                Promise.allSettled(round.map((call) => perform(reference, call))),
              ]);
              expect(a).toEqual(c);
              expect(b).toEqual(c);
            }
            await gathered.close();
            await gatheredByClient.close();
            client.close();
            const expected = await dump(temp.fileUrl('one-by-one.db'));
            expect(await dump(temp.fileUrl('gathered.db'))).toEqual(expected);
            expect(await dump(temp.fileUrl('client.db'))).toEqual(expected);
          } finally {
            await gathered.close();
            await gatheredByClient.close();
            client.close();
            temp.dispose();
          }
        },
      ),
      { seed: 12_27, numRuns: 200 },
    );
  });
});
