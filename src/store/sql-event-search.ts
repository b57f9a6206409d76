import type { DeliveryStatus } from '../core/delivery-state.ts';
import type { EventSearch, EventSummary } from '../core/event-search.ts';
import type { SqlDatabase } from './sql-database.ts';
import type { SqlValue } from './sql-driver.ts';
import { typeNameOf, typeRefOf } from './sql-event-types.ts';
import { toInteger, toText } from './sql-row.ts';

/**
 * The operator's reads of accepted events on SQLite (libSQL or D1), in plain SQL. A page walks
 * the `received_at` index backwards; its deliveries are counted by the per-event indexes
 * (`integration_events_domain_event`, `deliveries_integration_event`), so the cost follows the
 * page, not the store.
 * @example const page = await createSqlEventSearch(database).listEvents({ limit: 50 });
 */
export function createSqlEventSearch({ driver }: SqlDatabase): EventSearch {
  return {
    async listEvents({ type, limit, after }) {
      const where: string[] = [];
      const args: SqlValue[] = [];
      if (type !== undefined) {
        where.push(`type_ref = ${typeRefOf('?')}`);
        args.push(type);
      }
      if (after !== undefined) {
        // Strictly before (receivedAt, id) in newest-first order. The leading `<=` is a range of
        // the `received_at` index; a row-value comparison alone would not use it.
        where.push('received_at <= ? AND (received_at < ? OR id < ?)');
        args.push(after.receivedAt, after.receivedAt, after.id);
      }
      const rows = await driver.query(
        `SELECT ref, id, ${typeNameOf('type_ref')} AS type, source, received_at FROM domain_events
         ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`}
         ORDER BY received_at DESC, id DESC LIMIT ?`,
        [...args, limit],
      );
      if (rows.length === 0) return [];
      // The page's events as one bound JSON array: one statement shape for every page size.
      const refs = JSON.stringify(rows.map((r) => toInteger(r.ref)));
      const [perEvent, perStatus] = await Promise.all([
        driver.query(
          `SELECT domain_event_ref, count(*) AS n FROM integration_events
           WHERE domain_event_ref IN (SELECT value FROM json_each(?)) GROUP BY domain_event_ref`,
          [refs],
        ),
        driver.query(
          `SELECT ie.domain_event_ref, d.status, count(*) AS n
           FROM integration_events ie JOIN deliveries d ON d.integration_event_ref = ie.ref
           WHERE ie.domain_event_ref IN (SELECT value FROM json_each(?))
           GROUP BY ie.domain_event_ref, d.status`,
          [refs],
        ),
      ]);
      return rows.map(
        (row): EventSummary => ({
          id: toText(row.id),
          type: toText(row.type),
          source: toText(row.source),
          receivedAt: toInteger(row.received_at),
          integrationEvents: toInteger(perEvent.find((e) => e.domain_event_ref === row.ref)?.n ?? 0),
          deliveries: Object.fromEntries(
            perStatus
              .filter((s) => s.domain_event_ref === row.ref)
              .map((s) => [toText(s.status) as DeliveryStatus, toInteger(s.n)] as const),
          ),
        }),
      );
    },

    async countEventsSince(since) {
      const [row] = await driver.query('SELECT count(*) AS n FROM domain_events WHERE received_at >= ?', [
        since,
      ]);
      return toInteger(row?.n ?? 0);
    },
  };
}
