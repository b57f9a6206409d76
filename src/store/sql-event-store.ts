import { asc, inArray } from 'drizzle-orm';
import type { EventStore, NewDomainEvent, StoredDomainEvent } from '../core/event-store.ts';
import { createGroupCommit } from '../core/group-commit.ts';
import * as schema from './schema.ts';
import type { SqlDatabase } from './sql-database.ts';
import { toInsertStatements } from './sql-event-inserts.ts';
import { readEventView } from './sql-event-view.ts';

/**
 * Accepted events on SQLite (libSQL or D1). Ingest bypasses Drizzle's builder: it is the hot path,
 * and a handful of multi-row statements per group commit beat a statement per row. Reads go
 * through Drizzle.
 * @example const events = createSqlEventStore({ db: drizzle(client, { schema }), driver });
 */
export function createSqlEventStore(
  options: SqlDatabase & {
    /** Most events written in one transaction by group commit. */
    readonly maxEventsPerCommit?: number;
  },
): EventStore {
  const { db, driver } = options;

  const groupCommit = createGroupCommit<NewDomainEvent>({
    write: async (events) => {
      await driver.batch(toInsertStatements(events, driver.maxParams));
    },
    isIsolatable: (error) => driver.isConstraintError(error),
    maxItems: options.maxEventsPerCommit ?? 500,
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

    getEvent: (id) => readEventView(db, id),

    async ping() {
      await driver.query('SELECT 1');
    },
  };
}

/** `values` in slices of at most `size` (at least one value each); none for none. */
function toChunks<T>(values: readonly T[], size: number): T[][] {
  const step = Math.max(1, size);
  const chunks: T[][] = [];
  for (let i = 0; i < values.length; i += step) chunks.push(values.slice(i, i + step));
  return chunks;
}
