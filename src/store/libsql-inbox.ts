import type { Client } from '@libsql/client';
import { and, eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/libsql';
import type { Inbox, InboxClaimResult } from '../handler/inbox.ts';
import { createGroupCommit } from './group-commit.ts';
import { createLibsqlDriver } from './libsql-driver.ts';
import * as schema from './schema.ts';
import type { SqlDriver, SqlStatement } from './sql-driver.ts';
import type { OutboxDatabase } from './sql-outbox-store.ts';

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

/**
 * A refused claim is read back to tell `done` from `running`; between the two statements the row
 * may be released or its lease may lapse, in which case the claim is simply tried again. Each
 * round needs another process to change the row in between, so a few rounds are plenty.
 */
const CLAIM_ROUNDS = 3;

/** Most statements in one shared transaction: each is a single-row upsert or delete. */
const MAX_GROUP_STATEMENTS = 256;

export interface SqlInboxOptions {
  readonly db: OutboxDatabase;
  readonly driver: SqlDriver;
  /**
   * Claims, completes and releases that arrive together share one transaction (one fsync), each
   * still its own statement with its own answer, each resolved only once that transaction is
   * committed. Default off: on D1 inside workerd a batcher shared across requests would resolve
   * one request's promise from another request's I/O context, which hangs (see `writesPerRequest`
   * in src/runtime/worker.ts). `createLibsqlInbox` turns it on.
   */
  readonly groupCommit?: boolean | undefined;
}

/** Runs one write statement and answers how many rows it changed. */
type RunStatement = (statement: SqlStatement) => Promise<number>;

interface GroupedWrite {
  readonly statement: SqlStatement;
  /** Rows the statement changed, set once its transaction has committed. */
  changed: number;
}

/**
 * A statement's own fault: a constraint, or a value SQLite or the client refuses. Such a failure
 * rolls back the shared transaction, so the group is retried statement by statement and only the
 * faulty caller fails. Trouble of the database itself (busy, I/O, full, a lost connection) fails
 * the whole group at once: retried alone, each statement would only wait for the same error again.
 */
function isStatementFault(driver: SqlDriver, error: unknown): boolean {
  if (driver.isConstraintError(error) || error instanceof TypeError || error instanceof RangeError) {
    return true;
  }
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && /^SQLITE_(TOOBIG|MISMATCH|RANGE)/.test(code);
}

function toRunStatement(driver: SqlDriver, groupCommit: boolean): RunStatement {
  if (!groupCommit) {
    return async (statement) => {
      const [changed] = await driver.batch([statement]);
      return changed ?? 0;
    };
  }
  const group = createGroupCommit<GroupedWrite>({
    async write(writes) {
      const changed = await driver.batch(writes.map((w) => w.statement));
      writes.forEach((w, i) => {
        w.changed = changed[i] ?? 0;
      });
    },
    isIsolatable: (error) => isStatementFault(driver, error),
    maxItems: MAX_GROUP_STATEMENTS,
  });
  return async (statement) => {
    const write: GroupedWrite = { statement, changed: 0 };
    await group.submit([write]);
    return write.changed;
  };
}

/**
 * The inbox as the `inbox` table of a SQLite database (libSQL or D1), shared by every process of
 * a consuming service.
 * @example const inbox = createSqlInbox({ db: drizzle(client, { schema }), driver: createLibsqlDriver(client) });
 */
export function createSqlInbox(options: SqlInboxOptions): Inbox {
  const { db, driver } = options;
  const run = toRunStatement(driver, options.groupCommit ?? false);

  const readStatus = async (handler: string, eventId: string) => {
    const [row] = await db
      .select({ status: schema.inbox.status, leaseExpiresAt: schema.inbox.leaseExpiresAt })
      .from(schema.inbox)
      .where(and(eq(schema.inbox.handler, handler), eq(schema.inbox.eventId, eventId)));
    return row ?? null;
  };

  return {
    async claim({ handler, eventId, nowMs, leaseMs }): Promise<InboxClaimResult> {
      for (let round = 0; round < CLAIM_ROUNDS; round++) {
        const changed = await run({ sql: CLAIM, args: [handler, eventId, nowMs + leaseMs, nowMs] });
        if (changed === 1) return 'claimed';
        const row = await readStatus(handler, eventId);
        if (row?.status === 'done') return 'done';
        if (row?.status === 'running' && (row.leaseExpiresAt ?? 0) > nowMs) return 'running';
      }
      // The row kept changing under us: somebody is busy with this event right now.
      return 'running';
    },
    async complete({ handler, eventId, nowMs }) {
      await run({ sql: COMPLETE, args: [handler, eventId, nowMs] });
    },
    async release({ handler, eventId, claimedAt }) {
      await run({ sql: RELEASE, args: [handler, eventId, claimedAt] });
    },
  };
}

/**
 * The inbox on a libSQL client, with group commit on (one process owns its batcher, unlike a
 * Worker): concurrent deliveries share fsyncs instead of queueing for one each.
 * @example const inbox = createLibsqlInbox(client);
 */
export function createLibsqlInbox(
  client: Client,
  driver: SqlDriver = createLibsqlDriver(client),
  options: { readonly groupCommit?: boolean | undefined } = {},
): Inbox {
  return createSqlInbox({
    db: drizzle(client, { schema }),
    driver,
    groupCommit: options.groupCommit ?? true,
  });
}
