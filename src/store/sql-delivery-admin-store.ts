import type { DeliveryAdminStore, DeliveryFilter, DeliverySummary } from '../core/delivery-admin-store.ts';
import type { DeliveryStatus } from '../core/delivery-state.ts';
import type { SqlDatabase } from './sql-database.ts';
import type { SqlRow, SqlValue } from './sql-driver.ts';
import { TYPE_PREFIX_REFS, typeNameOf, typeRefOf } from './sql-event-types.ts';
import { DELIVERY_ID_PARAM, deliveryIdIn, deliveryIdOut, eventIdOut } from './sql-ids.ts';
import { toInteger, toText, toTextOrNull } from './sql-row.ts';

// Deliveries are listed by (created_at, id) — which is the order of their ids alone: ingest starts
// every id with its `created_at` (sql-event-inserts.ts), so the primary key serves the listings and
// no index of `created_at` is written by every ingest (0010). (Ids written before time-prefixed
// ids, by the first builds at migration 0000, list in id order.)
// Columns are named by table, not by alias, so the same conditions serve the SELECT and the UPDATE.
const SUMMARY = `SELECT ${deliveryIdOut('deliveries.id')} AS id, domain_events.id AS domain_event_id,
  ${eventIdOut('integration_events.id')} AS integration_event_id,
  ${typeNameOf('integration_events.type_ref')} AS type, subscription_refs.id AS subscription_id, endpoints.url, deliveries.status, deliveries.attempts,
  deliveries.next_attempt_at, deliveries.created_at, deliveries.updated_at, deliveries.generation,
  deliveries.ordering_key
FROM deliveries JOIN integration_events ON integration_events.ref = deliveries.integration_event_ref
  JOIN domain_events ON domain_events.ref = integration_events.domain_event_ref
  JOIN endpoints ON endpoints.id = deliveries.endpoint_id
  JOIN subscription_refs ON subscription_refs.ref = deliveries.subscription_ref`;

/**
 * A replay (two bound values: now, now): a new generation, due now, with a fresh retry budget;
 * `attempts` keeps counting.
 */
const REPLAYED = `status = 'pending', generation = generation + 1, retried = 0, next_attempt_at = ?,
  message_id = NULL, lease_owner = NULL, lease_expires_at = NULL, updated_at = ?`;

/** Dead deliveries purged per transaction: the write lock is held briefly. */
const PURGE_BATCH = 500;

const DEAD_BEFORE = `SELECT ${deliveryIdOut('deliveries.id')} AS id, integration_events.domain_event_ref FROM deliveries
  JOIN integration_events ON integration_events.ref = deliveries.integration_event_ref
  WHERE deliveries.status = 'dead' AND deliveries.created_at < ?1
  ORDER BY deliveries.created_at, deliveries.id LIMIT ?2`;

/** ?1: a JSON array of delivery ids, checked again in the transaction (a replay keeps its row). */
const DEAD_IN_BATCH = `SELECT id FROM deliveries WHERE id IN (SELECT ${deliveryIdIn('value')} FROM json_each(?1))
  AND status = 'dead'`;

/** ?1: a JSON array of domain event refs; those with no delivery left go (children first). */
const PURGE_EMPTY_EVENTS = [
  `DELETE FROM integration_events WHERE domain_event_ref IN (SELECT value FROM json_each(?1))
     AND NOT EXISTS (SELECT 1 FROM deliveries d JOIN integration_events ie ON ie.ref = d.integration_event_ref
                     WHERE ie.domain_event_ref = integration_events.domain_event_ref)`,
  `DELETE FROM domain_events WHERE ref IN (SELECT value FROM json_each(?1))
     AND NOT EXISTS (SELECT 1 FROM integration_events WHERE domain_event_ref = domain_events.ref)`,
];

/** Conditions to AND together, with their bound values in order. */
interface Conditions {
  readonly sql: string[];
  readonly args: SqlValue[];
}

/**
 * Listing and replaying deliveries on SQLite (libSQL or D1), in plain SQL: none of it is a hot path.
 * @example const admin = createSqlDeliveryAdminStore({ driver });
 */
export function createSqlDeliveryAdminStore({ driver }: SqlDatabase): DeliveryAdminStore {
  const getSummary = async (id: string): Promise<DeliverySummary | null> => {
    const [row] = await driver.query(`${SUMMARY} WHERE deliveries.id = ${DELIVERY_ID_PARAM}`, [id]);
    return row ? toSummary(row) : null;
  };

  /**
   * Whether some stored type matches. No index serves a type (`integration_events.type_ref` has
   * none), so a listing by type filters its walk of the deliveries: a type never stored would read
   * every one of them to answer nothing (bench:operator, 1,000,000 deliveries: 200-270 ms).
   */
  const isTypeStored = async (pattern: string): Promise<boolean> => {
    const prefix = pattern.slice(0, -1);
    const rows = pattern.endsWith('.*')
      ? await driver.query(`${TYPE_PREFIX_REFS} LIMIT 1`, [prefix.length, prefix])
      : await driver.query('SELECT ref FROM event_types WHERE name = ?', [pattern]);
    return rows.length > 0;
  };

  /** Moves one delivery if it is dead; the status test in the UPDATE is what makes replay happen once. */
  const replayIfDead = async (id: string, now: number): Promise<boolean> => {
    const moved = await driver.query(
      `UPDATE deliveries SET ${REPLAYED} WHERE id = ${DELIVERY_ID_PARAM} AND status = 'dead' RETURNING rowid`,
      [now, now, id],
    );
    return moved.length > 0;
  };

  return {
    async listDeliveries({ limit, after, ...filter }) {
      const where = toConditions(filter);
      if (filter.type !== undefined) {
        if (!(await isTypeStored(filter.type))) return [];
        pushTypeMatch(where, filter.type);
      }
      // One subscription's deliveries are a range of `deliveries_subscription_created`, ties in
      // `created_at` sorted; every other listing walks the primary key, in the same order.
      const bySubscription = filter.subscriptionId !== undefined;
      if (!bySubscription) pushIdRange(where, filter);
      if (after !== undefined) {
        if (bySubscription) {
          where.sql.push(`(deliveries.created_at, deliveries.id) > (?, ${DELIVERY_ID_PARAM})`);
          where.args.push(after.createdAt, after.id);
        } else {
          where.sql.push(`deliveries.id > ${DELIVERY_ID_PARAM}`);
          where.args.push(after.id);
        }
      }
      const order = bySubscription ? 'deliveries.created_at, deliveries.id' : 'deliveries.id';
      const rows = await driver.query(`${SUMMARY}${toWhere(where)} ORDER BY ${order} LIMIT ?`, [
        ...where.args,
        limit,
      ]);
      return rows.map(toSummary);
    },

    async replayDelivery(id, now) {
      // A delivery read as dead after a failed UPDATE died in between (an attempt finished): try again.
      for (let round = 0; round < 3; round++) {
        if (await replayIfDead(id, now)) return { outcome: 'replayed', delivery: await getSummary(id) };
        const delivery = await getSummary(id);
        if (delivery === null) return { outcome: 'not_found', delivery: null };
        if (delivery.status === 'delivered') return { outcome: 'delivered', delivery };
        if (delivery.status !== 'dead') return { outcome: 'unchanged', delivery };
      }
      return { outcome: 'unchanged', delivery: await getSummary(id) };
    },

    async replayDeliveries(filter, now) {
      if (filter.status !== undefined && filter.status !== 'dead') return 0;
      const where = toConditions({ ...filter, status: 'dead' });
      if (filter.type !== undefined) {
        // Correlated, so the few dead rows (found by the status index) are each checked by
        // primary key, instead of reading every integration event.
        const match: Conditions = { sql: [], args: [] };
        pushTypeMatch(match, filter.type);
        where.sql.push(
          `EXISTS (SELECT 1 FROM integration_events
                   WHERE integration_events.ref = deliveries.integration_event_ref AND ${match.sql.join(' AND ')})`,
        );
        where.args.push(...match.args);
      }
      const [changed] = await driver.batch([
        { sql: `UPDATE deliveries SET ${REPLAYED}${toWhere(where)}`, args: [now, now, ...where.args] },
      ]);
      return changed ?? 0;
    },

    async purgeDeadDeliveries({ acceptedBefore, limit }) {
      let purged = 0;
      while (purged < limit) {
        const size = Math.min(PURGE_BATCH, limit - purged);
        const rows = await driver.query(DEAD_BEFORE, [acceptedBefore, size]);
        if (rows.length === 0) return { purged, more: false };
        const ids = JSON.stringify(rows.map((r) => toText(r.id)));
        const events = JSON.stringify([...new Set(rows.map((r) => toInteger(r.domain_event_ref)))]);
        const [, deleted] = await driver.batch([
          { sql: `DELETE FROM attempts WHERE delivery_id IN (${DEAD_IN_BATCH})`, args: [ids] },
          { sql: `DELETE FROM deliveries WHERE id IN (${DEAD_IN_BATCH})`, args: [ids] },
          ...PURGE_EMPTY_EVENTS.map((sql) => ({ sql, args: [events] })),
        ]);
        purged += deleted ?? 0;
        if (rows.length < size) return { purged, more: false };
      }
      const left = await driver.query(DEAD_BEFORE, [acceptedBefore, 1]);
      return { purged, more: left.length > 0 };
    },
  };
}

function toConditions(filter: Omit<DeliveryFilter, 'type'>): Conditions {
  const where: Conditions = { sql: [], args: [] };
  if (filter.status !== undefined) {
    where.sql.push('deliveries.status = ?');
    where.args.push(filter.status);
  }
  if (filter.subscriptionId !== undefined) {
    where.sql.push('deliveries.subscription_ref = (SELECT ref FROM subscription_refs WHERE id = ?)');
    where.args.push(filter.subscriptionId);
  }
  if (filter.since !== undefined) {
    where.sql.push('deliveries.created_at >= ?');
    where.args.push(filter.since);
  }
  if (filter.until !== undefined) {
    where.sql.push('deliveries.created_at < ?');
    where.args.push(filter.until);
  }
  return where;
}

/** The largest time a delivery id's 48-bit prefix holds (year 10889). */
const MAX_ID_TIME = 0xffff_ffff_ffff;

/**
 * `since` and `until` as a range of the primary key, beside the exact `created_at` tests: an id
 * ingest writes begins with its `created_at` as 6 bytes (sql-event-inserts.ts), and bytes compare
 * as their hex digits, so `id >= X'<since>'` holds exactly when `created_at >= since`.
 */
function pushIdRange(where: Conditions, filter: Pick<DeliveryFilter, 'since' | 'until'>): void {
  const { since, until } = filter;
  if (since !== undefined && since >= 0 && since <= MAX_ID_TIME) {
    where.sql.push('deliveries.id >= unhex(?)');
    where.args.push(toIdTime(Math.floor(since)));
  }
  if (until !== undefined && until >= 0 && Math.ceil(until) <= MAX_ID_TIME) {
    where.sql.push('deliveries.id < unhex(?)');
    where.args.push(toIdTime(Math.ceil(until)));
  }
}

/** Milliseconds as the 12 hex digits a delivery id starts with. */
const toIdTime = (ms: number): string => ms.toString(16).padStart(12, '0');

/** An exact type, or `prefix.*` (`TYPE_PREFIX_REFS`). */
function pushTypeMatch(where: Conditions, pattern: string): void {
  if (!pattern.endsWith('.*')) {
    where.sql.push(`integration_events.type_ref = ${typeRefOf('?')}`);
    where.args.push(pattern);
    return;
  }
  const prefix = pattern.slice(0, -1);
  where.sql.push(`integration_events.type_ref IN (${TYPE_PREFIX_REFS})`);
  where.args.push(prefix.length, prefix);
}

function toWhere(where: Conditions): string {
  return where.sql.length === 0 ? '' : ` WHERE ${where.sql.join(' AND ')}`;
}

function toSummary(row: SqlRow): DeliverySummary {
  return {
    id: toText(row.id),
    eventId: toText(row.domain_event_id),
    integrationEventId: toText(row.integration_event_id),
    type: toText(row.type),
    subscriptionId: toText(row.subscription_id),
    url: toText(row.url),
    status: toText(row.status) as DeliveryStatus,
    attempts: toInteger(row.attempts),
    nextAttemptAt: toInteger(row.next_attempt_at),
    createdAt: toInteger(row.created_at),
    updatedAt: toInteger(row.updated_at),
    generation: toInteger(row.generation),
    orderingKey: toTextOrNull(row.ordering_key),
  };
}
