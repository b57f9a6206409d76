import type { AttemptRecord, DispatchQueue, LeasedDelivery, LeaseInput } from '../core/dispatch-queue.ts';
import { createGroupCommit } from '../core/group-commit.ts';
import type { SqlDatabase } from './sql-database.ts';
import type { SqlDriver, SqlStatement } from './sql-driver.ts';
import { deliveryIdBytesIn, deliveryIdIn, deliveryIdOut, eventIdIn, isDeliveryIdBytes } from './sql-ids.ts';
import { leaseAndLoad, loadLeased, loadLeasedUntil, uniqueLeaseExpiry } from './sql-leased-delivery.ts';
import { isFirstOfItsKey } from './sql-ordering-key.ts';

/**
 * The local transport's queue on SQLite (libSQL or D1): raw statements, since leasing and
 * recording attempts are hot paths. The lease holds paused subscriptions' deliveries back and
 * keeps each subscription within its `max_concurrency`. Outcomes come decided
 * (`decideAttemptOutcome`); the SQL only applies them, where the writer still holds the lease.
 * @example const dispatch = createSqlDispatchQueue({ driver });
 */
export function createSqlDispatchQueue(options: SqlDatabase): DispatchQueue {
  const { driver } = options;

  // Attempt outcomes are group-committed like ingest: many attempts finish together under load.
  const attemptCommit = createGroupCommit<AttemptRecord>({
    write: async (records) => {
      await driver.batch(toAttemptStatements(records));
    },
    isIsolatable: () => false,
    maxItems: 500,
  });

  return {
    async leaseDue({ owner, now, leaseMs, limit }) {
      if (limit <= 0) return [];
      const leased = await driver.query(LEASE_DUE, [owner, now + leaseMs, now, limit]);
      if (leased.length === 0) return [];
      return loadLeased(driver, leased, owner);
    },

    async recordAttempts(records) {
      if (records.length > 0) await attemptCommit.submit(records);
    },

    recordAndLease: createRecordAndLease(options),
  };
}

/**
 * `DispatchQueue.recordAndLease`: the attempt statements and the lease statement (`LEASE_DUE_UPDATE`,
 * the one `leaseDue` runs) in one batch — one transaction, one fsync — and the leased rows read
 * by their lease time: before the commit where the driver can (`leaseAndLoad`: a local file's, whose
 * separate read after the commit cost 13-43 µs more a cycle of 32 — its own read transaction — in
 * bench/dispatch-statements.ts, issue 12), else after it. A batch returns no rows, so each lease
 * here gets an expiry time of its own (`uniqueLeaseExpiry`): with the owner it names exactly the
 * deliveries that statement leased.
 */
function createRecordAndLease({ driver }: SqlDatabase): NonNullable<DispatchQueue['recordAndLease']> {
  return async (records, { owner, now, leaseMs, limit }) => {
    const statements = toAttemptStatements(records);
    if (limit <= 0) {
      if (statements.length > 0) await driver.batch(statements);
      return [];
    }
    const expiry = uniqueLeaseExpiry(now + leaseMs);
    // Without RETURNING: in a batch its rows would be read (a JS object each) and dropped.
    statements.push({ sql: LEASE_DUE_UPDATE, args: [owner, expiry, now, limit] });
    return leaseAndLoad(driver, statements, owner, expiry);
  };
}

/**
 * The rowids of a subscription's (`r.sid`) first `(SELECT k FROM k)` due deliveries in `status`, in
 * due order (`next_attempt_at`, then rowid: the index's own order) — one walk of the due index that
 * stops at the k-th, however many share its due time (a group commit gives hundreds of deliveries
 * one `next_attempt_at`). Rows held back by their ordering key are not counted, so a long chain
 * waiting behind its head does not use up the k that other keys' deliveries need.
 */
const firstDue = (status: 'pending' | 'retrying') => `SELECT y.rowid FROM deliveries y
      WHERE y.subscription_ref = r.sid AND y.status = '${status}' AND y.next_attempt_at <= ?3
        AND ${isFirstOfItsKey('y')}
      ORDER BY y.next_attempt_at, y.rowid LIMIT (SELECT k FROM k)`;

/**
 * Leases up to ?4 due deliveries to ?1 until ?2 at time ?3, in one statement (atomic under
 * SQLite's write lock, so dispatchers in several processes never lease one delivery twice).
 *
 * It goes subscription by subscription, through the (subscription_ref, status, next_attempt_at)
 * index: a paused subscription is skipped whole (its held deliveries cost nothing however many),
 * and each active one gets at most its room — `max_concurrency` less its live leases, counted
 * here, across processes. Due means pending or retrying with `next_attempt_at` passed, or in
 * flight under a lapsed lease (a crashed holder's: taken over, and not counted as live). One pass
 * over a subscription's leases counts both, so the search for lapsed ones runs only where there are
 * some (`lapsed`): in flight are the attempts still out, read once a cycle instead of twice.
 *
 * Bounded work whatever the backlog: `k` is the most any subscription can take now, and each
 * subscription's candidates are its first k due rows per status (`firstDue`), each read once, found
 * by rowid — no more than k rows per subscription and status are read before ranking. `CROSS JOIN`
 * keeps SQLite walking subscriptions first, instead of the whole status range of the due index.
 * Ties in due time go in acceptance order (rowid), as a scan of the due index would take them.
 *
 * Ordering keys (DESIGN "Ordering"): a delivery with a key is due only while no earlier delivery
 * of its subscription and key is unsettled (`isFirstOfItsKey`) — so a key never holds more than
 * one of the subscription's `max_concurrency` slots, and its next delivery waits through the
 * retries (or the `notBefore`) of the one before. The price: rows waiting behind their key's head
 * are read (one index probe each) on the way to the due ones after them.
 *
 * The rows are updated by the rowids `due` read them at, not by id: no probe of the id index each.
 */
const LEASE_DUE_UPDATE = `WITH room AS MATERIALIZED (
    SELECT s.ref AS sid,
      s.max_concurrency - count(*) FILTER (WHERE f.lease_expires_at > ?3) AS free,
      count(*) FILTER (WHERE f.lease_expires_at <= ?3) AS lapsed
    FROM subscriptions s LEFT JOIN deliveries f ON f.subscription_ref = s.ref AND f.status = 'in_flight'
    WHERE s.paused_at IS NULL GROUP BY s.ref),
  k AS (SELECT min(?4, max(free)) AS k FROM room WHERE free > 0),
  due AS (
    SELECT x.rowid AS seq, x.subscription_ref AS sid, x.next_attempt_at AS at, r.free
    FROM room r CROSS JOIN deliveries x
    WHERE r.free > 0 AND x.rowid IN (${firstDue('pending')})
    UNION ALL
    SELECT x.rowid, x.subscription_ref, x.next_attempt_at, r.free
    FROM room r CROSS JOIN deliveries x
    WHERE r.free > 0 AND x.rowid IN (${firstDue('retrying')})
    UNION ALL
    SELECT x.rowid, x.subscription_ref, x.next_attempt_at, r.free
    FROM room r CROSS JOIN deliveries x
    WHERE r.free > 0 AND r.lapsed > 0 AND x.subscription_ref = r.sid AND x.status = 'in_flight'
      AND x.lease_expires_at <= ?3 AND ${isFirstOfItsKey('x')}),
  ranked AS (
    SELECT seq, at, free, row_number() OVER (PARTITION BY sid ORDER BY at, seq) AS n FROM due)
UPDATE deliveries SET status = 'in_flight', lease_owner = ?1, lease_expires_at = ?2, updated_at = ?3
WHERE rowid IN (SELECT seq FROM ranked WHERE n <= free ORDER BY at, seq LIMIT ?4)`;

/** `LEASE_DUE_UPDATE` answering the ids it leased, for `leaseDue` (which reads the rest by them). */
const LEASE_DUE = `${LEASE_DUE_UPDATE}
RETURNING ${deliveryIdOut('id')} AS id`;

/** Records per statement: a record is at most ~2 KiB of JSON (its response excerpt). */
const RECORDS_PER_STATEMENT = 128;

/**
 * The hand-off (HOOKMESH_ROLE=all, `DeliveryHandOff`): a statement for ingest's own transaction,
 * after its delivery INSERTs, that leases the deliveries of `integrationEventIds` just written to
 * the dispatcher `owner` of this process — up to `limit`, the slots it set aside — so they go out
 * without a lease transaction (and its fsync) of their own; and the read, after the commit, of
 * what it leased. The rows are the ones `LEASE_DUE` writes (owner, expiry, `in_flight`), and a
 * lease that is never sent lapses like any other: the deliveries go again after `leaseMs`.
 *
 * It takes no more than `LEASE_DUE` would: only deliveries due now (a `notBefore` ahead leaves
 * them to the poll), of subscriptions that are not paused, within each one's room under
 * `max_concurrency`, and first of their ordering key (an earlier delivery of the key unsettled —
 * of this group too — keeps a delivery pending). And it never overtakes: a subscription with an
 * older delivery that is due and not leased (pending or retrying) gets none, the poll takes them
 * in order.
 */
export function toHandOffLease(
  driver: SqlDriver,
  integrationEventIds: readonly string[],
  { owner, now, leaseMs, limit }: LeaseInput,
): { readonly statement: SqlStatement; load(): Promise<LeasedDelivery[]> } {
  const expiry = uniqueLeaseExpiry(now + leaseMs);
  return {
    statement: {
      sql: LEASE_HANDED_OFF,
      args: [owner, expiry, now, limit, JSON.stringify(integrationEventIds)],
    },
    load: () => loadLeasedUntil(driver, owner, expiry),
  };
}

/**
 * `toHandOffLease`'s statement: ?1 owner, ?2 expiry, ?3 now, ?4 limit, ?5 the integration event
 * ids (JSON). Their new deliveries are found through `deliveries_integration_event` (`CROSS
 * JOIN` and `+` keep SQLite from walking the due index instead, a whole backlog); room and
 * ranking as in `LEASE_DUE`, for their subscriptions only; "older due" is one probe each of
 * `deliveries_subscription_due` (pending: rowid before the group's first; retrying: any).
 */
const LEASE_HANDED_OFF = `WITH fresh AS MATERIALIZED (
    SELECT x.id, x.rowid AS seq, x.subscription_ref AS sid, x.next_attempt_at AS at
    FROM json_each(?5) j CROSS JOIN integration_events ie CROSS JOIN deliveries x
    WHERE ie.id = ${eventIdIn('j.value')} AND x.integration_event_ref = ie.ref
      AND +x.status = 'pending' AND +x.next_attempt_at <= ?3 AND ${isFirstOfItsKey('x')}),
  room AS MATERIALIZED (
    SELECT s.ref AS sid, s.max_concurrency - (
        SELECT count(*) FROM deliveries f
        WHERE f.subscription_ref = s.ref AND f.status = 'in_flight' AND f.lease_expires_at > ?3) AS free
    FROM subscriptions s
    WHERE s.ref IN (SELECT sid FROM fresh) AND s.paused_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM deliveries o
        WHERE o.subscription_ref = s.ref AND o.status = 'pending' AND o.next_attempt_at <= ?3
          AND o.rowid < (SELECT min(seq) FROM fresh WHERE fresh.sid = s.ref))
      AND NOT EXISTS (SELECT 1 FROM deliveries o
        WHERE o.subscription_ref = s.ref AND o.status = 'retrying' AND o.next_attempt_at <= ?3)),
  ranked AS (
    SELECT f.id, f.seq, f.at, r.free, row_number() OVER (PARTITION BY f.sid ORDER BY f.at, f.seq) AS n
    FROM fresh f JOIN room r ON r.sid = f.sid)
UPDATE deliveries SET status = 'in_flight', lease_owner = ?1, lease_expires_at = ?2, updated_at = ?3
WHERE rowid IN (SELECT seq FROM ranked WHERE n <= free ORDER BY at, seq LIMIT ?4)`;

/**
 * Attempt records as one bound JSON array of rows (`toRecordRows`), read by `json_each`, instead
 * of 12 bound parameters per record (0.3–0.55 µs each to bind, three statements over them): the
 * statements' text no longer depends on how many records there are — one prepared shape each,
 * with no padding to a few sizes — and D1's 100 parameters no longer cut the records into chunks.
 *
 * Each statement reads only the fields it uses (`recordFields`): every `->>` costs ~0.35 µs a
 * record, and reading all eleven in each statement was most of what recording a record cost.
 */
function recordFields(...fields: (keyof typeof RECORD_FIELDS)[]): string {
  const columns = fields.map((f) => `value ->> ${RECORD_FIELDS[f]} AS ${f}`).join(', ');
  return `r AS MATERIALIZED (SELECT ${columns}, key AS seq FROM json_each(?1))`;
}

/** Where each field sits in a record's array (`toRecordRows`). */
const RECORD_FIELDS = {
  delivery_id: 0,
  number: 1,
  at: 2,
  status: 3,
  duration_ms: 4,
  error: 5,
  excerpt: 6,
  next: 7,
  next_at: 8,
  retried: 9,
} as const;

/**
 * The parameter `recordFields` reads: one array per record, in `RECORD_FIELDS`' order. The owner
 * is not among them: the records of one statement share it (`toRecordRuns`), bound once as ?2.
 */
function toRecordRows(records: readonly AttemptRecord[]): string {
  return JSON.stringify(
    records.map((r) => [
      r.deliveryId,
      r.number,
      r.at,
      r.status,
      r.durationMs,
      r.error,
      r.responseExcerpt,
      r.next,
      r.nextAttemptAt,
      r.retried,
    ]),
  );
}

/**
 * Attempt rows for the records whose writer still holds the lease (a lost lease's are dropped):
 * those that did not deliver (`toAttemptStatements` binds only them). A delivered one is kept on
 * its delivery's row by `applyOutcomes`.
 */
const insertAttempts = (
  idIn: string,
) => `WITH ${recordFields('delivery_id', 'number', 'at', 'status', 'duration_ms', 'error', 'excerpt')}
INSERT OR IGNORE INTO attempts (delivery_id, number, at, status, duration_ms, error, response_excerpt)
SELECT d.id, r.number, r.at, r.status, r.duration_ms, r.error, r.excerpt
FROM r JOIN deliveries d ON ${isRecordedDelivery('d', idIn)}`;

/**
 * The deliveries moved on as their records decided, where the writer still holds the lease. The
 * attempt that delivers one is recorded here, on its row (0011, `attempt_log`): the row this
 * statement rewrites anyway, where an `attempts` row was one more statement and B-tree insert a
 * delivery. At a cycle of 32, the cycle's statements went from 24.9 to 21.9-22.1 µs a row
 * (bench/dispatch-statements.ts), the dispatcher from 16.0-16.7k to 16.6-17.7k deliveries/s
 * compiled (bench:delivery, 3 alternated pairs), and a delivered event from 537 to 510 B on disk
 * (issue 12). Only a delivered record writes those columns (`delivered` is terminal): a failed one
 * leaves them NULL.
 */
const applyOutcomes = (
  idIn: string,
) => `WITH ${recordFields('delivery_id', 'number', 'at', 'status', 'duration_ms', 'excerpt', 'next', 'next_at', 'retried')}
UPDATE deliveries SET status = r.next, attempts = max(deliveries.attempts, r.number), retried = r.retried,
  next_attempt_at = r.next_at, lease_owner = NULL, lease_expires_at = NULL, updated_at = r.at,
  delivered_number = CASE WHEN r.next = 'delivered' THEN r.number END,
  delivered_at = CASE WHEN r.next = 'delivered' THEN r.at END,
  delivered_status = CASE WHEN r.next = 'delivered' THEN r.status END,
  delivered_duration_ms = CASE WHEN r.next = 'delivered' THEN r.duration_ms END,
  delivered_excerpt = CASE WHEN r.next = 'delivered' THEN r.excerpt END
FROM r
WHERE ${isRecordedDelivery('deliveries', idIn)}`;

/**
 * Up to three statements per `RECORDS_PER_STATEMENT` attempts: insert the rows of the attempts that
 * did not deliver (none when every one did: the common case), count the records against their
 * subscriptions (the circuit breaker, `countFailures`, or `resetFailures` when every record is a
 * delivery), then move the deliveries, recording each delivered attempt on its row — each only
 * where the writer still holds the lease (a dispatcher that lost its lease to a takeover must not
 * overwrite the new holder's state).
 */
function toAttemptStatements(records: readonly AttemptRecord[]): SqlStatement[] {
  const statements: SqlStatement[] = [];
  for (const { run, bytes } of toRecordRuns(records)) {
    const sql = bytes ? RECORD_SQL.bytes : RECORD_SQL.any;
    for (let i = 0; i < run.length; i += RECORDS_PER_STATEMENT) {
      const chunk = run.slice(i, i + RECORDS_PER_STATEMENT);
      const owner = chunk[0]!.owner;
      const args = [toRecordRows(chunk), owner];
      const undelivered = chunk.filter((r) => r.next !== 'delivered');
      if (undelivered.length > 0) {
        const rows = undelivered.length === chunk.length ? args : [toRecordRows(undelivered), owner];
        statements.push({ sql: sql.insert, args: rows });
      }
      statements.push({ sql: undelivered.length === 0 ? sql.reset : sql.count, args });
      statements.push({ sql: sql.apply, args });
    }
  }
  return statements;
}

function toRecordSql(idIn: string) {
  return {
    insert: insertAttempts(idIn),
    apply: applyOutcomes(idIn),
    count: countFailures(idIn),
    reset: resetFailures(idIn),
  } as const;
}

/**
 * The records in runs of one writer and one id form (`isDeliveryIdBytes`), in their order (the
 * breaker counts them in it): a statement binds its writer once, where reading it from every record
 * cost ~0.35 µs a record in each of three statements. A dispatcher's records are one run.
 */
function toRecordRuns(records: readonly AttemptRecord[]): { run: AttemptRecord[]; bytes: boolean }[] {
  const runs: { run: AttemptRecord[]; bytes: boolean }[] = [];
  let last: { run: AttemptRecord[]; bytes: boolean } | undefined;
  for (const r of records) {
    const bytes = isDeliveryIdBytes(r.deliveryId);
    if (last === undefined || last.run[0]!.owner !== r.owner || last.bytes !== bytes) {
      last = { run: [], bytes };
      runs.push(last);
    }
    last.run.push(r);
  }
  return runs;
}

/**
 * SQL true for the delivery `d` of the attempt record `r` (its id stored as `idIn` makes it), while
 * the records' writer (?2) still holds its lease.
 */
function isRecordedDelivery(d: string, idIn: string): string {
  return `${d}.id = ${idIn} AND ${d}.status = 'in_flight' AND ${d}.lease_owner = ?2`;
}

/** A subscription's failure count once `c`'s attempts are counted: a delivered one starts it again. */
const NEW_COUNT = `CASE WHEN c.last_ok IS NULL THEN subscriptions.consecutive_failures + c.fails ELSE c.fails END`;
/** Whether that count trips the breaker: active, `pause_after` set (0 = never) and reached. */
const TRIPS = `(subscriptions.paused_at IS NULL AND subscriptions.pause_after > 0
  AND ${NEW_COUNT} >= subscriptions.pause_after)`;

/**
 * The circuit breaker (DESIGN "Auto-pause") over the attempt records (`recordFields`), in the
 * transaction that records them: runs before the deliveries move, so `applied` is exactly the
 * records whose lease still holds. Per subscription, in record order (`seq`), a delivered attempt
 * sets the count of consecutive failures back to 0 and each failed one (retrying or dead) adds 1;
 * reaching `pause_after` pauses it with reason `failing`. A manual pause is left as it is. A
 * subscription with nothing to change (all delivered, count already 0) is not written.
 */
const countFailures = (idIn: string) => `WITH ${recordFields('delivery_id', 'at', 'next')},
  applied AS (
    SELECT d.subscription_ref AS sid, r.seq, r.next, r.at
    FROM r JOIN deliveries d ON ${isRecordedDelivery('d', idIn)}),
  last AS (
    SELECT sid, max(CASE WHEN next = 'delivered' THEN seq END) AS last_ok, max(at) AS at FROM applied GROUP BY sid),
  c AS (
    SELECT l.sid, l.last_ok, l.at, (SELECT count(*) FROM applied a
      WHERE a.sid = l.sid AND a.next <> 'delivered' AND a.seq > coalesce(l.last_ok, -1)) AS fails
    FROM last l)
UPDATE subscriptions SET consecutive_failures = ${NEW_COUNT},
  paused_at = CASE WHEN ${TRIPS} THEN c.at ELSE subscriptions.paused_at END,
  paused_reason = CASE WHEN ${TRIPS} THEN 'failing' ELSE subscriptions.paused_reason END,
  updated_at = CASE WHEN ${TRIPS} THEN max(subscriptions.updated_at, c.at) ELSE subscriptions.updated_at END
FROM c
WHERE subscriptions.ref = c.sid AND (c.fails > 0 OR subscriptions.consecutive_failures > 0)`;

/**
 * `countFailures` when every record is a delivery: each subscription they apply to starts its
 * count again, so only a subscription with failures counted is written (rarely any) — the same
 * rows as `countFailures`, without grouping the records, and the records are read only for a
 * subscription with failures counted.
 */
const resetFailures = (idIn: string) => `WITH ${recordFields('delivery_id')}
UPDATE subscriptions SET consecutive_failures = 0
WHERE consecutive_failures > 0
  AND EXISTS (SELECT 1 FROM r JOIN deliveries d ON ${isRecordedDelivery('d', idIn)} WHERE d.subscription_ref = subscriptions.ref)`;

/**
 * The record statements, for delivery ids stored as bytes (`isDeliveryIdBytes`: found by their
 * bytes alone, without the round-trip check `deliveryIdIn` makes, which cost ~0.3 µs a record in
 * each of two statements) and for any id. Last: the statements above are made here, once.
 */
const RECORD_SQL = {
  bytes: toRecordSql(deliveryIdBytesIn('r.delivery_id')),
  any: toRecordSql(deliveryIdIn('r.delivery_id')),
} as const;
