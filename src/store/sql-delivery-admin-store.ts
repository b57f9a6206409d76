import { and, asc, eq, exists, gte, lt, type SQL, sql } from 'drizzle-orm';
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core';
import type { DeliveryAdminStore, DeliveryFilter, DeliverySummary } from '../core/delivery-admin-store.ts';
import * as schema from './schema.ts';
import type { OutboxDatabase } from './sql-database.ts';
import type { SqlDriver, SqlValue } from './sql-driver.ts';

const deliveries = schema.deliveries;
const integrationEvents = schema.integrationEvents;

const SUMMARY = {
  id: deliveries.id,
  eventId: integrationEvents.domainEventId,
  integrationEventId: deliveries.integrationEventId,
  type: integrationEvents.type,
  subscriptionId: deliveries.subscriptionId,
  url: deliveries.url,
  status: deliveries.status,
  attempts: deliveries.attempts,
  nextAttemptAt: deliveries.nextAttemptAt,
  createdAt: deliveries.createdAt,
  updatedAt: deliveries.updatedAt,
  generation: deliveries.generation,
};

/**
 * Listing and replaying deliveries on SQLite (libSQL or D1), through Drizzle's query builder.
 * @example const admin = createSqlDeliveryAdminStore({ db: drizzle(client, { schema }), driver });
 */
export function createSqlDeliveryAdminStore(options: {
  readonly db: OutboxDatabase;
  /** Runs the bulk replay, whose changed-row count Drizzle reports differently per driver. */
  readonly driver: SqlDriver;
}): DeliveryAdminStore {
  const { db, driver } = options;

  const getSummary = async (id: string): Promise<DeliverySummary | null> => {
    const [row] = await db
      .select(SUMMARY)
      .from(deliveries)
      .innerJoin(integrationEvents, eq(integrationEvents.id, deliveries.integrationEventId))
      .where(eq(deliveries.id, id));
    return row ?? null;
  };

  /** Moves one delivery if it is dead; the status test in the UPDATE is what makes replay happen once. */
  const replayIfDead = async (id: string, now: number): Promise<boolean> => {
    const moved = await db
      .update(deliveries)
      .set(toReplayed(now))
      .where(and(eq(deliveries.id, id), eq(deliveries.status, 'dead')))
      .returning({ id: deliveries.id });
    return moved.length > 0;
  };

  return {
    async listDeliveries({ limit, after, ...filter }) {
      return db
        .select(SUMMARY)
        .from(deliveries)
        .innerJoin(integrationEvents, eq(integrationEvents.id, deliveries.integrationEventId))
        .where(
          and(
            ...toConditions(filter),
            filter.type === undefined ? undefined : typeMatches(integrationEvents.type, filter.type),
            // A row-value comparison, which SQLite answers from the (created_at, id) index.
            after === undefined
              ? undefined
              : sql`(${deliveries.createdAt}, ${deliveries.id}) > (${after.createdAt}, ${after.id})`,
          ),
        )
        .orderBy(asc(deliveries.createdAt), asc(deliveries.id))
        .limit(limit);
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
      const { type } = filter;
      const query = db
        .update(deliveries)
        .set(toReplayed(now))
        .where(
          and(
            ...toConditions({ ...filter, status: 'dead' }),
            // Correlated, so the few dead rows (found by the status index) are each checked by
            // primary key, instead of reading every integration event.
            type === undefined
              ? undefined
              : exists(
                  db
                    .select({ one: sql`1` })
                    .from(integrationEvents)
                    .where(
                      and(
                        eq(integrationEvents.id, deliveries.integrationEventId),
                        typeMatches(integrationEvents.type, type),
                      ),
                    ),
                ),
          ),
        );
      const { sql: text, params } = query.toSQL();
      const [changed] = await driver.batch([{ sql: text, args: params as SqlValue[] }]);
      return changed ?? 0;
    },
  };
}

/** A replay: a new generation, due now, with a fresh retry budget; `attempts` keeps counting. */
function toReplayed(now: number) {
  return {
    status: 'pending' as const,
    generation: sql`${deliveries.generation} + 1`,
    retried: 0,
    nextAttemptAt: now,
    messageId: null,
    leaseOwner: null,
    leaseExpiresAt: null,
    updatedAt: now,
  };
}

function toConditions(filter: Omit<DeliveryFilter, 'type'>): SQL[] {
  const conditions: SQL[] = [];
  if (filter.status !== undefined) conditions.push(eq(deliveries.status, filter.status));
  if (filter.subscriptionId !== undefined) {
    conditions.push(eq(deliveries.subscriptionId, filter.subscriptionId));
  }
  if (filter.since !== undefined) conditions.push(gte(deliveries.createdAt, filter.since));
  if (filter.until !== undefined) conditions.push(lt(deliveries.createdAt, filter.until));
  return conditions;
}

/** An exact type, or `prefix.*`; compared with substr, since `_` in a type is a LIKE wildcard. */
function typeMatches(column: SQLiteColumn, pattern: string): SQL {
  if (!pattern.endsWith('.*')) return eq(column, pattern);
  const prefix = pattern.slice(0, -1);
  return sql`substr(${column}, 1, ${prefix.length}) = ${prefix}`;
}
