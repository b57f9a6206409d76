import type { RetentionStore } from '../core/retention.ts';
import type { SqlDriver } from './sql-driver.ts';

/**
 * Retention on SQLite (libSQL or D1): one transaction per pass, the oldest delivered rows first.
 * @example await createSqlRetention(driver).purge({ deliveredBefore: Date.now() - 7 * 86_400_000, limit: 1000 });
 */
export function createSqlRetention(driver: SqlDriver): RetentionStore {
  return {
    async purge({ deliveredBefore, limit }) {
      const victims = `SELECT id FROM deliveries WHERE status = 'delivered' AND updated_at < ?1
                       ORDER BY updated_at LIMIT ?2`;
      const [attempts, deliveries] = await driver.batch([
        { sql: `DELETE FROM attempts WHERE delivery_id IN (${victims})`, args: [deliveredBefore, limit] },
        { sql: `DELETE FROM deliveries WHERE id IN (${victims})`, args: [deliveredBefore, limit] },
      ]);
      return { deliveries: deliveries ?? 0, attempts: attempts ?? 0 };
    },
  };
}
