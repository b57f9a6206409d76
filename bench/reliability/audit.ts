import Database from 'libsql';
import { eventIdOut } from '../../src/store/sql-ids.ts';

// Reads the mesh's database and the consuming service's effects side by side (ATTACH), through a
// connection of the harness's own: what was stored, what was delivered, how often each handler ran.

/** A subscription's number (0008: deliveries hold it, not the id), from one bound id. */
const SUBSCRIPTION = '(SELECT ref FROM subscription_refs WHERE id = ?)';

export interface Audit {
  readonly domainEvents: number;
  readonly integrationEvents: number;
  /** Deliveries of the audited subscription, by status. */
  readonly byStatus: Readonly<Record<string, number>>;
  readonly attempts: number;
  /** Acknowledged ids (when given) that the database does not hold. */
  readonly ackedMissing: number;
  /** Stored events with no integration event or no delivery to the subscription: a partial write. */
  readonly partial: number;
  /** Integration events (to the subscription) the handler never ran for. */
  readonly undelivered: number;
  /** Handler runs beyond the first, over all events. */
  readonly duplicates: number;
  /** Handler runs for ids the mesh never stored. */
  readonly strays: number;
  readonly effects: number;
}

export function audit(options: {
  meshDb: string;
  handlerDb: string;
  subscriptionId: string;
  /** The domain event type whose events the subscription receives (default `OrderPaid`). */
  domainType?: string;
  /** Ids the API acknowledged (2xx); checked to be stored. */
  acked?: Iterable<string>;
}): Audit {
  const db = new Database(options.meshDb, { timeout: 10_000 });
  try {
    db.exec(`ATTACH DATABASE '${options.handlerDb.replaceAll("'", "''")}' AS h`);
    const one = (sql: string, ...args: unknown[]): number => {
      const row = db.prepare(sql).get(args) as Record<string, unknown> | undefined;
      return Number(row === undefined ? 0 : Object.values(row)[0]);
    };
    let ackedMissing = 0;
    if (options.acked !== undefined) {
      db.exec('CREATE TEMP TABLE IF NOT EXISTS acked (id TEXT PRIMARY KEY)');
      db.exec('DELETE FROM acked');
      const insert = db.prepare('INSERT OR IGNORE INTO temp.acked (id) VALUES (?)');
      db.exec('BEGIN');
      for (const id of options.acked) insert.run([id]);
      db.exec('COMMIT');
      ackedMissing = one(
        'SELECT count(*) FROM temp.acked a WHERE NOT EXISTS (SELECT 1 FROM main.domain_events e WHERE e.id = a.id)',
      );
    }
    const byStatus: Record<string, number> = {};
    for (const row of db
      .prepare(
        `SELECT status, count(*) AS n FROM deliveries WHERE subscription_ref = ${SUBSCRIPTION} GROUP BY status`,
      )
      .all([options.subscriptionId]) as { status: string; n: number }[]) {
      byStatus[row.status] = Number(row.n);
    }
    return {
      domainEvents: one('SELECT count(*) FROM domain_events'),
      integrationEvents: one('SELECT count(*) FROM integration_events'),
      byStatus,
      attempts: one(
        `SELECT count(*) FROM attempt_log a JOIN deliveries d ON d.id = a.delivery_id WHERE d.subscription_ref = ${SUBSCRIPTION}`,
        options.subscriptionId,
      ),
      ackedMissing,
      // NOT IN over one materialised list: a correlated join here goes quadratic on large runs.
      partial: one(
        `SELECT count(*) FROM domain_events e WHERE e.type_ref = (SELECT ref FROM event_types WHERE name = ?) AND e.ref NOT IN (
           SELECT i.domain_event_ref FROM deliveries d JOIN integration_events i ON i.ref = d.integration_event_ref
           WHERE d.subscription_ref = ${SUBSCRIPTION})`,
        options.domainType ?? 'OrderPaid',
        options.subscriptionId,
      ),
      undelivered: one(
        `SELECT count(*) FROM deliveries d JOIN integration_events i ON i.ref = d.integration_event_ref
         WHERE d.subscription_ref = ${SUBSCRIPTION} AND ${eventIdOut('i.id')} NOT IN (SELECT f.event_id FROM h.effects f)`,
        options.subscriptionId,
      ),
      duplicates: one(
        'SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM h.effects GROUP BY event_id)',
      ),
      strays: one(
        `SELECT count(*) FROM h.effects f WHERE f.event_id NOT IN (SELECT ${eventIdOut('i.id')} FROM integration_events i)`,
      ),
      effects: one('SELECT count(*) FROM h.effects'),
    };
  } finally {
    db.close();
  }
}

/** Deliveries of a subscription by status, from the database (cheap enough to poll). */
export function deliveryStatus(meshDb: string, subscriptionId: string): Record<string, number> {
  const db = new Database(meshDb, { timeout: 10_000 });
  try {
    const out: Record<string, number> = {};
    for (const row of db
      .prepare(
        `SELECT status, count(*) AS n FROM deliveries WHERE subscription_ref = ${SUBSCRIPTION} GROUP BY status`,
      )
      .all([subscriptionId]) as { status: string; n: number }[]) {
      out[row.status] = Number(row.n);
    }
    return out;
  } finally {
    db.close();
  }
}

/** `{ delivered: 10 }` → `delivered 10`. */
export function formatStatus(byStatus: Readonly<Record<string, number>>): string {
  const entries = Object.entries(byStatus);
  return entries.length === 0 ? 'none' : entries.map(([k, v]) => `${k} ${v}`).join(', ');
}
