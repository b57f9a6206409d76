import { asc, eq, inArray } from 'drizzle-orm';
import type { BaseSQLiteDatabase } from 'drizzle-orm/sqlite-core';
import type { DeliveryStatus } from '../core/delivery-state.ts';
import type {
  AttemptRecord,
  AttemptView,
  DeliveryView,
  EventView,
  LeasedDelivery,
  NewDomainEvent,
  OutboxStore,
  StoredDomainEvent,
} from '../core/outbox-store.ts';
import { createGroupCommit } from './group-commit.ts';
import * as schema from './schema.ts';
import type { SqlDriver, SqlStatement, SqlValue } from './sql-driver.ts';

// biome-ignore lint/suspicious/noExplicitAny: the store runs on any async SQLite Drizzle driver (libSQL, D1)
export type OutboxDatabase = BaseSQLiteDatabase<'async', any, typeof schema>;

/** Selects the subscriptions whose type or `prefix.*` pattern matches an integration event. */
const MATCHES = `s.deleted_at IS NULL AND (s.type = ie.type OR
  (substr(s.type, -2) = '.*' AND substr(ie.type, 1, length(s.type) - 1) = substr(s.type, 1, length(s.type) - 1)))`;

/**
 * The outbox on SQLite (libSQL or D1). Ingest bypasses Drizzle's builder: it is the hot path, and
 * a handful of multi-row statements per group commit beat a statement per row. Reads go through
 * Drizzle.
 */
export function createSqlOutboxStore(options: {
  db: OutboxDatabase;
  driver: SqlDriver;
  /** Most events written in one transaction by group commit. */
  maxEventsPerCommit?: number;
}): OutboxStore {
  const { db, driver } = options;

  const groupCommit = createGroupCommit<NewDomainEvent>({
    write: async (events) => {
      await driver.batch(toInsertStatements(events, driver.maxParams));
    },
    isIsolatable: (error) => driver.isConstraintError(error),
    maxItems: options.maxEventsPerCommit ?? 500,
  });

  // Attempt outcomes are group-committed like ingest: many attempts finish together under load.
  const attemptCommit = createGroupCommit<AttemptRecord>({
    write: async (records) => {
      await driver.batch(toAttemptStatements(records, driver.maxParams));
    },
    isIsolatable: () => false,
    maxItems: 500,
  });

  const findEvents = async (ids: readonly string[]): Promise<StoredDomainEvent[]> => {
    if (ids.length === 0) return [];
    const events = await db
      .select()
      .from(schema.domainEvents)
      .where(inArray(schema.domainEvents.id, [...ids]));
    if (events.length === 0) return [];
    const integration = await db
      .select({
        id: schema.integrationEvents.id,
        type: schema.integrationEvents.type,
        domainEventId: schema.integrationEvents.domainEventId,
      })
      .from(schema.integrationEvents)
      .where(
        inArray(
          schema.integrationEvents.domainEventId,
          events.map((e) => e.id),
        ),
      )
      .orderBy(asc(schema.integrationEvents.domainEventId), asc(schema.integrationEvents.seq));
    return events.map((e) => ({
      id: e.id,
      type: e.type,
      source: e.source,
      data: e.data,
      occurredAt: e.occurredAt,
      metadata: e.metadata,
      integrationEvents: integration
        .filter((ie) => ie.domainEventId === e.id)
        .map((ie) => ({ id: ie.id, type: ie.type })),
    }));
  };

  return {
    async appendEvents(events) {
      if (events.length === 0) return { ok: true };
      try {
        await groupCommit.submit(events);
        return { ok: true };
      } catch (error) {
        if (!driver.isConstraintError(error)) throw error;
        const existing = await findEvents(events.map((e) => e.id));
        if (existing.length === 0) throw error;
        return { ok: false, existing: existing.map((e) => e.id) };
      }
    },

    findEvents,

    async getEvent(id) {
      const [event] = await db.select().from(schema.domainEvents).where(eq(schema.domainEvents.id, id));
      if (!event) return null;
      const integration = await db
        .select()
        .from(schema.integrationEvents)
        .where(eq(schema.integrationEvents.domainEventId, id))
        .orderBy(asc(schema.integrationEvents.seq));
      const ieIds = integration.map((ie) => ie.id);
      const deliveryRows =
        ieIds.length === 0
          ? []
          : await db
              .select()
              .from(schema.deliveries)
              .where(inArray(schema.deliveries.integrationEventId, ieIds))
              .orderBy(asc(schema.deliveries.createdAt), asc(schema.deliveries.id));
      const attemptRows =
        deliveryRows.length === 0
          ? []
          : await db
              .select()
              .from(schema.attempts)
              .where(
                inArray(
                  schema.attempts.deliveryId,
                  deliveryRows.map((d) => d.id),
                ),
              )
              .orderBy(asc(schema.attempts.number));
      const attemptsOf = (deliveryId: string): AttemptView[] =>
        attemptRows
          .filter((a) => a.deliveryId === deliveryId)
          .map((a) => ({
            number: a.number,
            at: a.at,
            status: a.status,
            durationMs: a.durationMs,
            error: a.error,
            responseExcerpt: a.responseExcerpt,
          }));
      const view: EventView = {
        id: event.id,
        type: event.type,
        source: event.source,
        receivedAt: event.receivedAt,
        occurredAt: event.occurredAt,
        data: event.data,
        metadata: event.metadata,
        integrationEvents: integration.map((ie) => ({
          id: ie.id,
          type: ie.type,
          source: ie.source,
          time: ie.time,
          data: ie.data,
          deliveries: deliveryRows
            .filter((d) => d.integrationEventId === ie.id)
            .map(
              (d): DeliveryView => ({
                id: d.id,
                subscriptionId: d.subscriptionId,
                url: d.url,
                status: d.status as DeliveryStatus,
                nextAttemptAt: d.nextAttemptAt,
                attempts: attemptsOf(d.id),
              }),
            ),
        })),
      };
      return view;
    },

    async syncCodeSubscriptions(subscriptions, now) {
      const statements: SqlStatement[] = subscriptions.map((s) => ({
        sql: `INSERT INTO subscriptions (id, type, url, retries, retry_delay, origin, created_at, updated_at, deleted_at)
              VALUES (?, ?, ?, ?, ?, 'code', ?, ?, NULL)
              ON CONFLICT (id) DO UPDATE SET type = excluded.type, url = excluded.url, retries = excluded.retries,
                retry_delay = excluded.retry_delay, updated_at = excluded.updated_at, deleted_at = NULL
              WHERE subscriptions.origin = 'code'`,
        args: [s.id, s.type, s.url, s.retries, s.retryDelay, now, now],
      }));
      const keep = subscriptions.map((s) => s.id);
      statements.push({
        sql: `UPDATE subscriptions SET deleted_at = ?, updated_at = ?
              WHERE origin = 'code' AND deleted_at IS NULL AND id NOT IN (SELECT value FROM json_each(?))`,
        args: [now, now, JSON.stringify(keep)],
      });
      await driver.batch(statements);
    },

    async leaseDue({ owner, now, leaseMs, limit }) {
      if (limit <= 0) return [];
      // Each arm walks the (status, next_attempt_at) index and stops at the limit, so a large
      // backlog costs no more than a small one. One statement: atomic under SQLite's write lock.
      const leased = await driver.query(
        `UPDATE deliveries SET status = 'in_flight', lease_owner = ?1, lease_expires_at = ?2, updated_at = ?3
         WHERE id IN (
           SELECT id FROM (SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= ?3
                           ORDER BY next_attempt_at LIMIT ?4)
           UNION ALL
           SELECT id FROM (SELECT id FROM deliveries WHERE status = 'retrying' AND next_attempt_at <= ?3
                           ORDER BY next_attempt_at LIMIT ?4)
           UNION ALL
           SELECT id FROM (SELECT id FROM deliveries WHERE status = 'in_flight' AND lease_expires_at <= ?3
                           ORDER BY lease_expires_at LIMIT ?4)
           LIMIT ?4)
         RETURNING id`,
        [owner, now + leaseMs, now, limit],
      );
      if (leased.length === 0) return [];
      const rows = await driver.query(
        `SELECT d.id, d.url, d.subscription_id, d.attempts, d.retried, d.max_retries, d.retry_delay, d.generation,
                coalesce(s.origin, 'api') AS origin, de.traceparent,
                ie.id AS event_id, ie.type AS event_type, ie.source AS event_source, ie.time AS event_time,
                ie.data AS event_data
         FROM deliveries d
         JOIN integration_events ie ON ie.id = d.integration_event_id
         JOIN domain_events de ON de.id = ie.domain_event_id
         LEFT JOIN subscriptions s ON s.id = d.subscription_id
         WHERE d.id IN (SELECT value FROM json_each(?1)) AND d.lease_owner = ?2`,
        [JSON.stringify(leased.map((r) => r.id)), owner],
      );
      return rows.map(
        (r): LeasedDelivery => ({
          id: String(r.id),
          url: String(r.url),
          subscriptionId: String(r.subscription_id),
          origin: r.origin === 'code' ? 'code' : 'api',
          attempts: Number(r.attempts),
          retried: Number(r.retried),
          maxRetries: Number(r.max_retries),
          retryDelay: r.retry_delay === null ? null : String(r.retry_delay),
          generation: Number(r.generation),
          traceparent: r.traceparent === null ? null : String(r.traceparent),
          event: {
            id: String(r.event_id),
            type: String(r.event_type),
            source: String(r.event_source),
            time: String(r.event_time),
            data: String(r.event_data),
          },
        }),
      );
    },

    async recordAttempts(records) {
      if (records.length > 0) await attemptCommit.submit(records);
    },

    async ping() {
      await driver.query('SELECT 1');
    },

    async close() {
      await driver.close();
    },
  };
}

/**
 * The statements that write a group of events: multi-row INSERTs chunked to the driver's
 * parameter limit, then one INSERT … SELECT that creates a delivery for every subscription
 * matching at commit time (so a subscription created a moment ago applies, on every process).
 */
function toInsertStatements(events: readonly NewDomainEvent[], maxParams: number): SqlStatement[] {
  const statements: SqlStatement[] = [];
  const eventRows: SqlValue[][] = [];
  const integrationRows: SqlValue[][] = [];
  for (const e of events) {
    eventRows.push([e.id, e.type, e.source, e.data, e.occurredAt, e.metadata, e.traceparent, e.receivedAt]);
    e.integrationEvents.forEach((ie, seq) => {
      integrationRows.push([ie.id, e.id, seq, ie.type, ie.source, ie.time, ie.data]);
    });
  }
  pushInserts(
    statements,
    'INSERT INTO domain_events (id, type, source, data, occurred_at, metadata, traceparent, received_at) VALUES ',
    eventRows,
    maxParams,
  );
  pushInserts(
    statements,
    'INSERT INTO integration_events (id, domain_event_id, seq, type, source, time, data) VALUES ',
    integrationRows,
    maxParams,
  );
  const withIntegration = events.filter((e) => e.integrationEvents.length > 0);
  const idsPerStatement = Math.max(1, maxParams - 1);
  for (let i = 0; i < withIntegration.length; i += idsPerStatement) {
    const chunk = withIntegration.slice(i, i + idsPerStatement);
    const now = chunk[0]!.receivedAt;
    statements.push({
      sql: `INSERT INTO deliveries (id, integration_event_id, subscription_id, url, status, attempts, retried,
              max_retries, retry_delay, next_attempt_at, generation, created_at, updated_at)
            SELECT lower(hex(randomblob(16))), ie.id, s.id, s.url, 'pending', 0, 0, s.retries, s.retry_delay,
              ?1, 0, ?1, ?1
            FROM integration_events ie JOIN subscriptions s ON ${MATCHES}
            WHERE ie.domain_event_id IN (${chunk.map((_, j) => `?${j + 2}`).join(', ')})`,
      args: [now, ...chunk.map((e) => e.id)],
    });
  }
  return statements;
}

/**
 * Two statements for any number of attempts: insert the attempt rows, then move the deliveries —
 * each only where the writer still holds the lease (a dispatcher that lost its lease to a
 * takeover must not overwrite the new holder's state).
 */
function toAttemptStatements(records: readonly AttemptRecord[], maxParams: number): SqlStatement[] {
  const statements: SqlStatement[] = [];
  const width = 11;
  const perStatement = Math.max(1, Math.floor(maxParams / width));
  for (let i = 0; i < records.length; i += perStatement) {
    const chunk = records.slice(i, i + perStatement);
    const values = chunk.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ');
    const args = chunk.flatMap((r) => [
      r.deliveryId,
      r.owner,
      r.number,
      r.at,
      r.status,
      r.durationMs,
      r.error,
      r.responseExcerpt,
      r.next,
      r.nextAttemptAt,
      r.retried,
    ]);
    const cte = `WITH r(delivery_id, owner, number, at, status, duration_ms, error, excerpt, next, next_at, retried)
                 AS (VALUES ${values})`;
    statements.push({
      sql: `${cte}
            INSERT OR IGNORE INTO attempts (delivery_id, number, at, status, duration_ms, error, response_excerpt)
            SELECT r.delivery_id, r.number, r.at, r.status, r.duration_ms, r.error, r.excerpt
            FROM r JOIN deliveries d ON d.id = r.delivery_id AND d.status = 'in_flight' AND d.lease_owner = r.owner`,
      args,
    });
    statements.push({
      sql: `${cte}
            UPDATE deliveries SET status = r.next, attempts = max(deliveries.attempts, r.number), retried = r.retried,
              next_attempt_at = r.next_at, lease_owner = NULL, lease_expires_at = NULL, updated_at = r.at
            FROM r
            WHERE deliveries.id = r.delivery_id AND deliveries.status = 'in_flight' AND deliveries.lease_owner = r.owner`,
      args,
    });
  }
  return statements;
}

function pushInserts(statements: SqlStatement[], head: string, rows: SqlValue[][], maxParams: number) {
  if (rows.length === 0) return;
  const width = rows[0]!.length;
  const placeholder = `(${new Array(width).fill('?').join(', ')})`;
  const perStatement = Math.max(1, Math.floor(maxParams / width));
  for (let i = 0; i < rows.length; i += perStatement) {
    const chunk = rows.slice(i, i + perStatement);
    statements.push({ sql: head + chunk.map(() => placeholder).join(', '), args: chunk.flat() });
  }
}
