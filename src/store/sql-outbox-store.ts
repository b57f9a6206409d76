import { asc, eq, inArray } from 'drizzle-orm';
import type { BaseSQLiteDatabase } from 'drizzle-orm/sqlite-core';
import { type AttemptOutcome, type DeliveryStatus, decideAttemptOutcome } from '../core/delivery-state.ts';
import { createGroupCommit } from '../core/group-commit.ts';
import type {
  AttemptRecord,
  AttemptView,
  CallbackOutcome,
  CallbackReport,
  DeliveryView,
  EventView,
  LeasedDelivery,
  LeasedForPublish,
  NewDomainEvent,
  OutboxStore,
  PublishedRecord,
  PublishFailedRecord,
  StoredDomainEvent,
} from '../core/outbox-store.ts';
import { parseDelayExpression } from '../core/retry-delay-expression.ts';
import * as schema from './schema.ts';
import type { SqlDriver, SqlRow, SqlStatement, SqlValue } from './sql-driver.ts';

// biome-ignore lint/suspicious/noExplicitAny: the store runs on any async SQLite Drizzle driver (libSQL, D1)
export type OutboxDatabase = BaseSQLiteDatabase<'async', any, typeof schema>;

/** Rows per multi-row INSERT at most. */
const MAX_ROWS_PER_INSERT = 64;

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

  // D1 binds at most 100 parameters per statement: a long id list is read in slices that fit.
  const findEvents = async (ids: readonly string[]): Promise<StoredDomainEvent[]> => {
    const slices = toChunks([...new Set(ids)], driver.maxParams);
    return (await Promise.all(slices.map(findEventSlice))).flat();
  };

  const findEventSlice = async (ids: readonly string[]): Promise<StoredDomainEvent[]> => {
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
      // Subqueries rather than id lists: one bound parameter however many rows (D1 binds ≤100).
      const ieIds = db
        .select({ id: schema.integrationEvents.id })
        .from(schema.integrationEvents)
        .where(eq(schema.integrationEvents.domainEventId, id));
      const deliveryRows =
        integration.length === 0
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
                  db
                    .select({ id: schema.deliveries.id })
                    .from(schema.deliveries)
                    .where(inArray(schema.deliveries.integrationEventId, ieIds)),
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
      return (await loadLeased(driver, leased, owner)).map(toLeasedDelivery);
    },

    async recordAttempts(records) {
      if (records.length > 0) await attemptCommit.submit(records);
    },

    leaseForPublish: (input) => leaseForPublish(driver, input),

    async markPublished(records) {
      if (records.length > 0) await driver.batch(toPublishedStatements(records, driver.maxParams));
    },

    async markPublishFailed(records) {
      if (records.length > 0) await driver.batch(toPublishFailedStatements(records, driver.maxParams));
    },

    applyCallback: (report) => applyCallback(driver, report),

    async ping() {
      await driver.query('SELECT 1');
    },

    async close() {
      await driver.close();
    },
  };
}

/**
 * The statements that write a group of events: multi-row INSERTs, then one INSERT … SELECT that
 * creates a delivery for every subscription matching at commit time (so a subscription created a
 * moment ago applies, on every process). A handful of statement shapes serve every group size, so
 * a driver that caches prepared statements prepares each once.
 */
function toInsertStatements(events: readonly NewDomainEvent[], maxParams: number): SqlStatement[] {
  const statements: SqlStatement[] = [];
  const eventArgs: SqlValue[] = [];
  const integrationArgs: SqlValue[] = [];
  // [integration event id, type, received at, delivery id prefix] per integration event.
  const deliveryRows: [string, string, number, string][] = [];
  for (const e of events) {
    eventArgs.push(e.id, e.type, e.source, e.data, e.occurredAt, e.metadata, e.traceparent, e.receivedAt);
    const prefix = toTimePrefix(e.receivedAt);
    e.integrationEvents.forEach((ie, seq) => {
      integrationArgs.push(ie.id, e.id, seq, ie.type, ie.source, ie.time, ie.data);
      deliveryRows.push([ie.id, ie.type, e.receivedAt, prefix]);
    });
  }
  pushInserts(
    statements,
    'INSERT INTO domain_events (id, type, source, data, occurred_at, metadata, traceparent, received_at) VALUES ',
    8,
    eventArgs,
    maxParams,
  );
  pushInserts(
    statements,
    'INSERT INTO integration_events (id, domain_event_id, seq, type, source, time, data) VALUES ',
    7,
    integrationArgs,
    maxParams,
  );
  if (deliveryRows.length > 0) {
    // Delivery ids start with the time (12 hex digits of milliseconds) then 80 random bits: they
    // land at the end of the primary key's B-tree instead of all over it, so a commit writes a
    // few pages of that index rather than one per delivery.
    statements.push({
      sql: `INSERT INTO deliveries (id, integration_event_id, subscription_id, url, status, attempts, retried,
              max_retries, retry_delay, next_attempt_at, generation, created_at, updated_at)
            SELECT ie.prefix || lower(hex(randomblob(10))), ie.id, s.id, s.url, 'pending', 0, 0, s.retries,
              s.retry_delay, ie.at, 0, ie.at, ie.at
            FROM (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS type,
                    json_extract(value, '$[2]') AS at, json_extract(value, '$[3]') AS prefix
                  FROM json_each(?1)) ie
            JOIN subscriptions s ON ${MATCHES}`,
      args: [JSON.stringify(deliveryRows)],
    });
  }
  return statements;
}

let lastPrefixMs = Number.NaN;
let lastPrefix = '';

/** Milliseconds as 12 lower-case hex digits: ids that sort by time. A group shares its millisecond. */
function toTimePrefix(ms: number): string {
  if (ms !== lastPrefixMs) {
    lastPrefix = ms.toString(16).padStart(12, '0');
    lastPrefixMs = ms;
  }
  return lastPrefix;
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

/**
 * Appends multi-row INSERTs for `args` (rows of `width` values, flat): chunks of the most rows the
 * driver's parameter limit allows (at most 64), halved until they fit what is left — so a few
 * statement shapes cover every group size.
 */
function pushInserts(
  statements: SqlStatement[],
  head: string,
  width: number,
  args: SqlValue[],
  maxParams: number,
) {
  const rows = args.length / width;
  const most = Math.max(1, Math.min(MAX_ROWS_PER_INSERT, Math.floor(maxParams / width)));
  const placeholder = `(${new Array(width).fill('?').join(', ')})`;
  for (let done = 0; done < rows; ) {
    let size = most;
    while (size > rows - done) size >>= 1;
    statements.push({
      sql: head + new Array(size).fill(placeholder).join(', '),
      args: args.slice(done * width, (done + size) * width),
    });
    done += size;
  }
}

// ---------------------------------------------------------------------------------------------
// Publishing transports (QStash): the transport owns the attempts, the outbox learns by callback.

/**
 * Leases due, never-published pending deliveries for a publish, in one UPDATE … RETURNING (atomic
 * under SQLite's write lock, like `leaseDue`). They stay `pending` and `updated_at` is left alone:
 * `next_attempt_at - updated_at` is the back-off of the last failed publish (see `markPublishFailed`).
 */
async function leaseForPublish(
  driver: SqlDriver,
  { owner, now, leaseMs, limit }: { owner: string; now: number; leaseMs: number; limit: number },
): Promise<LeasedForPublish[]> {
  if (limit <= 0) return [];
  const leased = await driver.query(
    `UPDATE deliveries SET lease_owner = ?1, lease_expires_at = ?2
     WHERE id IN (SELECT id FROM deliveries
                  WHERE status = 'pending' AND next_attempt_at <= ?3 AND message_id IS NULL
                    AND (lease_owner IS NULL OR lease_expires_at <= ?3)
                  ORDER BY next_attempt_at LIMIT ?4)
     RETURNING id`,
    [owner, now + leaseMs, now, limit],
  );
  if (leased.length === 0) return [];
  return (await loadLeased(driver, leased, owner)).map(
    (r): LeasedForPublish => ({ ...toLeasedDelivery(r), lastPublishDelayMs: Number(r.last_publish_delay) }),
  );
}

/** Message ids in, leases out, `in_flight` — where the writer still holds the lease on that generation. */
function toPublishedStatements(records: readonly PublishedRecord[], maxParams: number): SqlStatement[] {
  return toValuesStatements(
    records.map((r) => [r.deliveryId, r.owner, r.generation, r.messageId, r.at]),
    maxParams,
    (values) => `WITH r(delivery_id, owner, generation, message_id, at) AS (VALUES ${values})
      UPDATE deliveries SET status = 'in_flight', message_id = r.message_id, lease_owner = NULL,
        lease_expires_at = NULL, updated_at = r.at
      FROM r
      WHERE deliveries.id = r.delivery_id AND deliveries.lease_owner = r.owner
        AND deliveries.generation = r.generation AND deliveries.status = 'pending'
        AND deliveries.message_id IS NULL`,
  );
}

/**
 * Leases out, due again later, still `pending`. `updated_at = at` with `next_attempt_at` is what
 * `leaseForPublish` reads the last back-off from, so no counter column is needed.
 */
function toPublishFailedStatements(
  records: readonly PublishFailedRecord[],
  maxParams: number,
): SqlStatement[] {
  return toValuesStatements(
    records.map((r) => [r.deliveryId, r.owner, r.at, r.nextAttemptAt]),
    maxParams,
    (values) => `WITH r(delivery_id, owner, at, next_at) AS (VALUES ${values})
      UPDATE deliveries SET lease_owner = NULL, lease_expires_at = NULL, next_attempt_at = r.next_at,
        updated_at = r.at
      FROM r
      WHERE deliveries.id = r.delivery_id AND deliveries.lease_owner = r.owner
        AND deliveries.status = 'pending' AND deliveries.message_id IS NULL`,
  );
}

/** One statement per chunk of rows, each chunk's rows bound as a `VALUES` list within `maxParams`. */
function toValuesStatements(
  rows: readonly SqlValue[][],
  maxParams: number,
  toSql: (values: string) => string,
): SqlStatement[] {
  if (rows.length === 0) return [];
  const width = rows[0]!.length;
  const placeholder = `(${new Array(width).fill('?').join(', ')})`;
  const perStatement = Math.max(1, Math.floor(maxParams / width));
  const statements: SqlStatement[] = [];
  for (let i = 0; i < rows.length; i += perStatement) {
    const chunk = rows.slice(i, i + perStatement);
    statements.push({ sql: toSql(chunk.map(() => placeholder).join(', ')), args: chunk.flat() });
  }
  return statements;
}

/**
 * Records a callback's attempt and moves its delivery, in one transaction.
 *
 * Numbering: while a generation is published, `attempts - retried` stays the attempts of earlier
 * generations (a publish starts with `retried` 0, a replay resets it to 0, and every callback
 * raises both by the same amount, `retried` becoming the attempts seen in this generation). So the
 * reported attempt is number `attempts - retried + report.retried + 1`, whatever order callbacks
 * come in, and `(delivery_id, number)` makes a repeat a no-op.
 *
 * The UPDATE runs first and only while that attempt row is absent, so a duplicate changes nothing;
 * `delivered` and `dead` never move; an older attempt's `retrying` leaves the newer one's schedule.
 */
async function applyCallback(driver: SqlDriver, report: CallbackReport): Promise<CallbackOutcome> {
  const [row] = await driver.query('SELECT id, retry_delay FROM deliveries WHERE message_id = ?1 LIMIT 1', [
    report.messageId,
  ]);
  if (row === undefined) return 'unknown';
  const outcome = toCallbackOutcome(report, row.retry_delay === null ? null : String(row.retry_delay));
  const nextAttemptAt = outcome.status === 'retrying' ? report.at + outcome.delayMs : report.at;
  const number = 'deliveries.attempts - deliveries.retried + ?2 + 1';
  const older = `(?3 = 'retrying' AND ?2 + 1 < deliveries.retried)`;
  const [, inserted] = await driver.batch([
    {
      sql: `UPDATE deliveries SET
              status = CASE WHEN status IN ('delivered', 'dead') OR ${older} THEN status ELSE ?3 END,
              next_attempt_at = CASE WHEN status IN ('delivered', 'dead') OR ${older} THEN next_attempt_at
                                     ELSE ?4 END,
              attempts = max(attempts, ${number}),
              retried = max(retried, ?2 + 1),
              updated_at = max(updated_at, ?5)
            WHERE id = ?6 AND message_id = ?1
              AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.delivery_id = deliveries.id AND a.number = ${number})`,
      args: [report.messageId, report.retried, outcome.status, nextAttemptAt, report.at, String(row.id)],
    },
    {
      sql: `INSERT OR IGNORE INTO attempts (delivery_id, number, at, status, duration_ms, error, response_excerpt)
            SELECT id, attempts - retried + ?2 + 1, ?3, ?4, ?5, ?6, ?7 FROM deliveries WHERE id = ?8 AND message_id = ?1`,
      args: [
        report.messageId,
        report.retried,
        report.at,
        report.status,
        report.durationMs ?? 0,
        report.error,
        report.responseExcerpt,
        String(row.id),
      ],
    },
  ]);
  return (inserted ?? 0) > 0 ? 'applied' : 'duplicate';
}

/** The delivery state a callback reports, by the same rules as a local attempt (`decideAttemptOutcome`). */
function toCallbackOutcome(report: CallbackReport, retryDelay: string | null): AttemptOutcome {
  if (report.failure) return { status: 'dead', reason: 'retries_exhausted' };
  const parsed = retryDelay === null ? null : parseDelayExpression(retryDelay);
  return decideAttemptOutcome({
    status: report.status,
    nonRetryable: report.nonRetryable,
    retried: report.retried,
    maxRetries: report.maxRetries,
    // Validated when the subscription was made; a bad one falls back to the default back-off.
    retryDelay: parsed?.ok ? parsed.expression : null,
    retryAfterMs: report.retryAfterMs ?? null,
  });
}

/** `values` in slices of at most `size` (at least one value each); none for none. */
function toChunks<T>(values: readonly T[], size: number): T[][] {
  const step = Math.max(1, size);
  const chunks: T[][] = [];
  for (let i = 0; i < values.length; i += step) chunks.push(values.slice(i, i + step));
  return chunks;
}

/** What an attempt needs of the deliveries just leased to `owner`: the row, its event, its origin. */
function loadLeased(driver: SqlDriver, leased: readonly SqlRow[], owner: string): Promise<SqlRow[]> {
  return driver.query(
    `SELECT d.id, d.url, d.subscription_id, d.attempts, d.retried, d.max_retries, d.retry_delay, d.generation,
            max(0, d.next_attempt_at - d.updated_at) AS last_publish_delay,
            coalesce(s.origin, 'api') AS origin, de.traceparent,
            ie.id AS event_id, ie.type AS event_type, ie.source AS event_source, ie.time AS event_time,
            ie.data AS event_data
     FROM deliveries d
     JOIN integration_events ie ON ie.id = d.integration_event_id
     JOIN domain_events de ON de.id = ie.domain_event_id
     LEFT JOIN subscriptions s ON s.id = d.subscription_id
     WHERE d.id IN (SELECT value FROM json_each(?1)) AND d.lease_owner = ?2
     ORDER BY d.next_attempt_at, d.id`,
    [JSON.stringify(leased.map((r) => r.id)), owner],
  );
}

function toLeasedDelivery(r: SqlRow): LeasedDelivery {
  return {
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
  };
}
