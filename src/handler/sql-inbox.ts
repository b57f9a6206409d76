import { createGroupCommit } from '../core/group-commit.ts';
import {
  INBOX_PURGE_BATCH,
  INBOX_PURGE_EVERY_MS,
  type Inbox,
  type InboxAdmission,
  type InboxClaimResult,
  type InboxRetentionOptions,
  type InboxTokenResult,
  toInboxRetentionMs,
} from './inbox.ts';
import { type GatherableStatements, toBatchedWrite } from './sql-inbox-batch.ts';

/** A value bound to a statement: the inbox binds only text, integers and null. */
export type SqlInboxValue = string | number | null;

export interface SqlInboxStatement {
  readonly sql: string;
  readonly args: readonly SqlInboxValue[];
}

/**
 * What the inbox needs of a SQLite database: the port each durable inbox implements in a few
 * lines over its client (`createLibsqlInbox`, `createD1Inbox`). No query builder: the inbox's
 * SQL is the handful of statements below.
 */
export interface SqlInboxExecutor {
  /** Runs the statements as one transaction, all or nothing; answers rows changed per statement. */
  run(statements: readonly SqlInboxStatement[]): Promise<number[]>;
  /**
   * `run`, but the transaction is kept only if each statement changed exactly the rows `expected`
   * names for it (undefined: any number); otherwise it is rolled back — its later statements need
   * not run — and the answer is null. Optional: with it, group commit runs the like statements of
   * many callers as a few multi-row ones (sql-inbox-batch.ts).
   */
  runExpecting?(
    statements: readonly SqlInboxStatement[],
    expected: readonly (number | undefined)[],
  ): Promise<number[] | null>;
  /**
   * The rows of a read. Each of the inbox's reads looks up one row by its key, so an executor may
   * answer the first row alone.
   */
  query(sql: string, args: readonly SqlInboxValue[]): Promise<readonly Record<string, unknown>[]>;
  /**
   * Whether an error is one statement's own fault (a constraint, a value the database refuses)
   * rather than trouble of the database itself. Only group commit asks; without it, a failed
   * shared transaction fails every caller in it.
   */
  isStatementFault?(error: unknown): boolean;
}

/**
 * The table exactly as `migrations/0000_init.sql` creates it (same columns, types, primary key),
 * so a mesh and a consuming service may share one database whichever of them comes first — see
 * test/handler/libsql-inbox.test.ts, which compares the two.
 */
const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS \`inbox\` (
  \`handler\` text NOT NULL,
  \`event_id\` text NOT NULL,
  \`status\` text NOT NULL,
  \`lease_expires_at\` integer,
  \`started_at\` integer NOT NULL,
  \`finished_at\` integer,
  PRIMARY KEY(\`handler\`, \`event_id\`)
)`;

/**
 * The tokens of verified requests, each bound to the key it was first presented for, until no
 * verifier accepts it any more: a second presentation is a replay and never runs a handler. Its
 * own table, not columns of `inbox`: one row per attempt, gone within minutes.
 *
 * Keyed by (deadline, `jti`), WITHOUT ROWID: one B-tree, whose new rows go to its right edge (a
 * deadline is the token's signed `exp` plus the verifier's clock tolerance, so it grows with time)
 * and whose expired rows leave from its left edge. At the grain of a second only: the tokens of one
 * second share a deadline and sort among themselves by `jti`, so random ids still put each new row
 * on a leaf of its own — at a few thousand requests a second, most of the pages a commit writes
 * (issue 12, session 26: two thirds of the file inbox's log frames). The deadline is part of the
 * signed token, so the pair names exactly the token the `jti` names (a replay carries the same
 * `exp`). Issue 12: `inbox_tokens`, keyed by `jti` alone in a rowid table with an index on
 * `expires_at`, put each random `jti` on a leaf page of its own in three B-trees — a busy route's
 * largest storage cost, growing with the table (about 1.5 million live tokens at 5k requests a
 * second). Processes
 * sharing an inbox must verify with one clock tolerance (the default unless configured), so that
 * they compute one deadline for a token.
 */
const CREATE_TOKENS_TABLE = `CREATE TABLE IF NOT EXISTS \`inbox_jtis\` (
  \`expires_at\` integer NOT NULL,
  \`jti\` text NOT NULL,
  \`handler\` text NOT NULL,
  \`event_id\` text NOT NULL,
  PRIMARY KEY(\`expires_at\`, \`jti\`)
) WITHOUT ROWID`;

/**
 * Releases before issue 12's change recorded tokens in `inbox_tokens` (see CREATE_TOKENS_TABLE).
 * The first use of this release's table takes their live records over, so a token an older
 * process recorded just before an upgrade is still a replay here. In the transaction that creates
 * the tables, with no read before it (in a Worker, one D1 round trip fewer before the first
 * answer): the old table is created if missing — empty, the shape those releases gave it — so the
 * copy always has a table to read. It is left for the release that drops it: a process of the
 * older release may still be running beside this one.
 */
const CREATE_LEGACY_TOKENS_TABLE = `CREATE TABLE IF NOT EXISTS \`inbox_tokens\` (
  \`jti\` text PRIMARY KEY NOT NULL,
  \`handler\` text NOT NULL,
  \`event_id\` text NOT NULL,
  \`expires_at\` integer NOT NULL
)`;
const TAKE_OVER_LEGACY_TOKENS = `INSERT INTO inbox_jtis (expires_at, jti, handler, event_id)
  SELECT expires_at, jti, handler, event_id FROM inbox_tokens
  WHERE expires_at > CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
  ON CONFLICT DO NOTHING`;

/**
 * Records a token unless a live record of it exists (an expired one, not yet purged, is taken
 * over). Rows changed = 1 means the token is new.
 */
const RECORD_TOKEN = `INSERT INTO inbox_jtis (expires_at, jti, handler, event_id) VALUES (?4, ?1, ?2, ?3)
  ON CONFLICT (expires_at, jti) DO UPDATE SET handler = excluded.handler, event_id = excluded.event_id
  WHERE inbox_jtis.expires_at <= ?5`;

/**
 * Expired token records, a few for every record written (in its transaction, one statement per
 * transaction however many requests share it): each request removes more than it adds while any
 * are expired, so the table stays as small as the tokens alive — with no hourly pass that a busy
 * service would outgrow. They are the first rows of the key: the delete reads from the left edge.
 */
const PURGE_TOKENS = `DELETE FROM inbox_jtis WHERE (expires_at, jti) IN (SELECT expires_at, jti FROM inbox_jtis
  WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2)`;
const TOKENS_PURGED_PER_RECORD = 4;

/** Whom a recorded token belongs to, and whether that key is handled. */
const READ_TOKEN = `SELECT t.handler AS handler, t.event_id AS event_id, i.status AS status
  FROM inbox_jtis t LEFT JOIN inbox i ON i.handler = t.handler AND i.event_id = t.event_id
  WHERE t.expires_at = ?3 AND t.jti = ?1 AND t.expires_at > ?2`;

/**
 * One statement decides the claim, so it is atomic across every process on the database: it
 * inserts a fresh claim, or takes over a claim whose lease has lapsed; a live claim or a done row
 * is left alone and the statement changes nothing. Rows changed = 1 means the claim is ours.
 */
const CLAIM = `INSERT INTO inbox (handler, event_id, status, lease_expires_at, started_at, finished_at)
  VALUES (?1, ?2, 'running', ?3, ?4, NULL)
  ON CONFLICT (handler, event_id) DO UPDATE SET lease_expires_at = excluded.lease_expires_at,
    started_at = excluded.started_at
  WHERE inbox.status = 'running' AND inbox.lease_expires_at <= excluded.started_at`;

/**
 * CLAIM, made only if the statement just before it in the same transaction — RECORD_TOKEN — recorded
 * a new token: SQLite's `changes()` is the rows changed by the connection's last completed
 * INSERT/UPDATE/DELETE, and a transaction's statements run in order on one connection (group
 * commit keeps each caller's statements together). A replayed token thus never claims.
 */
const CLAIM_IF_TOKEN_NEW = `INSERT INTO inbox (handler, event_id, status, lease_expires_at, started_at, finished_at)
  SELECT ?1, ?2, 'running', ?3, ?4, NULL WHERE changes() = 1
  ON CONFLICT (handler, event_id) DO UPDATE SET lease_expires_at = excluded.lease_expires_at,
    started_at = excluded.started_at
  WHERE inbox.status = 'running' AND inbox.lease_expires_at <= excluded.started_at`;

/** Upsert rather than update: "handled" must be recorded even if the claim row went missing. */
const COMPLETE = `INSERT INTO inbox (handler, event_id, status, lease_expires_at, started_at, finished_at)
  VALUES (?1, ?2, 'done', NULL, ?3, ?3)
  ON CONFLICT (handler, event_id) DO UPDATE SET status = 'done', lease_expires_at = NULL,
    finished_at = excluded.finished_at`;

/**
 * Only the caller's own running claim is dropped (`started_at` is the claim's time): a late release
 * never makes a handled event run again, nor drops a claim another run took over.
 */
const RELEASE = `DELETE FROM inbox WHERE handler = ?1 AND event_id = ?2 AND status = 'running' AND started_at = ?3`;

/** Pushes the lease of the caller's own running claim only, like RELEASE: never another run's. */
const EXTEND = `UPDATE inbox SET lease_expires_at = ?3
  WHERE handler = ?1 AND event_id = ?2 AND status = 'running' AND started_at = ?4`;

/** Handled entries past retention, oldest first, a bounded batch: never a long write lock. */
const PURGE = `DELETE FROM inbox WHERE rowid IN (SELECT rowid FROM inbox WHERE status = 'done' AND finished_at < ?1
  LIMIT ?2)`;

const READ_STATUS = 'SELECT status, lease_expires_at FROM inbox WHERE handler = ?1 AND event_id = ?2';

/**
 * A refused claim is read back to tell `done` from `running`; between the two statements the row
 * may be released or its lease may lapse, in which case the claim is simply tried again. Each
 * round needs another process to change the row in between, so a few rounds are plenty.
 */
const CLAIM_ROUNDS = 3;

/** The one-row statements group commit may gather into multi-row ones (sql-inbox-batch.ts). */
const GATHERABLE: GatherableStatements = {
  recordToken: RECORD_TOKEN,
  claimIfTokenNew: CLAIM_IF_TOKEN_NEW,
  claim: CLAIM,
  complete: COMPLETE,
  release: RELEASE,
  extend: EXTEND,
};

/**
 * Turns of the event loop a commit waits while each brings more callers (group-commit.ts): under
 * load, the callers a commit just answered come back within a turn or two with their next write.
 */
const GATHER_TURNS = 4;

/** Most statements in one shared transaction: each is a single-row upsert or delete. */
const MAX_GROUP_STATEMENTS = 256;

export interface SqlInboxOptions extends InboxRetentionOptions {
  readonly executor: SqlInboxExecutor;
  /**
   * Whether concurrent callers may share I/O. On: claims, completes and releases that arrive
   * together share one transaction (one fsync), each with its own answer, each resolved only once
   * that transaction has committed (with the executor's `runExpecting`, like statements of
   * different callers run as one multi-row statement when that gives every caller the same answer); and the first use's CREATE TABLE is
   * awaited by every caller that arrives meanwhile. Off (the default): each call runs its own
   * transaction, and until the table is known to exist each caller runs the (idempotent) CREATE
   * itself. Must be off in workerd: there one request's promise settled by another request's I/O
   * hangs once that other request has answered or was cancelled.
   */
  readonly groupCommit?: boolean | undefined;
}

/**
 * Runs write statements in one transaction and answers how many rows each changed; with
 * `recordsTokensAt` (they record a token then), expired token records are purged in it too.
 */
type RunStatements = (
  statements: readonly SqlInboxStatement[],
  recordsTokensAt: number | undefined,
) => Promise<number[]>;

interface GroupedWrite {
  readonly statement: SqlInboxStatement;
  /** Set on the first statement of a caller's writes that record a token: the caller's clock. */
  readonly recordsTokensAt: number | undefined;
  /** Rows the statement changed, set once its transaction has committed. */
  changed: number;
}

/**
 * The purge that goes first in a transaction recording `records` tokens: a few expired records
 * per token recorded, expired by the earliest clock among the callers (by everyone's, then).
 */
function purgeTokens(records: number, nowMs: number): SqlInboxStatement {
  return { sql: PURGE_TOKENS, args: [nowMs, records * TOKENS_PURGED_PER_RECORD] };
}

/**
 * The inbox as the `inbox` table of a SQLite database (and `inbox_jtis` beside it, for replays),
 * shared by every process of a consuming service; the tables are created on first use if missing.
 * @example const inbox = createSqlInbox({ executor, groupCommit: true });
 */
export function createSqlInbox(options: SqlInboxOptions): Inbox {
  const { executor } = options;
  const shared = options.groupCommit ?? false;
  const ensureTable = toEnsureTable(executor, shared);
  const run = toRunStatements(executor, shared);
  const retainMs = toInboxRetentionMs(options);
  let purgedAt = Number.NEGATIVE_INFINITY;

  /** Writes `statements` in one transaction; with `recordsTokensAt`, expired tokens go in it too. */
  const writeWith = async (recordsTokensAt: number | undefined, statements: SqlInboxStatement[]) => {
    // Once the tables exist (every call but the first few), no turn of the queue is spent on them.
    const creating = ensureTable();
    if (creating !== undefined) await creating;
    return run(statements, recordsTokensAt);
  };
  const write = (...statements: SqlInboxStatement[]) => writeWith(undefined, statements);
  /** `write` of statements that record a token at `nowMs`: a few expired records go with them. */
  const writeRecording = (nowMs: number, ...statements: SqlInboxStatement[]) => writeWith(nowMs, statements);

  const readStatus = async (handler: string, eventId: string) => {
    const [row] = await executor.query(READ_STATUS, [handler, eventId]);
    return row ?? null;
  };

  /** A refused claim, read back: done, running, or neither (it changed meanwhile: try again). */
  const refusedClaim = async (handler: string, eventId: string, nowMs: number) => {
    const row = await readStatus(handler, eventId);
    if (row?.status === 'done') return 'done';
    if (row?.status === 'running' && Number(row.lease_expires_at ?? 0) > nowMs) return 'running';
    return null;
  };

  /** A token RECORD_TOKEN refused, read back: whose it is; null if it went meanwhile (try again). */
  const refusedToken = async (jti: string, expiresAtMs: number, nowMs: number) => {
    const [row] = await executor.query(READ_TOKEN, [jti, nowMs, expiresAtMs]);
    if (row === undefined) return null;
    const key = { handler: String(row.handler), eventId: String(row.event_id) };
    return { status: 'replay', key, handled: row.status === 'done' } as const;
  };

  const inbox: Inbox = {
    async claim({ handler, eventId, nowMs, leaseMs }): Promise<InboxClaimResult> {
      for (let round = 0; round < CLAIM_ROUNDS; round++) {
        const [changed] = await write({ sql: CLAIM, args: [handler, eventId, nowMs + leaseMs, nowMs] });
        if (changed === 1) return 'claimed';
        const refused = await refusedClaim(handler, eventId, nowMs);
        if (refused !== null) return refused;
      }
      // The row kept changing under us: somebody is busy with this event right now.
      return 'running';
    },
    async complete({ handler, eventId, nowMs }) {
      await write({ sql: COMPLETE, args: [handler, eventId, nowMs] });
      if (nowMs - purgedAt >= INBOX_PURGE_EVERY_MS) {
        // Awaited (in a Worker nothing may outlive its request); at most one small pass an hour.
        purgedAt = nowMs;
        await executor.run([{ sql: PURGE, args: [nowMs - retainMs, INBOX_PURGE_BATCH] }]);
      }
    },
    async release({ handler, eventId, claimedAt }) {
      await write({ sql: RELEASE, args: [handler, eventId, claimedAt] });
    },
    async extend({ handler, eventId, claimedAt, nowMs, leaseMs }) {
      const [changed] = await write({ sql: EXTEND, args: [handler, eventId, nowMs + leaseMs, claimedAt] });
      return changed === 1;
    },
    async recordToken({ jti, handler, eventId, expiresAtMs, nowMs }): Promise<InboxTokenResult> {
      for (let round = 0; round < CLAIM_ROUNDS; round++) {
        const [recorded] = await writeRecording(nowMs, {
          sql: RECORD_TOKEN,
          args: [jti, handler, eventId, expiresAtMs, nowMs],
        });
        if (recorded === 1) return { status: 'new' };
        const replay = await refusedToken(jti, expiresAtMs, nowMs);
        if (replay !== null) return replay;
        // The record expired (by another process's clock) and went between the two statements.
      }
      // Refused every time, yet never found: treat it as seen; a replay is never run.
      return { status: 'replay', key: { handler, eventId }, handled: false };
    },
    async recordTokenAndClaim(input): Promise<InboxAdmission> {
      const { jti, handler, eventId, expiresAtMs, nowMs, leaseMs } = input;
      // The common case in one transaction, one commit: a new token and a fresh claim. Synced like
      // `complete`'s, though no 2xx rests on it (issue 12 weighed both ways round it): claims kept
      // in memory would let a copy delivered to another process run beside this one (each attempt
      // carries its own jti, so the replay rule does not cover copies); left unsynced, the token's
      // record could vanish in a power loss after the handler ran, and a replay of the token, under
      // any ce-id, would then run it again.
      const [recorded, claimed] = await writeRecording(
        nowMs,
        { sql: RECORD_TOKEN, args: [jti, handler, eventId, expiresAtMs, nowMs] },
        { sql: CLAIM_IF_TOKEN_NEW, args: [handler, eventId, nowMs + leaseMs, nowMs] },
      );
      if (recorded !== 1) {
        const replay = await refusedToken(jti, expiresAtMs, nowMs);
        if (replay !== null) return { token: replay, claim: null };
        // Gone between the two statements: as recordToken does about it, then the claim.
        const token = await inbox.recordToken(input);
        return token.status === 'replay'
          ? { token, claim: null }
          : { token, claim: await inbox.claim(input) };
      }
      if (claimed === 1) return { token: { status: 'new' }, claim: 'claimed' };
      const refused = await refusedClaim(handler, eventId, nowMs);
      // The row changed between the two statements: the claim's own rounds decide.
      return { token: { status: 'new' }, claim: refused ?? (await inbox.claim(input)) };
    },
  };
  return inbox;
}

/**
 * Creates the tables once they are needed, then never asks again. Several processes may race: CREATE
 * TABLE IF NOT EXISTS takes SQLite's write lock, so the loser finds the winner's table. A failed
 * attempt is forgotten, so the next call tries again. Answers undefined once they exist.
 */
function toEnsureTable(executor: SqlInboxExecutor, shared: boolean): () => Promise<void> | undefined {
  let ready = false;
  let creating: Promise<void> | undefined;
  const create = async () => {
    // Run again by a racing process, or by every caller until then without group commit: each
    // statement is idempotent, and the take-over skips what it already copied.
    const statements = [
      CREATE_TABLE,
      CREATE_TOKENS_TABLE,
      CREATE_LEGACY_TOKENS_TABLE,
      TAKE_OVER_LEGACY_TOKENS,
    ];
    await executor.run(statements.map((sql) => ({ sql, args: [] })));
    ready = true;
  };
  return () => {
    if (ready) return undefined;
    if (!shared) return create();
    creating ??= create().finally(() => {
      creating = undefined;
    });
    return creating;
  };
}

function toRunStatements(executor: SqlInboxExecutor, groupCommit: boolean): RunStatements {
  if (!groupCommit) {
    return async (statements, recordsTokensAt) => {
      if (recordsTokensAt === undefined) {
        const changed = await executor.run(statements);
        return statements.map((_, i) => changed[i] ?? 0);
      }
      const changed = await executor.run([purgeTokens(1, recordsTokensAt), ...statements]);
      return statements.map((_, i) => changed[i + 1] ?? 0);
    };
  }
  const isStatementFault = executor.isStatementFault?.bind(executor) ?? (() => false);
  const runExpecting = executor.runExpecting?.bind(executor);
  const group = createGroupCommit<GroupedWrite>({
    async write(writes) {
      let records = 0;
      let earliest = Number.POSITIVE_INFINITY;
      for (const w of writes) {
        if (w.recordsTokensAt === undefined) continue;
        records++;
        earliest = Math.min(earliest, w.recordsTokensAt);
      }
      // One purge for the whole transaction, ahead of every caller's statements.
      const purge = records > 0 ? purgeTokens(records, earliest) : undefined;
      const batched = runExpecting === undefined ? null : toBatchedWrite(writes, GATHERABLE);
      if (batched !== null && runExpecting !== undefined) {
        const statements = purge === undefined ? batched.statements : [purge, ...batched.statements];
        const expected = purge === undefined ? batched.expected : [undefined, ...batched.expected];
        const changed = await runExpecting(statements, expected);
        if (changed !== null) {
          batched.answer(purge === undefined ? changed : changed.slice(1));
          return;
        }
        // Some statement changed fewer rows than it had (a replay, a refused claim): each caller's
        // answer then needs its own statement, so the group runs as below, statement by statement.
      }
      const statements = writes.map((w) => w.statement);
      if (purge !== undefined) statements.unshift(purge);
      const changed = await executor.run(statements);
      const offset = purge === undefined ? 0 : 1;
      writes.forEach((w, i) => {
        w.changed = changed[i + offset] ?? 0;
      });
    },
    isIsolatable: isStatementFault,
    maxItems: MAX_GROUP_STATEMENTS,
    gatherTurns: GATHER_TURNS,
  });
  return async (statements, recordsTokensAt) => {
    // One submission: a caller's statements always share one transaction.
    const writes: GroupedWrite[] = statements.map((statement, i) => ({
      statement,
      recordsTokensAt: i === 0 ? recordsTokensAt : undefined,
      changed: 0,
    }));
    await group.submit(writes);
    return writes.map((w) => w.changed);
  };
}
