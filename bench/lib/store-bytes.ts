import Database from 'libsql';

// Where a libSQL file's bytes go, per table and per index, from SQLite's `dbstat` virtual table
// (whole pages, so free space inside pages counts against the table that owns them).

export interface StoreBytes {
  /** Bytes in pages, per table or index, largest first. */
  readonly objects: readonly { name: string; bytes: number }[];
  /** Bytes in the pages of every table and index. */
  readonly used: number;
  /** page_count × page_size: the main file's size, free pages included. */
  readonly file: number;
  readonly freePages: number;
  readonly domainEvents: number;
}

/** Reads the page statistics of the database at `path` (read-only; the WAL is read too). */
export function measureStoreBytes(path: string): StoreBytes {
  const db = new Database(path, { readonly: true });
  try {
    const objects = (
      db.prepare('SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC').all() as {
        name: string;
        bytes: number;
      }[]
    ).map((r) => ({ name: r.name, bytes: Number(r.bytes) }));
    const one = (sql: string) => Number(Object.values(db.prepare(sql).get() as Record<string, unknown>)[0]);
    return {
      objects,
      used: objects.reduce((sum, o) => sum + o.bytes, 0),
      file: one('PRAGMA page_count') * one('PRAGMA page_size'),
      freePages: one('PRAGMA freelist_count'),
      domainEvents: one('SELECT count(*) FROM domain_events'),
    };
  } finally {
    db.close();
  }
}

/** The table of bytes per event, per object (those above 0.5 B/event), then the total. */
export function formatStoreBytes(bytes: StoreBytes, events = bytes.domainEvents): string[] {
  const per = (n: number) => (events > 0 ? n / events : 0);
  const lines = bytes.objects
    .filter((o) => per(o.bytes) >= 0.5)
    .map((o) => `  ${o.name.padEnd(40)} ${per(o.bytes).toFixed(1).padStart(8)} B/event`);
  lines.push(`  ${'total (tables + indexes)'.padEnd(40)} ${per(bytes.used).toFixed(1).padStart(8)} B/event`);
  return lines;
}

/**
 * What the producers sent, per event, as stored: the domain event's data, metadata and
 * traceparent, and its integration events' data (the converter's output). The rest of the bytes
 * per event are the mesh's own: ids, times, delivery rows, attempts and index entries.
 */
export function measureContentBytes(path: string): { domain: number; integration: number } {
  const db = new Database(path, { readonly: true });
  try {
    const avg = (sql: string) =>
      Number(Object.values(db.prepare(sql).get() as Record<string, unknown>)[0] ?? 0);
    const events = avg('SELECT count(*) FROM domain_events');
    if (events === 0) return { domain: 0, integration: 0 };
    return {
      domain: avg(
        `SELECT avg(length(CAST(data AS BLOB)) + coalesce(length(CAST(metadata AS BLOB)), 0)
           + coalesce(length(traceparent), 0)) FROM domain_events`,
      ),
      integration: avg('SELECT sum(length(CAST(data AS BLOB))) FROM integration_events') / events,
    };
  } finally {
    db.close();
  }
}
