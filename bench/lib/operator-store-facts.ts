import Database from 'libsql';

// What the filled store holds, read straight from the file before the mesh opens it: the figures
// the report prints beside the timings, and the ids the timed pages need.

export interface StoreFacts {
  domainEvents: number;
  deliveries: number;
  attempts: number;
  byStatus: Record<string, number>;
  /** The newest event's acceptance time (the fill's "now", give or take a second). */
  newestAt: number;
  /** An event whose dead delivery has the most attempts: the heaviest event page. */
  deadEventId: string;
  deadEventAttempts: number;
}

export function readStoreFacts(file: string): StoreFacts {
  const db = new Database(file, { readonly: true });
  try {
    const one = <T>(sql: string) => db.prepare(sql).get() as T;
    const byStatus: Record<string, number> = {};
    for (const row of db.prepare('SELECT status, count(*) AS n FROM deliveries GROUP BY status').all() as {
      status: string;
      n: number;
    }[]) {
      byStatus[row.status] = Number(row.n);
    }
    const dead = one<{ id: string; attempts: number } | undefined>(
      `SELECT de.id, d.attempts FROM deliveries d
       JOIN integration_events ie ON ie.ref = d.integration_event_ref
       JOIN domain_events de ON de.ref = ie.domain_event_ref
       WHERE d.status = 'dead' ORDER BY d.attempts DESC, d.created_at DESC LIMIT 1`,
    );
    if (dead === undefined) throw new Error(`${file} holds no dead delivery`);
    return {
      domainEvents: Number(one<{ n: number }>('SELECT count(*) AS n FROM domain_events').n),
      deliveries: Object.values(byStatus).reduce((a, b) => a + b, 0),
      attempts: Number(one<{ n: number }>('SELECT count(*) AS n FROM attempt_log').n),
      byStatus,
      newestAt: Number(one<{ t: number }>('SELECT max(received_at) AS t FROM domain_events').t),
      deadEventId: dead.id,
      deadEventAttempts: Number(dead.attempts),
    };
  } finally {
    db.close();
  }
}
