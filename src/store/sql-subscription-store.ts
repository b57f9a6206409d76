import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import type { StoredSubscription, SubscriptionStore } from '../core/subscription-store.ts';
import * as schema from './schema.ts';
import type { SqlDatabase } from './sql-database.ts';
import type { SqlStatement } from './sql-driver.ts';

const subscriptions = schema.subscriptions;

/**
 * Subscriptions on SQLite (libSQL or D1), through Drizzle's query builder (the code sync aside,
 * which upserts in one raw batch): none of this is a hot path. Ingest matches against the same
 * table at commit time and the leases read its pause and `max_concurrency`, so every change here
 * applies on every process at once.
 * @example const subscriptions = createSqlSubscriptionStore({ db: drizzle(client, { schema }), driver });
 */
export function createSqlSubscriptionStore(options: SqlDatabase): SubscriptionStore {
  const { db, driver } = options;
  const active = (id: string) => and(eq(subscriptions.id, id), isNull(subscriptions.deletedAt));

  return {
    async syncCodeSubscriptions(declared, now) {
      // Upserts that leave `api` rows alone, then one UPDATE retiring the code rows not declared:
      // one transaction, so ingest never sees a half-synced set.
      const statements: SqlStatement[] = declared.map((s) => ({
        // The pause columns are left alone: pausing is operational, not part of the definition.
        sql: `INSERT INTO subscriptions (id, type, url, retries, retry_delay, max_concurrency, origin, created_at,
                updated_at, deleted_at)
              VALUES (?, ?, ?, ?, ?, ?, 'code', ?, ?, NULL)
              ON CONFLICT (id) DO UPDATE SET type = excluded.type, url = excluded.url, retries = excluded.retries,
                retry_delay = excluded.retry_delay, max_concurrency = excluded.max_concurrency,
                updated_at = excluded.updated_at, deleted_at = NULL
              WHERE subscriptions.origin = 'code'`,
        args: [s.id, s.type, s.url, s.retries, s.retryDelay, s.maxConcurrency, now, now],
      }));
      statements.push({
        sql: `UPDATE subscriptions SET deleted_at = ?, updated_at = ?
              WHERE origin = 'code' AND deleted_at IS NULL AND id NOT IN (SELECT value FROM json_each(?))`,
        args: [now, now, JSON.stringify(declared.map((s) => s.id))],
      });
      await driver.batch(statements);
    },

    async createSubscription({ id, type, url, retries, retryDelay, maxConcurrency, paused, now }) {
      const [row] = await db
        .insert(subscriptions)
        .values({
          id,
          type,
          url,
          retries,
          retryDelay,
          maxConcurrency,
          origin: 'api',
          createdAt: now,
          updatedAt: now,
          ...(paused ? { pausedAt: now, pausedReason: 'manual' as const } : {}),
        })
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
          ...(patch.maxConcurrency === undefined ? {} : { maxConcurrency: patch.maxConcurrency }),
          ...toPauseColumns(patch.paused, now),
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
    maxConcurrency: row.maxConcurrency,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    pausedAt: row.pausedAt,
    pausedReason: row.pausedAt === null ? null : (row.pausedReason ?? 'manual'),
  };
}

/**
 * Pausing keeps the time of a pause already in force (pausing twice is one pause) and makes it
 * `manual`: the operator now owns it. Resuming clears both.
 */
function toPauseColumns(paused: boolean | undefined, now: number) {
  if (paused === undefined) return {};
  if (!paused) return { pausedAt: null, pausedReason: null };
  return {
    pausedAt: sql`coalesce(${subscriptions.pausedAt}, ${now})`,
    pausedReason: 'manual' as const,
  };
}
