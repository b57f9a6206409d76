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
  `DELETE FROM deliveries WHERE integration_event_ref IN
     (SELECT ref FROM integration_events WHERE domain_event_ref IN (${BATCH}))`,
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
  `DELETE FROM deliveries WHERE integration_event_ref IN
     (SELECT ref FROM integration_events WHERE domain_event_ref IN (${VICTIMS}))`,
  `DELETE FROM integration_events WHERE domain_event_ref IN (${VICTIMS})`,
  `DELETE FROM domain_events WHERE ref IN (${VICTIMS})`,
];

/**
 * Subscription numbers no subscription row (deleted ones stay as rows) and no delivery holds, at
 * most ?1, in one statement: both are looked up by index (`subscriptions.ref` is unique,
 * `deliveries_subscription_created` starts with it), so the check and the delete share one
 * transaction and nothing committed before or after it can be left pointing at a missing row.
 */
const PRUNE_SUBSCRIPTION_REFS = `DELETE FROM subscription_refs WHERE ref IN (SELECT ref FROM subscription_refs sr
  WHERE NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.ref = sr.ref)
    AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.subscription_ref = sr.ref) LIMIT ?1)`;

/**
 * A lookup table whose holders are not all indexed by it: `endpoint_id` of deliveries and
 * `type_ref` of integration events have no index (each would cost every event bytes and ingest
 * CPU for a job that runs hourly). Its candidates (`candidates`, at most ?1: not held by what is
 * indexed) are looked for in `table` a range of rowids at a time, outside any write; those not
 * found go in one DELETE (`prune`, ?1 the candidates, ?2 the last rowid the walk read) that checks
 * the indexed holders again and `table`'s rows from ?2 on. Those are the rows written after the
 * walk passed: SQLite gives a new row the largest rowid + 1, and ingest alone writes these tables.
 */
interface LookupPrune {
  readonly candidates: string;
  readonly table: string;
  readonly column: string;
  readonly prune: string;
}

const ENDPOINTS: LookupPrune = {
  candidates: `SELECT id AS v FROM endpoints e
    WHERE NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.endpoint_id = e.id) LIMIT ?1`,
  table: 'deliveries',
  column: 'endpoint_id',
  prune: `DELETE FROM endpoints WHERE id IN (SELECT value FROM json_each(?1))
    AND NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.endpoint_id = endpoints.id)
    AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.rowid >= ?2 AND d.endpoint_id = endpoints.id)`,
};

const EVENT_TYPES: LookupPrune = {
  candidates: `SELECT ref AS v FROM event_types t
    WHERE NOT EXISTS (SELECT 1 FROM domain_events de WHERE de.type_ref = t.ref) LIMIT ?1`,
  table: 'integration_events',
  column: 'type_ref',
  prune: `DELETE FROM event_types WHERE ref IN (SELECT value FROM json_each(?1))
    AND NOT EXISTS (SELECT 1 FROM domain_events de WHERE de.type_ref = event_types.ref)
    AND NOT EXISTS (SELECT 1 FROM integration_events ie WHERE ie.ref >= ?2 AND ie.type_ref = event_types.ref)`,
};

/**
 * One step of a walk: how many of the next ?2 rows after rowid ?1 there are, the last one's rowid,
 * and which of the candidates
 * (?3, a JSON array) those rows hold, comma-separated (null for none).
 */
function walkSql({ table, column }: LookupPrune): string {
  return `SELECT count(*) AS n, max(r) AS upto, group_concat(DISTINCT CASE WHEN v IN (SELECT value FROM json_each(?3)) THEN v END) AS seen
    FROM (SELECT rowid AS r, ${column} AS v FROM ${table} WHERE rowid > ?1 ORDER BY rowid LIMIT ?2)`;
}

/** Where a walk starts: before every rowid SQLite hands out (they start at 1). */
const BEFORE_FIRST_ROWID = Number.MIN_SAFE_INTEGER;

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
      const [attempts, deliveries, integrationEvents, events] = changes;
      return {
        events: events ?? 0,
        integrationEvents: integrationEvents ?? 0,
        deliveries: deliveries ?? 0,
        attempts: attempts ?? 0,
        next,
      };
    },
    async prune({ limit, scanRows, step }): Promise<PruneResult> {
      const [subscriptionRefs] = await driver.batch([{ sql: PRUNE_SUBSCRIPTION_REFS, args: [limit] }]);
      const endpoints = await pruneLookup(driver, ENDPOINTS, limit, scanRows, step);
      const eventTypes = await pruneLookup(driver, EVENT_TYPES, limit, scanRows, step);
      return { eventTypes, endpoints, subscriptionRefs: subscriptionRefs ?? 0 };
    },
    async reclaim() {
      return driver.reclaimSpace ? driver.reclaimSpace() : { pagesFreed: 0 };
    },
  };
}

/** Walks `lookup.table` for the candidates not held by indexed rows, then deletes those it never met. */
async function pruneLookup(
  driver: SqlDriver,
  lookup: LookupPrune,
  limit: number,
  scanRows: number,
  step: ((stepMs: number) => Promise<void>) | undefined,
): Promise<number> {
  const left = new Set((await driver.query(lookup.candidates, [limit])).map((r) => toInteger(r.v)));
  if (left.size === 0) return 0;
  const walk = walkSql(lookup);
  let after = BEFORE_FIRST_ROWID;
  for (let more = true; more && left.size > 0; ) {
    const startedAt = performance.now();
    const [row] = await driver.query(walk, [after, scanRows, JSON.stringify([...left])]);
    if (row?.upto === null || row?.upto === undefined) break;
    after = toInteger(row.upto);
    if (row.seen !== null && row.seen !== undefined) {
      for (const seen of String(row.seen).split(',')) left.delete(Number(seen));
    }
    // A short step read the table's end: no statement more to find it empty.
    more = toInteger(row.n) === scanRows;
    if (step !== undefined) await step(performance.now() - startedAt);
  }
  if (left.size === 0) return 0;
  const [pruned] = await driver.batch([{ sql: lookup.prune, args: [JSON.stringify([...left]), after] }]);
  return pruned ?? 0;
}
