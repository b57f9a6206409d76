import { and, count, desc, eq, gte, inArray, lt, lte, or, type SQL } from 'drizzle-orm';
import type { DeliveryStatus } from '../core/delivery-state.ts';
import type { EventSearch, EventSummary } from '../core/event-search.ts';
import * as schema from './schema.ts';
import type { SqlDatabase } from './sql-database.ts';

const { domainEvents, integrationEvents, deliveries } = schema;

/**
 * The operator's reads of accepted events on SQLite (libSQL or D1), through Drizzle. A page walks
 * the `received_at` index backwards; its deliveries are counted by the per-event indexes
 * (`integration_events_domain_event`, `deliveries_integration_event`), so the cost follows the
 * page, not the store.
 * @example const page = await createSqlEventSearch(database).listEvents({ limit: 50 });
 */
export function createSqlEventSearch({ db }: SqlDatabase): EventSearch {
  return {
    async listEvents({ type, limit, after }) {
      const rows = await db
        .select({
          id: domainEvents.id,
          type: domainEvents.type,
          source: domainEvents.source,
          receivedAt: domainEvents.receivedAt,
        })
        .from(domainEvents)
        .where(
          and(
            type === undefined ? undefined : eq(domainEvents.type, type),
            after === undefined ? undefined : before(after.receivedAt, after.id),
          ),
        )
        .orderBy(desc(domainEvents.receivedAt), desc(domainEvents.id))
        .limit(limit);
      if (rows.length === 0) return [];
      // A page is at most a few dozen ids: one bound parameter each fits D1's 100.
      const ids = rows.map((r) => r.id);
      const [perEvent, perStatus] = await Promise.all([
        db
          .select({ eventId: integrationEvents.domainEventId, n: count() })
          .from(integrationEvents)
          .where(inArray(integrationEvents.domainEventId, ids))
          .groupBy(integrationEvents.domainEventId),
        db
          .select({ eventId: integrationEvents.domainEventId, status: deliveries.status, n: count() })
          .from(integrationEvents)
          .innerJoin(deliveries, eq(deliveries.integrationEventId, integrationEvents.id))
          .where(inArray(integrationEvents.domainEventId, ids))
          .groupBy(integrationEvents.domainEventId, deliveries.status),
      ]);
      return rows.map(
        (row): EventSummary => ({
          ...row,
          integrationEvents: perEvent.find((e) => e.eventId === row.id)?.n ?? 0,
          deliveries: Object.fromEntries(
            perStatus
              .filter((s) => s.eventId === row.id)
              .map((s) => [s.status as DeliveryStatus, Number(s.n)] as const),
          ),
        }),
      );
    },

    async countEventsSince(since) {
      const [row] = await db
        .select({ n: count() })
        .from(domainEvents)
        .where(gte(domainEvents.receivedAt, since));
      return Number(row?.n ?? 0);
    },
  };
}

/**
 * Strictly before (receivedAt, id) in newest-first order. The leading `<=` is a range of the
 * `received_at` index; a row-value comparison alone would not use it.
 */
function before(receivedAt: number, id: string): SQL {
  return and(
    lte(domainEvents.receivedAt, receivedAt),
    or(lt(domainEvents.receivedAt, receivedAt), lt(domainEvents.id, id)),
  ) as SQL;
}
