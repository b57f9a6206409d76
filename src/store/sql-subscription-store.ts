import type { Subscription } from '../core/subscription.ts';
import type { SubscriptionFilter } from '../core/subscription-filter.ts';
import type { StoredSubscription, SubscriptionStore } from '../core/subscription-store.ts';
import type { SqlDatabase } from './sql-database.ts';
import type { SqlRow, SqlStatement, SqlValue } from './sql-driver.ts';
import { toInteger, toIntegerOrNull, toText, toTextOrNull } from './sql-row.ts';

const COLUMNS = `id, type, url, retries, retry_delay, origin, max_concurrency, pause_after, created_at, updated_at,
  paused_at, paused_reason, filter`;

/** A subscription not deleted (soft deletes keep the row), by id: one bound value. */
const ACTIVE = 'id = ? AND deleted_at IS NULL';

/**
 * Subscriptions on SQLite (libSQL or D1), in plain SQL: none of this is a hot path. Ingest matches
 * against the same table at commit time and the leases read its pause and `max_concurrency`, so
 * every change here applies on every process at once.
 * @example const subscriptions = createSqlSubscriptionStore({ driver });
 */
export function createSqlSubscriptionStore(options: SqlDatabase): SubscriptionStore {
  const { driver } = options;

  return {
    async syncCodeSubscriptions(declared, now) {
      // Upserts that leave `api` rows alone, then one UPDATE retiring the code rows not declared:
      // one transaction, so ingest never sees a half-synced set.
      const statements: SqlStatement[] = declared.map((s) => ({
        // The pause columns are left alone: pausing is operational, not part of the definition.
        sql: `INSERT INTO subscriptions (id, type, url, retries, retry_delay, max_concurrency, pause_after, filter,
                origin, created_at, updated_at, deleted_at)
              VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'code', ?, ?, NULL)
              ON CONFLICT (id) DO UPDATE SET type = excluded.type, url = excluded.url, retries = excluded.retries,
                retry_delay = excluded.retry_delay, max_concurrency = excluded.max_concurrency,
                pause_after = excluded.pause_after, filter = excluded.filter, updated_at = excluded.updated_at,
                deleted_at = NULL
              WHERE subscriptions.origin = 'code'`,
        args: [...toCodeSubscriptionValues(s), now, now],
      }));
      statements.push({
        sql: `UPDATE subscriptions SET deleted_at = ?, updated_at = ?
              WHERE origin = 'code' AND deleted_at IS NULL AND id NOT IN (SELECT value FROM json_each(?))`,
        args: [now, now, JSON.stringify(declared.map((s) => s.id))],
      });
      await driver.batch(statements);
    },

    async createSubscription({
      id,
      type,
      url,
      retries,
      retryDelay,
      maxConcurrency,
      pauseAfter,
      paused,
      filter,
      now,
    }) {
      const [row] = await driver.query(
        `INSERT INTO subscriptions (id, type, url, retries, retry_delay, max_concurrency, pause_after, filter, origin,
           created_at, updated_at, paused_at, paused_reason)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'api', ?, ?, ?, ?)
         RETURNING ${COLUMNS}`,
        [
          id,
          type,
          url,
          retries,
          retryDelay,
          maxConcurrency,
          pauseAfter,
          toFilterText(filter ?? null),
          now,
          now,
          paused ? now : null,
          paused ? 'manual' : null,
        ],
      );
      return toStored(row!);
    },

    async listSubscriptions(filter = {}) {
      const rows =
        filter.type === undefined
          ? await driver.query(
              `SELECT ${COLUMNS} FROM subscriptions WHERE deleted_at IS NULL ORDER BY created_at, id`,
            )
          : await driver.query(
              `SELECT ${COLUMNS} FROM subscriptions WHERE deleted_at IS NULL AND type = ? ORDER BY created_at, id`,
              [filter.type],
            );
      return rows.map(toStored);
    },

    async getSubscription(id) {
      const [row] = await driver.query(`SELECT ${COLUMNS} FROM subscriptions WHERE ${ACTIVE}`, [id]);
      return row ? toStored(row) : null;
    },

    async updateSubscription(id, patch, now) {
      const set: string[] = [];
      const args: SqlValue[] = [];
      const assign = (column: string, value: SqlValue) => {
        set.push(`${column} = ?`);
        args.push(value);
      };
      if (patch.type !== undefined) assign('type', patch.type);
      if (patch.url !== undefined) assign('url', patch.url);
      if (patch.retries !== undefined) assign('retries', patch.retries);
      if (patch.retryDelay !== undefined) assign('retry_delay', patch.retryDelay);
      if (patch.maxConcurrency !== undefined) assign('max_concurrency', patch.maxConcurrency);
      if (patch.pauseAfter !== undefined) assign('pause_after', patch.pauseAfter);
      if (patch.filter !== undefined) assign('filter', toFilterText(patch.filter));
      // Pausing keeps the time of a pause already in force (pausing twice is one pause) and makes
      // it `manual`: the operator now owns it. Resuming clears both and the failure count, so the
      // circuit breaker gives the endpoint a fresh `pause_after` attempts.
      if (patch.paused === true) {
        set.push("paused_at = coalesce(paused_at, ?), paused_reason = 'manual'");
        args.push(now);
      } else if (patch.paused === false) {
        set.push('paused_at = NULL, paused_reason = NULL, consecutive_failures = 0');
      }
      assign('updated_at', now);
      const [row] = await driver.query(
        `UPDATE subscriptions SET ${set.join(', ')} WHERE ${ACTIVE} RETURNING ${COLUMNS}`,
        [...args, id],
      );
      return row ? toStored(row) : null;
    },

    async deleteSubscription(id, now) {
      const rows = await driver.query(
        `UPDATE subscriptions SET deleted_at = ?, updated_at = ? WHERE ${ACTIVE} RETURNING id`,
        [now, now, id],
      );
      return rows.length > 0;
    },
  };
}

function toStored(row: SqlRow): StoredSubscription {
  const pausedAt = toIntegerOrNull(row.paused_at);
  return {
    id: toText(row.id),
    type: toText(row.type),
    url: toText(row.url),
    retries: toInteger(row.retries),
    retryDelay: toTextOrNull(row.retry_delay),
    origin: row.origin === 'code' ? 'code' : 'api',
    maxConcurrency: toInteger(row.max_concurrency),
    pauseAfter: toInteger(row.pause_after),
    createdAt: toInteger(row.created_at),
    updatedAt: toInteger(row.updated_at),
    pausedAt,
    pausedReason: pausedAt === null ? null : row.paused_reason === 'failing' ? 'failing' : 'manual',
    filter: toFilter(row.filter),
  };
}

/**
 * A statement that fails its batch ({@link isCodeSubscriptionsChanged}) unless the code subscriptions
 * not deleted are exactly `declared`, in every column `syncCodeSubscriptions` writes but the times;
 * when they are, it writes nothing. A process that only needs them synced before its first write
 * (the Worker, on every new isolate) runs this one statement instead of the sync's upserts, whose
 * triggers D1 compiles with each. A set comparison: as many rows as declared, and each declared
 * one found with the same values; any difference — even one this comparison is too strict about —
 * means the sync runs.
 */
export function toCodeSubscriptionsCheck(declared: readonly Subscription[]): SqlStatement {
  const rows = declared.map(toCodeSubscriptionValues);
  return {
    // Fails by writing `revision` NULL (NOT NULL): a message no other statement of a batch can cause.
    sql: `INSERT INTO subscription_revision (id, revision) SELECT 0, NULL
          WHERE (SELECT count(*) FROM subscriptions WHERE origin = 'code' AND deleted_at IS NULL) <> json_array_length(?1)
            OR EXISTS (SELECT 1 FROM json_each(?1) d WHERE NOT EXISTS (
              SELECT 1 FROM subscriptions s
              WHERE s.id = json_extract(d.value, '$[0]') AND s.origin = 'code' AND s.deleted_at IS NULL
                AND s.type IS json_extract(d.value, '$[1]') AND s.url IS json_extract(d.value, '$[2]')
                AND s.retries IS json_extract(d.value, '$[3]') AND s.retry_delay IS json_extract(d.value, '$[4]')
                AND s.max_concurrency IS json_extract(d.value, '$[5]')
                AND s.pause_after IS json_extract(d.value, '$[6]') AND s.filter IS json_extract(d.value, '$[7]')))`,
    args: [JSON.stringify(rows)],
  };
}

/** Whether a batch failed on {@link toCodeSubscriptionsCheck}: the code subscriptions need their sync. */
export function isCodeSubscriptionsChanged(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    if (e.message.includes('NOT NULL constraint failed: subscription_revision.revision')) return true;
  }
  return false;
}

/**
 * A code subscription's columns as the sync writes them and the check compares them, in this
 * order: id, type, url, retries, retry_delay, max_concurrency, pause_after, filter.
 */
function toCodeSubscriptionValues(s: Subscription): SqlValue[] {
  return [
    s.id,
    s.type,
    s.url,
    s.retries,
    s.retryDelay,
    s.maxConcurrency,
    s.pauseAfter,
    toFilterText(s.filter),
  ];
}

/** A filter as stored: its JSON text (the triggers of 0005 watch the column), or null. */
function toFilterText(filter: SubscriptionFilter | null): string | null {
  return filter === null ? null : JSON.stringify(filter);
}

function toFilter(value: unknown): SubscriptionFilter | null {
  const text = toTextOrNull(value);
  return text === null ? null : (JSON.parse(text) as SubscriptionFilter);
}
