import type {
  CallbackOutcome,
  CallbackTransition,
  LeasedForPublish,
  OrderingKeyScope,
  PublishCheckRecord,
  PublishedRecord,
  PublishFailedRecord,
  PublishQueue,
} from '../core/publish-queue.ts';
import type { SqlDatabase } from './sql-database.ts';
import type { SqlDriver, SqlRow, SqlStatement, SqlValue } from './sql-driver.ts';
import { insertsDeliveries } from './sql-event-inserts.ts';
import { deliveryIdIn, deliveryIdOut } from './sql-ids.ts';
import { fromLeasedReturning, LEASED_RETURNING, MAX_ROWID, toLeasedDelivery } from './sql-leased-delivery.ts';
import { isFirstOfItsKey, ORDERING_UNSETTLED } from './sql-ordering-key.ts';

/**
 * The publishing transport's queue (QStash) on SQLite (libSQL or D1): the transport owns the
 * attempts, the outbox learns of them by callback — decided in core (`toCallbackTransition`),
 * applied here.
 * @example const publish = createSqlPublishQueue({ db, driver });
 */
export function createSqlPublishQueue(options: SqlDatabase): PublishQueue {
  const { driver } = options;
  return {
    leaseForPublish: (input) => leaseForPublish(driver, input),

    async markPublished(records) {
      if (records.length > 0) await driver.batch(toPublishedStatements(records, driver.maxParams));
    },

    async markPublishFailed(records) {
      if (records.length > 0) await driver.batch(toPublishFailedStatements(records, driver.maxParams));
    },

    async findPublished(messageId) {
      // `attempts - retried` is constant while a generation is published (see PublishedDelivery).
      const [row] = await driver.query(
        `SELECT ${deliveryIdOut('d.id')} AS id, sr.id AS subscription_id, d.ordering_key, d.retry_delay,
           d.attempts - d.retried AS earlier
         FROM deliveries d JOIN subscription_refs sr ON sr.ref = d.subscription_ref
         WHERE d.message_id = ?1 LIMIT 1`,
        [messageId],
      );
      if (row === undefined) return null;
      return {
        id: String(row.id),
        messageId,
        subscriptionId: String(row.subscription_id),
        orderingKey: row.ordering_key === null ? null : String(row.ordering_key),
        retryDelay: row.retry_delay === null ? null : String(row.retry_delay),
        earlierAttempts: Number(row.earlier),
      };
    },

    applyCallback: (transition) => applyCallback(driver, transition),

    async findOverdue({ before, limit }) {
      if (limit <= 0) return [];
      const rows = await driver.query(FIND_OVERDUE, [before, limit]);
      return rows.map((r) => ({ deliveryId: String(r.id), messageId: String(r.message_id) }));
    },

    async markChecked(records) {
      if (records.length > 0) await driver.batch(toCheckedStatements(records, driver.maxParams));
    },

    async markLost(records) {
      const changed: string[] = [];
      // One statement per chunk, each atomic on its own: a chunk already applied stays applied,
      // and applying it again changes nothing (its rows no longer carry the message id).
      for (const statement of toLostStatements(records, driver.maxParams)) {
        const rows = await driver.query(statement.sql, statement.args);
        for (const row of rows) changed.push(String(row.id));
      }
      return changed;
    },
  };
}

/**
 * Published deliveries the transport has been silent about: both the last word (`updated_at`: the
 * publish, the latest callback, or the latest check) and the next due attempt (`next_attempt_at`,
 * set by the latest callback; at or before the publish while `in_flight`) lie at or before ?1.
 * Each status is one range of `deliveries_due`; what is overdue is normally a handful of rows.
 * Spelled as an OR, not `IN`: that is what shows SQLite the partial index covers it (schema.ts).
 */
const FIND_OVERDUE = `SELECT ${deliveryIdOut('id')} AS id, message_id FROM deliveries
  WHERE (status = 'in_flight' OR status = 'retrying') AND next_attempt_at <= ?1 AND updated_at <= ?1
    AND message_id IS NOT NULL
  ORDER BY updated_at, rowid LIMIT ?2`;

/** The last word moves to `at`; nothing else does. */
function toCheckedStatements(records: readonly PublishCheckRecord[], maxParams: number): SqlStatement[] {
  return toValuesStatements(
    records.map((r) => [r.deliveryId, r.messageId, r.at]),
    maxParams,
    (values) => `WITH r(delivery_id, message_id, at) AS (VALUES ${values})
      UPDATE deliveries SET updated_at = max(deliveries.updated_at, r.at)
      FROM r
      WHERE deliveries.id = ${deliveryIdIn('r.delivery_id')} AND deliveries.message_id = r.message_id
        AND deliveries.status IN ('in_flight', 'retrying')`,
  );
}

/**
 * Pending again under a new generation, as a replay makes it (`POST /v1/deliveries/:id/retry`):
 * no message id, a fresh retry budget, due at `at`, and `updated_at = at` so the first failed
 * publish backs off from the start. `attempts` keeps counting across generations.
 */
function toLostStatements(records: readonly PublishCheckRecord[], maxParams: number): SqlStatement[] {
  return toValuesStatements(
    records.map((r) => [r.deliveryId, r.messageId, r.at]),
    maxParams,
    (values) => `WITH r(delivery_id, message_id, at) AS (VALUES ${values})
      UPDATE deliveries SET status = 'pending', generation = deliveries.generation + 1, retried = 0,
        message_id = NULL, next_attempt_at = r.at, lease_owner = NULL, lease_expires_at = NULL,
        updated_at = r.at
      FROM r
      WHERE deliveries.id = ${deliveryIdIn('r.delivery_id')} AND deliveries.message_id = r.message_id
        AND deliveries.status IN ('in_flight', 'retrying')
      RETURNING ${deliveryIdOut('deliveries.id')} AS id`,
  );
}

/**
 * Leases due, never-published pending deliveries for a publish, in one UPDATE … RETURNING (atomic
 * under SQLite's write lock). They stay `pending` and `updated_at` is left alone:
 * `next_attempt_at - updated_at` is the back-off of the last failed publish (see `markPublishFailed`).
 *
 * Subscription by subscription, as the local lease goes: a paused subscription's deliveries are
 * held (what QStash has accepted already is QStash's), at no cost however many; each active one's
 * range ends at its ?4-th publishable row by (due time, rowid) — the index's own order — so the
 * work is bounded whatever the backlog, and however many rows share a due time: a group commit
 * gives hundreds of deliveries one `next_attempt_at`, and a range ending at a due time alone read
 * every row tied with its last (as the local lease did, sql-dispatch-queue.ts).
 *
 * Ordering keys (DESIGN "Ordering"): only the head of each (subscription, key) is published — a
 * keyed delivery waits while an earlier one of its key is unsettled, which on this transport
 * includes published (`in_flight`) and `retrying` at QStash, until a callback makes it delivered
 * or dead. So QStash never holds two deliveries of one key at once, whatever it does with
 * retries; waiting rows are read (one index probe each) on the way to publishable ones after them.
 */
const LEASE_FOR_PUBLISH = `WITH cuts AS MATERIALIZED (
    SELECT s.ref AS sid, (
        SELECT x.rowid FROM deliveries x
        WHERE x.subscription_ref = s.ref AND x.status = 'pending' AND x.next_attempt_at <= ?3
          AND x.message_id IS NULL AND (x.lease_owner IS NULL OR x.lease_expires_at <= ?3)
          AND ${isFirstOfItsKey('x')}
        ORDER BY x.next_attempt_at, x.rowid LIMIT 1 OFFSET ?4 - 1) AS seq
    FROM subscriptions s WHERE s.paused_at IS NULL),
  bounds AS MATERIALIZED (
    SELECT c0.sid, coalesce((SELECT c.next_attempt_at FROM deliveries c WHERE c.rowid = c0.seq), ?3) AS at,
      coalesce(c0.seq, ${MAX_ROWID}) AS seq
    FROM cuts c0)
UPDATE deliveries SET lease_owner = ?1, lease_expires_at = ?2
WHERE id IN (
  SELECT x.id FROM bounds b CROSS JOIN deliveries x
  WHERE x.subscription_ref = b.sid AND x.status = 'pending' AND (x.next_attempt_at, x.rowid) <= (b.at, b.seq)
    AND x.message_id IS NULL AND (x.lease_owner IS NULL OR x.lease_expires_at <= ?3)
    AND ${isFirstOfItsKey('x')}
  ORDER BY x.next_attempt_at, x.rowid LIMIT ?4)
${LEASED_RETURNING}`;

/**
 * `leaseForPublish` for one (subscription ?4, key ?5): its head — the first of its unsettled
 * deliveries in rowid order, one probe of `deliveries_ordering` — if that one is publishable as
 * `LEASE_FOR_PUBLISH` has it (pending, due, never published in this generation, no live lease, its
 * subscription not paused). Being the head, it is the first of its key by definition.
 */
const LEASE_HEAD_OF_KEY = `UPDATE deliveries SET lease_owner = ?1, lease_expires_at = ?2
WHERE id = (
    SELECT h.id FROM deliveries h
    WHERE h.subscription_ref = (SELECT ref FROM subscription_refs WHERE id = ?4) AND h.ordering_key = ?5
      AND ${ORDERING_UNSETTLED.replaceAll('status', 'h.status')}
    ORDER BY h.rowid LIMIT 1)
  AND status = 'pending' AND next_attempt_at <= ?3 AND message_id IS NULL
  AND (lease_owner IS NULL OR lease_expires_at <= ?3)
  AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.id = ?4 AND s.paused_at IS NULL)
${LEASED_RETURNING}`;

async function leaseForPublish(
  driver: SqlDriver,
  {
    owner,
    now,
    leaseMs,
    limit,
    only,
  }: { owner: string; now: number; leaseMs: number; limit: number; only?: OrderingKeyScope },
): Promise<LeasedForPublish[]> {
  if (limit <= 0) return [];
  if (only === undefined) {
    const lease = toLeaseForPublish({ owner, now, leaseMs, limit });
    return fromLeaseForPublish(await driver.query(lease.sql, lease.args));
  }
  return fromLeaseForPublish(
    await driver.query(LEASE_HEAD_OF_KEY, [owner, now + leaseMs, now, only.subscriptionId, only.orderingKey]),
  );
}

/**
 * `leaseForPublish`'s statement (no ordering-key scope), for a caller that runs it inside a batch
 * of its own — the Worker leases what an ingest made due in the ingest's own transaction — and
 * reads its RETURNING rows with {@link fromLeaseForPublish}.
 * @example const lease = toLeaseForPublish({ owner, now, leaseMs: 30_000, limit: 100 });
 */
export function toLeaseForPublish({
  owner,
  now,
  leaseMs,
  limit,
}: {
  owner: string;
  now: number;
  leaseMs: number;
  limit: number;
}): SqlStatement {
  return { sql: LEASE_FOR_PUBLISH, args: [owner, now + leaseMs, now, limit] };
}

/** The deliveries a publish lease answered (LEASED_RETURNING), in publishing order. */
export function fromLeaseForPublish(rows: readonly SqlRow[]): LeasedForPublish[] {
  // The lease answers the rows themselves: no second round trip to load them.
  return fromLeasedReturning(rows).map(
    (r): LeasedForPublish => ({ ...toLeasedDelivery(r), lastPublishDelayMs: Number(r.last_publish_delay) }),
  );
}

/**
 * Whether a batch creates deliveries (an ingest's write: its `INSERT INTO deliveries … SELECT`),
 * so that a lease run after it in the same transaction may find new ones due.
 */
export function createsDeliveries(statements: readonly SqlStatement[]): boolean {
  return statements.some(insertsDeliveries);
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
      WHERE deliveries.id = ${deliveryIdIn('r.delivery_id')} AND deliveries.lease_owner = r.owner
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
      WHERE deliveries.id = ${deliveryIdIn('r.delivery_id')} AND deliveries.lease_owner = r.owner
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
 * SQL true while the delivery `d` has no record of attempt ?2 yet: no `attempts` row of that
 * number, and not the attempt kept on its row (0011, the one that delivered it).
 */
function isNewAttempt(d: string): string {
  return `NOT EXISTS (SELECT 1 FROM attempts a WHERE a.delivery_id = ${d}.id AND a.number = ?2)
      AND ${d}.delivered_number IS NOT ?2`;
}

/** A callback's failure count for its subscription: a delivered attempt sets it back to 0. */
const CALLBACK_COUNT = `CASE WHEN ?3 = 'delivered' THEN 0 ELSE consecutive_failures + 1 END`;

/**
 * The circuit breaker (DESIGN "Auto-pause") for one reported attempt not recorded yet: counted
 * against its subscription as the local dispatcher counts (sql-dispatch-queue.ts); reaching
 * `pause_after` pauses it with reason `failing`, which holds what is not yet published — what
 * QStash holds already stays QStash's.
 */
const COUNT_CALLBACK = `UPDATE subscriptions SET consecutive_failures = ${CALLBACK_COUNT},
    paused_at = CASE WHEN paused_at IS NULL AND pause_after > 0 AND ${CALLBACK_COUNT} >= pause_after
                     THEN ?4 ELSE paused_at END,
    paused_reason = CASE WHEN paused_at IS NULL AND pause_after > 0 AND ${CALLBACK_COUNT} >= pause_after
                         THEN 'failing' ELSE paused_reason END
  WHERE ref = (SELECT d.subscription_ref FROM deliveries d WHERE d.id = ${deliveryIdIn('?5')} AND d.message_id = ?1
      AND ${isNewAttempt('d')})
    AND (?3 <> 'delivered' OR consecutive_failures > 0)`;

/**
 * Applies a callback's decided transition, in one transaction.
 *
 * The UPDATE runs only while that attempt is not recorded yet, so a duplicate changes nothing (and
 * its count of changed rows tells the two apart); `delivered` and `dead` never move; an older
 * attempt's `retrying` leaves the newer one's schedule. `attempts` and `retried` rise together
 * (see `PublishedDelivery.earlierAttempts`). The attempt whose report moves the delivery to
 * `delivered` is kept on its row, as the local dispatcher keeps it (0011): one row written fewer in
 * D1 for most events. Any other attempt (a failure, a late report of an older one, a 2xx reported
 * after the delivery died) is an `attempts` row, written only where the UPDATE did not keep it.
 */
async function applyCallback(
  driver: SqlDriver,
  t: CallbackTransition,
): Promise<Exclude<CallbackOutcome, 'unknown'>> {
  const older = `(?3 = 'retrying' AND ?7 < deliveries.retried)`;
  const status = `CASE WHEN status IN ('delivered', 'dead') OR ${older} THEN status ELSE ?3 END`;
  // SET sees the row as it was: kept when this attempt is the one that moves it to delivered.
  const keep = `(?3 = 'delivered' AND status NOT IN ('delivered', 'dead'))`;
  const [, updated] = await driver.batch([
    // The circuit breaker first, while "not recorded yet" still tells a new attempt from a repeat.
    { sql: COUNT_CALLBACK, args: [t.messageId, t.number, t.next, t.at, t.deliveryId] },
    {
      sql: `UPDATE deliveries SET
              status = ${status},
              next_attempt_at = CASE WHEN status IN ('delivered', 'dead') OR ${older} THEN next_attempt_at
                                     ELSE ?4 END,
              attempts = max(attempts, ?2),
              retried = max(retried, ?7),
              updated_at = max(updated_at, ?5),
              delivered_number = CASE WHEN ${keep} THEN ?2 ELSE delivered_number END,
              delivered_at = CASE WHEN ${keep} THEN ?5 ELSE delivered_at END,
              delivered_status = CASE WHEN ${keep} THEN ?8 ELSE delivered_status END,
              delivered_duration_ms = CASE WHEN ${keep} THEN ?9 ELSE delivered_duration_ms END,
              delivered_excerpt = CASE WHEN ${keep} THEN ?10 ELSE delivered_excerpt END
            WHERE id = ${deliveryIdIn('?6')} AND message_id = ?1 AND ${isNewAttempt('deliveries')}`,
      args: [
        t.messageId,
        t.number,
        t.next,
        t.nextAttemptAt,
        t.at,
        t.deliveryId,
        t.retried,
        t.status,
        t.durationMs,
        t.responseExcerpt,
      ],
    },
    {
      // Not where the UPDATE kept it (or had kept it before: a duplicate, which changed nothing).
      sql: `INSERT OR IGNORE INTO attempts (delivery_id, number, at, status, duration_ms, error, response_excerpt)
            SELECT id, ?2, ?3, ?4, ?5, ?6, ?7 FROM deliveries WHERE id = ${deliveryIdIn('?8')} AND message_id = ?1
              AND delivered_number IS NOT ?2`,
      args: [t.messageId, t.number, t.at, t.status, t.durationMs, t.error, t.responseExcerpt, t.deliveryId],
    },
  ]);
  return (updated ?? 0) > 0 ? 'applied' : 'duplicate';
}
