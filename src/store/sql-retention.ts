import type { PruneResult, RetentionStore } from '../core/retention.ts';
import type { SqlDriver } from './sql-driver.ts';
import { toInteger, toText } from './sql-row.ts';

/**
 * An event is held while one of its deliveries is not delivered, or was delivered after the
 * cutoff (?2): it stays whole, so an operator sees it with its dead delivery, and a late success
 * stays visible for the retention window. `domain_events` is the outer row.
 */
const HELD = `EXISTS (SELECT 1 FROM integration_events ie JOIN deliveries d ON d.integration_event_ref = ie.ref
  WHERE ie.domain_event_ref = domain_events.ref AND (d.status <> 'delivered' OR d.updated_at >= ?2))`;

/**
 * The candidates of one batch, oldest first from the cursor (?3, ?4), at most ?1. The cursor lets
 * a pass step over held events once instead of walking them again on every batch.
 */
const CANDIDATES = `SELECT ref, id, received_at FROM domain_events
  WHERE received_at < ?2 AND received_at >= ?3 AND (received_at > ?3 OR id > ?4) AND NOT ${HELD}
  ORDER BY received_at, id LIMIT ?1`;

/** The batch's events: ?1, a JSON array of their refs. */
const BATCH = 'SELECT value FROM json_each(?1)';

/**
 * The deliveries of the events `refs` selects: first those that keep their delivered attempt on
 * their row (0011), then the rest — so the changes say how many attempts went with them.
 */
function deleteDeliveries(refs: string): string[] {
  const of = `integration_event_ref IN (SELECT ref FROM integration_events WHERE domain_event_ref IN (${refs}))`;
  return [
    `DELETE FROM deliveries WHERE ${of} AND delivered_number IS NOT NULL`,
    `DELETE FROM deliveries WHERE ${of}`,
  ];
}

/**
 * The write of a batch read outside it: one check that none of its events became held since the
 * read (a dead delivery replayed meanwhile), then its rows deleted by key, children before
 * parents (D1 enforces the foreign keys). The check is the batch's first statement: should an
 * event be held now, it inserts that event's row again, which fails on its primary key and rolls
 * the batch back (D1 has no interactive transaction to decide in). One check of each event under
 * the write lock instead of one per statement: the lock is held for the deletes, not for reads.
 */
const KEYED = [
  `INSERT INTO domain_events (ref, id, type_ref, source, data, received_at)
     SELECT ref, id, type_ref, source, data, received_at FROM domain_events
     WHERE ref IN (${BATCH}) AND ${HELD} LIMIT 1`,
  `DELETE FROM attempts WHERE delivery_id IN (SELECT d.id FROM deliveries d
     JOIN integration_events ie ON ie.ref = d.integration_event_ref WHERE ie.domain_event_ref IN (${BATCH}))`,
  ...deleteDeliveries(BATCH),
  `DELETE FROM integration_events WHERE domain_event_ref IN (${BATCH})`,
  `DELETE FROM domain_events WHERE ref IN (${BATCH})`,
];

/**
 * The batch's events (?1, a JSON array of refs) checked again by every statement, for a batch
 * whose keyed write found one held: those stay, the others go. Deleting an event's children
 * leaves it a victim, so every statement of the batch sees the same set.
 */
const VICTIMS = `SELECT ref FROM domain_events WHERE ref IN (${BATCH}) AND NOT ${HELD}`;

const CHECKED = [
  `DELETE FROM attempts WHERE delivery_id IN (SELECT d.id FROM deliveries d
     JOIN integration_events ie ON ie.ref = d.integration_event_ref
     WHERE ie.domain_event_ref IN (${VICTIMS}))`,
  ...deleteDeliveries(VICTIMS),
  `DELETE FROM integration_events WHERE domain_event_ref IN (${VICTIMS})`,
  `DELETE FROM domain_events WHERE ref IN (${VICTIMS})`,
];

/**
 * Subscription numbers no subscription row (deleted ones stay as rows) and no delivery holds, at
 * most ?1, in one statement: both holders are looked up by index (`subscriptions.ref` is unique,
 * `deliveries_subscription_created` starts with it), the check SQLite's foreign keys make when a
 * row goes included, so the check and the delete share one short transaction and nothing
 * committed before or after it can point at a missing row.
 */
const PRUNE_SUBSCRIPTION_REFS = `DELETE FROM subscription_refs WHERE ref IN (SELECT ref FROM subscription_refs sr
  WHERE NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.ref = sr.ref)
    AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.subscription_ref = sr.ref) LIMIT ?1)`;

/**
 * Endpoints and event types are held by columns no index covers (`deliveries.endpoint_id`,
 * `integration_events.type_ref`: each index would cost every event bytes and ingest CPU), so
 * deleting one makes SQLite read that whole table under the write lock, twice: the NOT EXISTS and
 * the foreign key's own check (16 ms for 200,000 rows; seconds for a week at 100 events/s). They
 * go only while the holding table spans at most ?2 rowids (two lookups at its ends, each its own
 * subquery: `max(rowid) - min(rowid)` in one reads the whole table), and at most
 * ?1 of them in one statement. Their rows are few (a URL or a type name each), so a large store
 * keeping its unreferenced ones costs next to nothing.
 */
const PRUNE_ENDPOINTS = `DELETE FROM endpoints WHERE id IN (SELECT id FROM endpoints e
  WHERE coalesce((SELECT max(rowid) FROM deliveries) - (SELECT min(rowid) FROM deliveries), 0) < ?2
    AND NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.endpoint_id = e.id)
    AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.endpoint_id = e.id) LIMIT ?1)`;

const PRUNE_EVENT_TYPES = `DELETE FROM event_types WHERE ref IN (SELECT ref FROM event_types t
  WHERE coalesce((SELECT max(ref) FROM integration_events) - (SELECT min(ref) FROM integration_events), 0) < ?2
    AND NOT EXISTS (SELECT 1 FROM domain_events de WHERE de.type_ref = t.ref)
    AND NOT EXISTS (SELECT 1 FROM integration_events ie WHERE ie.type_ref = t.ref) LIMIT ?1)`;

/** Endpoints or types one prune deletes at most: each costs reads of its holding table. */
const UNINDEXED_PER_PRUNE = 2;

/**
 * Retention on SQLite (libSQL or D1): each batch is one read and one short write transaction,
 * with two bound values (D1 allows 100).
 * @example await createSqlRetention(driver).purge({ before: Date.now() - 7 * 86_400_000, limit: 500 });
 */
export function createSqlRetention(driver: SqlDriver): RetentionStore {
  // Each statement gets the values it names (D1 counts them): ?2 only where HELD is.
  const write = async (statements: readonly string[], args: readonly [string, number]) =>
    driver.batch(statements.map((sql) => ({ sql, args: sql.includes('?2') ? [...args] : [args[0]] })));
  return {
    async purge({ before, limit, after }) {
      const rows = await driver.query(CANDIDATES, [limit, before, after?.receivedAt ?? -1, after?.id ?? '']);
      const last = rows[rows.length - 1];
      const next =
        rows.length < limit || !last
          ? null
          : { receivedAt: toInteger(last.received_at), id: toText(last.id) };
      if (rows.length === 0) return { events: 0, integrationEvents: 0, deliveries: 0, attempts: 0, next };
      const args: [string, number] = [JSON.stringify(rows.map((r) => toInteger(r.ref))), before];
      let changes: number[];
      try {
        changes = (await write(KEYED, args)).slice(1);
      } catch (error) {
        if (!driver.isConstraintError(error)) throw error;
        changes = await write(CHECKED, args);
      }
      const [attemptRows = 0, delivered = 0, others = 0, integrationEvents, events] = changes;
      return {
        events: events ?? 0,
        integrationEvents: integrationEvents ?? 0,
        deliveries: delivered + others,
        // A delivered attempt kept on its delivery's row went with it.
        attempts: attemptRows + delivered,
        next,
      };
    },
    async prune({ limit, holderRows }): Promise<PruneResult> {
      // One short transaction each: the three together would hold the lock for the sum.
      const few = Math.min(limit, UNINDEXED_PER_PRUNE);
      const [subscriptionRefs] = await driver.batch([{ sql: PRUNE_SUBSCRIPTION_REFS, args: [limit] }]);
      const [endpoints] = await driver.batch([{ sql: PRUNE_ENDPOINTS, args: [few, holderRows] }]);
      const [eventTypes] = await driver.batch([{ sql: PRUNE_EVENT_TYPES, args: [few, holderRows] }]);
      return {
        eventTypes: eventTypes ?? 0,
        endpoints: endpoints ?? 0,
        subscriptionRefs: subscriptionRefs ?? 0,
      };
    },
    async reclaim() {
      return driver.reclaimSpace ? driver.reclaimSpace() : { pagesFreed: 0 };
    },
  };
}
