import { and, asc, eq, isNull } from 'drizzle-orm';
import type { StoredSubscription, SubscriptionStore } from '../core/subscription-store.ts';
import * as schema from './schema.ts';
import type { SqlDriver } from './sql-driver.ts';
import type { OutboxDatabase } from './sql-outbox-store.ts';

const subscriptions = schema.subscriptions;

/**
 * Subscriptions on SQLite (libSQL or D1), through Drizzle's query builder: none of this is a hot
 * path. Ingest matches against the same table at commit time, so every change here applies to
 * events accepted after it, on every process.
 * @example const subscriptions = createSqlSubscriptionStore({ db: drizzle(client, { schema }), driver });
 */
export function createSqlSubscriptionStore(options: {
  readonly db: OutboxDatabase;
  /** Unused: nothing here needs raw SQL. Taken so every SQL store is built alike. */
  readonly driver?: SqlDriver;
}): SubscriptionStore {
  const { db } = options;
  const active = (id: string) => and(eq(subscriptions.id, id), isNull(subscriptions.deletedAt));

  return {
    async createSubscription({ id, type, url, retries, retryDelay, now }) {
      const [row] = await db
        .insert(subscriptions)
        .values({ id, type, url, retries, retryDelay, origin: 'api', createdAt: now, updatedAt: now })
        .returning();
      return toStored(row!);
    },

    async listSubscriptions(filter = {}) {
      const rows = await db
        .select()
        .from(subscriptions)
        .where(
          and(
            isNull(subscriptions.deletedAt),
            filter.type === undefined ? undefined : eq(subscriptions.type, filter.type),
          ),
        )
        .orderBy(asc(subscriptions.createdAt), asc(subscriptions.id));
      return rows.map(toStored);
    },

    async getSubscription(id) {
      const [row] = await db.select().from(subscriptions).where(active(id));
      return row ? toStored(row) : null;
    },

    async updateSubscription(id, patch, now) {
      const [row] = await db
        .update(subscriptions)
        .set({
          ...(patch.type === undefined ? {} : { type: patch.type }),
          ...(patch.url === undefined ? {} : { url: patch.url }),
          ...(patch.retries === undefined ? {} : { retries: patch.retries }),
          ...(patch.retryDelay === undefined ? {} : { retryDelay: patch.retryDelay }),
          updatedAt: now,
        })
        .where(active(id))
        .returning();
      return row ? toStored(row) : null;
    },

    async deleteSubscription(id, now) {
      const rows = await db
        .update(subscriptions)
        .set({ deletedAt: now, updatedAt: now })
        .where(active(id))
        .returning({ id: subscriptions.id });
      return rows.length > 0;
    },
  };
}

function toStored(row: typeof subscriptions.$inferSelect): StoredSubscription {
  return {
    id: row.id,
    type: row.type,
    url: row.url,
    retries: row.retries,
    retryDelay: row.retryDelay,
    origin: row.origin,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}
