import type { Client } from '@libsql/client';
import { and, eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/libsql';
import type { Inbox, InboxClaimResult } from '../handler/inbox.ts';
import { createLibsqlDriver } from './libsql-driver.ts';
import * as schema from './schema.ts';
import type { SqlDriver } from './sql-driver.ts';
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

/** Only a running claim is dropped: a late release never makes a handled event run again. */
const RELEASE = `DELETE FROM inbox WHERE handler = ?1 AND event_id = ?2 AND status = 'running'`;

/**
 * A refused claim is read back to tell `done` from `running`; between the two statements the row
 * may be released or its lease may lapse, in which case the claim is simply tried again. Each
 * round needs another process to change the row in between, so a few rounds are plenty.
 */
const CLAIM_ROUNDS = 3;

/**
 * The inbox as the `inbox` table of a SQLite database (libSQL or D1), shared by every process of
 * a consuming service.
 * @example const inbox = createSqlInbox({ db: drizzle(client, { schema }), driver: createLibsqlDriver(client) });
 */
export function createSqlInbox(options: { db: OutboxDatabase; driver: SqlDriver }): Inbox {
  const { db, driver } = options;

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
        const [changed] = await driver.batch([
          { sql: CLAIM, args: [handler, eventId, nowMs + leaseMs, nowMs] },
        ]);
        if (changed === 1) return 'claimed';
        const row = await readStatus(handler, eventId);
        if (row?.status === 'done') return 'done';
        if (row?.status === 'running' && (row.leaseExpiresAt ?? 0) > nowMs) return 'running';
      }
      // The row kept changing under us: somebody is busy with this event right now.
      return 'running';
    },
    async complete({ handler, eventId, nowMs }) {
      await driver.batch([{ sql: COMPLETE, args: [handler, eventId, nowMs] }]);
    },
    async release({ handler, eventId }) {
      await driver.batch([{ sql: RELEASE, args: [handler, eventId] }]);
    },
  };
}

/** @example const inbox = createLibsqlInbox(client); */
export function createLibsqlInbox(client: Client, driver: SqlDriver = createLibsqlDriver(client)): Inbox {
  return createSqlInbox({ db: drizzle(client, { schema }), driver });
}
