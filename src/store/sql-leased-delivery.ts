import type { LeasedDelivery } from '../core/dispatch-queue.ts';
import type { SqlDriver, SqlRow, SqlStatement } from './sql-driver.ts';
import { typeNameOf } from './sql-event-types.ts';
import { deliveryIdIn, deliveryIdOut, eventIdOut } from './sql-ids.ts';
import { integrationSource, integrationTime } from './sql-integration-event.ts';

/**
 * What an attempt needs of the deliveries just leased to `owner` (their ids in `leased`): the row,
 * its event, its subscription's origin — in lease order.
 */
export async function loadLeased(
  driver: SqlDriver,
  leased: readonly SqlRow[],
  owner: string,
): Promise<LeasedDelivery[]> {
  const rows = await driver.query(
    `${LEASED_PACKED_SELECT}
     WHERE d.id IN (SELECT ${deliveryIdIn('value')} FROM json_each(?1)) AND d.lease_owner = ?2`,
    [JSON.stringify(leased.map((r) => r.id)), owner],
  );
  return fromPackedRows(rows);
}

/**
 * Like `loadLeased`, for the deliveries one lease statement gave `owner` until exactly
 * `leaseExpiresAt` — for a lease run inside a batch, whose RETURNING rows the batch does not hand
 * back. The caller makes that time unique among its own leases.
 */
export async function loadLeasedUntil(
  driver: SqlDriver,
  owner: string,
  leaseExpiresAt: number,
): Promise<LeasedDelivery[]> {
  const rows = await driver.query(LEASED_UNTIL, [owner, leaseExpiresAt]);
  return fromPackedRows(rows);
}

/**
 * `loadLeasedUntil` in the transaction that leases: `statements`, then the rows they leased to
 * `owner` until `leaseExpiresAt`, read before the commit where the driver can (`queryAfter`).
 */
export async function leaseAndLoad(
  driver: SqlDriver,
  statements: readonly SqlStatement[],
  owner: string,
  leaseExpiresAt: number,
): Promise<LeasedDelivery[]> {
  if (driver.queryAfter === undefined) {
    await driver.batch(statements);
    return loadLeasedUntil(driver, owner, leaseExpiresAt);
  }
  const rows = await driver.queryAfter(statements, LEASED_UNTIL, [owner, leaseExpiresAt]);
  return fromPackedRows(rows);
}

let lastLeaseExpiry = 0;

/**
 * A lease expiry time from `at` (`now + leaseMs`) that no earlier call in this process returned:
 * `loadLeasedUntil` names one lease statement's rows by owner and expiry, and one owner's leases
 * are written from two places in one millisecond — the dispatcher's cycle (`recordAndLease`) and
 * ingest's hand-off (`toHandOffLease`). Past `at` by a millisecond per lease of that millisecond.
 */
export function uniqueLeaseExpiry(at: number): number {
  lastLeaseExpiry = Math.max(at, lastLeaseExpiry + 1);
  return lastLeaseExpiry;
}

/**
 * A lease statement's RETURNING clause that answers what `loadLeased` reads, so the lease and its
 * rows are one statement and one round trip: the joined columns come as one JSON array from a
 * subquery on the row just leased (`deliveries`, the statement's target). RETURNING rows come in
 * no set order: `fromLeasedReturning` puts them in `loadLeased`'s.
 */
export const LEASED_RETURNING = `RETURNING ${deliveryIdOut('id')} AS id, attempts, retried, max_retries, retry_delay,
    generation, max(0, next_attempt_at - updated_at) AS last_publish_delay, next_attempt_at AS due_at, rowid AS row_order,
    (SELECT json_array(ep.url, sr.id, coalesce(s.origin, 'api'), de.traceparent, ${eventIdOut('ie.id')},
        ${typeNameOf('ie.type_ref')}, ${integrationSource('ie', 'de')}, ${integrationTime('ie', 'de')}, ie.data)
      FROM integration_events ie
      JOIN domain_events de ON de.ref = ie.domain_event_ref
      JOIN endpoints ep ON ep.id = deliveries.endpoint_id
      JOIN subscription_refs sr ON sr.ref = deliveries.subscription_ref
      LEFT JOIN subscriptions s ON s.ref = deliveries.subscription_ref
      WHERE ie.ref = deliveries.integration_event_ref) AS joined`;

/** The rows of a lease with {@link LEASED_RETURNING} as `loadLeased` answers them, in its order. */
export function fromLeasedReturning(rows: readonly SqlRow[]): SqlRow[] {
  return [...rows]
    .sort((a, b) => Number(a.due_at) - Number(b.due_at) || Number(a.row_order) - Number(b.row_order))
    .map((r) => {
      const [
        url,
        subscriptionId,
        origin,
        traceparent,
        eventId,
        eventType,
        eventSource,
        eventTime,
        eventData,
      ] = JSON.parse(String(r.joined)) as unknown[];
      return {
        ...r,
        url,
        subscription_id: subscriptionId,
        origin,
        traceparent,
        event_id: eventId,
        event_type: eventType,
        event_source: eventSource,
        event_time: eventTime,
        event_data: eventData,
      };
    });
}

/**
 * The read-back of a lease as one row of one column, not a row of sixteen per delivery: the native
 * binding spends ~0.35 µs on each column of each row it hands over (16 columns: ~5.5 µs of a row's
 * ~8, the joins ~0.3), and `JSON.parse` of one array of arrays costs less. The body rides in it as
 * a JSON string, which `JSON.parse` gives back as the very text stored. The deliveries come in
 * lease order (the aggregate's ORDER BY); `fromPackedRows` reads them, each array in
 * `PackedFields`' order. A WHERE clause completes it.
 */
const LEASED_PACKED_SELECT = `SELECT json_group_array(json_array(${deliveryIdOut('d.id')}, ep.url, sr.id, coalesce(s.origin, 'api'),
            d.attempts, d.retried, d.max_retries, d.retry_delay, d.generation, de.traceparent,
            ${eventIdOut('ie.id')}, ${typeNameOf('ie.type_ref')}, ${integrationSource('ie', 'de')},
            ${integrationTime('ie', 'de')}, ie.data) ORDER BY d.next_attempt_at, d.rowid) AS leased
     FROM deliveries d
     JOIN integration_events ie ON ie.ref = d.integration_event_ref
     JOIN domain_events de ON de.ref = ie.domain_event_ref
     JOIN endpoints ep ON ep.id = d.endpoint_id
     JOIN subscription_refs sr ON sr.ref = d.subscription_ref
     LEFT JOIN subscriptions s ON s.ref = d.subscription_ref`;

/** The deliveries one lease statement gave ?1 until exactly ?2 (`loadLeasedUntil`), in lease order. */
const LEASED_UNTIL = `${LEASED_PACKED_SELECT}
     WHERE d.status = 'in_flight' AND d.lease_owner = ?1 AND d.lease_expires_at = ?2`;

/** The fields of `LEASED_PACKED_SELECT`'s `leased` array, in order. */
type PackedFields = [
  id: string,
  url: string,
  subscriptionId: string,
  origin: string,
  attempts: number,
  retried: number,
  maxRetries: number,
  retryDelay: string | null,
  generation: number,
  traceparent: string | null,
  eventId: string,
  eventType: string,
  eventSource: string,
  eventTime: string,
  eventData: string,
];

/** The row of `LEASED_PACKED_SELECT` as the dispatcher takes it: its deliveries, in lease order. */
function fromPackedRows(rows: readonly SqlRow[]): LeasedDelivery[] {
  const leased = rows[0]?.leased;
  return leased === undefined || leased === null
    ? []
    : (JSON.parse(String(leased)) as PackedFields[]).map(fromPacked);
}

function fromPacked([
  id,
  url,
  subscriptionId,
  origin,
  attempts,
  retried,
  maxRetries,
  retryDelay,
  generation,
  traceparent,
  eventId,
  eventType,
  eventSource,
  eventTime,
  eventData,
]: PackedFields): LeasedDelivery {
  return {
    id,
    url,
    subscriptionId,
    origin: origin === 'code' ? 'code' : 'api',
    attempts,
    retried,
    maxRetries,
    retryDelay,
    generation,
    traceparent,
    event: {
      id: eventId,
      type: eventType,
      source: eventSource,
      time: eventTime,
      data: eventData,
    },
  };
}

export function toLeasedDelivery(r: SqlRow): LeasedDelivery {
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

/**
 * SQLite's largest rowid: where both leases end a subscription's (due time, rowid) range when fewer
 * rows are due than it may take — the range is then everything due.
 */
export const MAX_ROWID = '9223372036854775807';
