import type { DeliveryHandOff, HandOffOutcome } from '../core/dispatch-queue.ts';
import type { EventStore, NewDomainEvent, StoredDomainEvent } from '../core/event-store.ts';
import { createGroupCommit } from '../core/group-commit.ts';
import type { SqlDatabase } from './sql-database.ts';
import { toHandOffLease } from './sql-dispatch-queue.ts';
import type { SqlDriver, SqlStatement } from './sql-driver.ts';
import { insertsDeliveries, toInsertStatements } from './sql-event-inserts.ts';
import { typeNameOf } from './sql-event-types.ts';
import { readEventView } from './sql-event-view.ts';
import { eventIdOut } from './sql-ids.ts';
import { toInteger, toIntegerOrNull, toText, toTextOrNull } from './sql-row.ts';
import {
  createFilterSnapshotCache,
  type FilterSnapshotCache,
  isStaleSnapshotError,
  SNAPSHOT_QUERY,
  toFilterSnapshot,
} from './sql-subscription-filters.ts';

/**
 * Writes of a group retried on fresh snapshots while subscriptions keep changing under them; past
 * this the append fails (an operator rewriting filters in a tight loop).
 */
const MAX_STALE_RETRIES = 8;

/**
 * Writes a group with the hand-off's lease as the transaction's last statement (when the
 * dispatcher set slots aside), and says what the commit leased and left.
 */
async function writeHandingOff(
  driver: SqlDriver,
  handOff: DeliveryHandOff,
  reserved: number,
  events: readonly NewDomainEvent[],
  statements: SqlStatement[],
): Promise<HandOffOutcome> {
  const lease =
    reserved > 0
      ? toHandOffLease(
          driver,
          events.flatMap((e) => e.integrationEvents.map((ie) => ie.id)),
          { owner: handOff.owner, now: handOff.now(), leaseMs: handOff.leaseMs, limit: reserved },
        )
      : null;
  const changes = await driver.batch(lease ? [...statements, lease.statement] : statements);
  let written = 0;
  statements.forEach((s, i) => {
    if (insertsDeliveries(s)) written += changes[i] ?? 0;
  });
  const leased = lease ? (changes[statements.length] ?? 0) : 0;
  return { reserved, leased, unleased: written - leased, load: lease ? lease.load : async () => [] };
}

/**
 * Accepted events on SQLite (libSQL or D1), in plain SQL. Ingest is the hot path: a handful of
 * multi-row statements per group commit beat a statement per row.
 * @example const events = createSqlEventStore({ driver });
 */
export function createSqlEventStore(
  options: SqlDatabase & {
    /** Most events written in one transaction by group commit. */
    readonly maxEventsPerCommit?: number;
    /** The filtered subscriptions' snapshot, shared by the stores of one process. */
    readonly filters?: FilterSnapshotCache;
    /**
     * This process's dispatcher, when it delivers what it accepts (HOOKMESH_ROLE=all): new
     * deliveries due now are written leased to it (`toHandOffLease`).
     */
    readonly handOff?: DeliveryHandOff;
    /**
     * The type names known to have their `event_types` row, shared by the stores that give it (a
     * Worker's per-request stores) and possibly seeded with names presumed there: a batch that
     * finds one missing is written again with every type inserted, as for any name remembered.
     */
    readonly knownTypes?: Set<string>;
  },
): EventStore {
  const { driver } = options;
  const filters = options.filters ?? createFilterSnapshotCache(driver);

  const { handOff } = options;

  // The type names this store has seen committed: later batches skip their INSERT OR IGNORE.
  // Forgotten when a batch that skipped some finds a type's row missing (retention pruned a name
  // no event held any more, or a file was swapped for an older one under the process): that batch
  // is written once more with every type inserted.
  const knownTypes = options.knownTypes ?? new Set<string>();
  const rememberTypes = (events: readonly NewDomainEvent[]) => {
    for (const e of events) {
      knownTypes.add(e.type);
      for (const ie of e.integrationEvents) knownTypes.add(ie.type);
    }
  };

  const groupCommit = createGroupCommit<NewDomainEvent>({
    // A stale filter snapshot fails the whole batch on its guard: the same group is written again
    // on a fresh snapshot (never split, as for a duplicate id — no request is at fault).
    write: async (events) => {
      // The hand-off: slots set aside before the write, settled after it whatever happens.
      const reserved = handOff ? handOff.reserve() : 0;
      let outcome: HandOffOutcome = { reserved, leased: 0, unleased: 0, load: async () => [] };
      let typesRetried = false;
      try {
        for (let attempt = 1; ; attempt++) {
          // A process's first write, where the driver can answer a query after a batch: no read
          // first — the write presumes no filtered subscription (guarded) and reads the snapshot.
          const presumed = driver.queryAfter && !handOff ? filters.presumption() : null;
          const snapshot = presumed ?? (await filters.current());
          const skipsTypes = knownTypes.size > 0;
          try {
            const statements = toInsertStatements(events, driver.maxParams, snapshot, knownTypes);
            if (presumed && driver.queryAfter) {
              filters.remember(toFilterSnapshot(await driver.queryAfter(statements, SNAPSHOT_QUERY)));
            } else if (handOff) {
              outcome = await writeHandingOff(driver, handOff, reserved, events, statements);
            } else {
              await driver.batch(statements);
            }
            rememberTypes(events);
            return;
          } catch (error) {
            if (skipsTypes && !typesRetried && isMissingTypeError(error)) {
              knownTypes.clear();
              typesRetried = true;
              continue;
            }
            if (!isStaleSnapshotError(error) || attempt >= MAX_STALE_RETRIES) throw error;
            filters.invalidate(snapshot);
          }
        }
      } finally {
        handOff?.settle(outcome);
      }
    },
    isIsolatable: (error) => !isStaleSnapshotError(error) && driver.isConstraintError(error),
    maxItems: options.maxEventsPerCommit ?? 500,
    // A commit of 50 events writes ~1.0 WAL frames an event, one of 35 ~1.3: fewer fsyncs, fewer
    // index pages written twice (bench:ingest, wrk -c50: 12.5k vs 11.0k req/s, p99 10.6 vs 15.9 ms).
    gatherTurns: 4,
  });

  // An id list is one bound JSON array (`json_each`), not a parameter per id: D1 binds at most
  // 100, and one statement shape serves every list length (the file driver caches statements).
  const findEvents = async (ids: readonly string[]): Promise<StoredDomainEvent[]> => {
    if (ids.length === 0) return [];
    const events = await driver.query(
      `SELECT ref, id, ${typeNameOf('type_ref')} AS type, source, data, occurred_at, metadata, not_before FROM domain_events
       WHERE id IN (SELECT value FROM json_each(?))`,
      [JSON.stringify(ids)],
    );
    if (events.length === 0) return [];
    const integration = await driver.query(
      `SELECT ${eventIdOut('id')} AS id, ${typeNameOf('type_ref')} AS type, domain_event_ref FROM integration_events
       WHERE domain_event_ref IN (SELECT value FROM json_each(?))
       ORDER BY domain_event_ref, seq`,
      [JSON.stringify(events.map((e) => toInteger(e.ref)))],
    );
    return events.map((e) => ({
      id: toText(e.id),
      type: toText(e.type),
      source: toText(e.source),
      data: toText(e.data),
      occurredAt: toTextOrNull(e.occurred_at),
      metadata: toTextOrNull(e.metadata),
      notBefore: toIntegerOrNull(e.not_before),
      integrationEvents: integration
        .filter((ie) => ie.domain_event_ref === e.ref)
        .map((ie) => ({ id: toText(ie.id), type: toText(ie.type) })),
    }));
  };

  return {
    async appendEvents(events) {
      if (events.length === 0) return { ok: true };
      try {
        await groupCommit.submit(events);
        return { ok: true };
      } catch (error) {
        if (!driver.isConstraintError(error) || isStaleSnapshotError(error)) throw error;
        const existing = await findEvents(events.map((e) => e.id));
        if (existing.length === 0) throw error;
        return { ok: false, existing: existing.map((e) => e.id) };
      }
    },

    findEvents,

    getEvent: (id) => readEventView(driver, id),

    async ping() {
      await driver.query('SELECT 1');
      // Reads still answer on a full disk: the writes that failed tell.
      const failure = driver.writeFailure?.();
      if (failure) throw failure;
    },
  };
}

/**
 * Whether a batch failed because a type name it presumed had no `event_types` row: its number,
 * looked up in the INSERT, came out NULL. SQLite's own message, through every driver.
 */
function isMissingTypeError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    if (/NOT NULL constraint failed: (domain|integration)_events\.type_ref/.test(e.message)) return true;
  }
  return false;
}
