import { randomBytes } from 'node:crypto';
import Database from 'libsql';

// bench:scale's full store: rows copied from what the mesh itself wrote for one sample event (one
// domain event, its integration event, one delivery to the bench's subscription), with new ids and
// times, and settled as the dispatcher settles them — `delivered` after one 200 attempt, or `dead`
// after eleven 500s — written with multi-row INSERTs in large unsynced transactions.

const EVENTS_PER_TRANSACTION = 20_000;
const ROWS_PER_INSERT = 100;
const MAX_RETRIES = 10;

type Value = string | number | Uint8Array | null;
type Row = Record<string, Value>;

export interface FillOptions {
  readonly path: string;
  readonly delivered: number;
  readonly dead: number;
  /** Acceptance times are spread evenly over [from, to). */
  readonly from: number;
  readonly to: number;
  readonly log: (line: string) => void;
}

/** Fills the file; returns the seconds it took. The mesh must not be running on it. */
export function fillStore(options: FillOptions): number {
  const started = performance.now();
  const db = new Database(options.path);
  db.exec('PRAGMA synchronous = OFF');
  db.exec('PRAGMA cache_size = -524288');
  db.exec('PRAGMA temp_store = MEMORY');
  const template = {
    event: db.prepare('SELECT * FROM domain_events ORDER BY received_at LIMIT 1').get() as Row | undefined,
    integration: db.prepare('SELECT * FROM integration_events LIMIT 1').get() as Row | undefined,
    delivery: db.prepare('SELECT * FROM deliveries LIMIT 1').get() as Row | undefined,
  };
  if (!template.event || !template.integration || !template.delivery) {
    throw new Error('fillStore needs one event with one delivery written by the mesh as a template');
  }
  // Secondary indexes are dropped for the fill and built again after it, from their own SQL: one
  // sort each instead of a million scattered inserts. The schema ends exactly as migrated.
  const indexes = db
    .prepare(
      `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL
         AND tbl_name IN ('domain_events', 'integration_events', 'deliveries', 'attempts')`,
    )
    .all() as { name: string; sql: string }[];
  for (const index of indexes) db.exec(`DROP INDEX "${index.name}"`);
  const events = createBulk(db, 'domain_events', columnsOf(db, 'domain_events'), null);
  const integration = createBulk(db, 'integration_events', columnsOf(db, 'integration_events'), events);
  const deliveries = createBulk(db, 'deliveries', columnsOf(db, 'deliveries'), integration);
  const attempts = createBulk(
    db,
    'attempts',
    ['delivery_id', 'number', 'at', 'status', 'duration_ms', 'error', 'response_excerpt'],
    deliveries,
  );
  const total = options.delivered + options.dead;
  const span = options.to - options.from;
  const eventData = String(template.event.data);
  const integrationData = String(template.integration.data);
  // Every `stride`-th event is one of the dead ones, so they are spread over the whole range.
  const stride = options.dead > 0 ? Math.floor(total / options.dead) : 0;
  // Row numbers after the template's (0008: integration events and deliveries refer to them).
  const maxRef = (table: string) =>
    Number((db.prepare(`SELECT max(ref) AS ref FROM ${table}`).get() as { ref: number }).ref);
  const eventRefs = maxRef('domain_events');
  const integrationRefs = maxRef('integration_events');
  db.exec('BEGIN');
  let nextReport = 0.25;
  for (let n = 0; n < total; n++) {
    const receivedAt = options.from + Math.floor((n * span) / total);
    const dead = stride > 0 && n % stride === 0 && n / stride < options.dead;
    const id = `scale-${n.toString(36).padStart(6, '0')}-${randomBytes(4).toString('hex')}`;
    const ieId = toUuidV7(receivedAt);
    const deliveryId = receivedAt.toString(16).padStart(12, '0') + randomBytes(10).toString('hex');
    const order = `o-${String(n).padStart(8, '0')}`;
    const eventRef = eventRefs + n + 1;
    const integrationRef = integrationRefs + n + 1;
    events.push({
      ...template.event,
      ref: eventRef,
      id,
      data: eventData.replace(/"o-[^"]*"/, `"${order}"`),
      received_at: receivedAt,
    });
    integration.push({
      ...template.integration,
      ref: integrationRef,
      // Ids as their 16 bytes; the time left to derive from the event's receipt, as ingest does.
      id: Buffer.from(ieId.replaceAll('-', ''), 'hex'),
      domain_event_ref: eventRef,
      time: null,
      data: integrationData.replace(/"o-[^"]*"/, `"${order}"`),
    });
    const tries = dead ? MAX_RETRIES + 1 : 1;
    const settledAt = receivedAt + (dead ? 3_600_000 : 40);
    deliveries.push({
      ...template.delivery,
      id: Buffer.from(deliveryId, 'hex'),
      integration_event_ref: integrationRef,
      status: dead ? 'dead' : 'delivered',
      ordering_key: dead ? (template.delivery.ordering_key ?? null) : null,
      attempts: tries,
      retried: tries - 1,
      next_attempt_at: settledAt,
      lease_owner: null,
      lease_expires_at: null,
      created_at: receivedAt,
      updated_at: settledAt,
      // A delivered delivery keeps its one attempt on its row, as the local dispatcher writes it
      // (0011); a dead one's attempts are rows.
      delivered_number: dead ? null : 1,
      delivered_at: dead ? null : settledAt,
      delivered_status: dead ? null : 200,
      delivered_duration_ms: dead ? null : 2 + (n % 5),
      delivered_excerpt: dead ? null : '{}',
    });
    for (let number = 1; dead && number <= tries; number++) {
      attempts.push({
        delivery_id: Buffer.from(deliveryId, 'hex'),
        number,
        at: receivedAt + number * 300_000,
        status: 500,
        duration_ms: 2 + (n % 5),
        error: null,
        response_excerpt: '{"error":"upstream unavailable"}',
      });
    }
    if ((n + 1) % EVENTS_PER_TRANSACTION === 0) {
      attempts.flush();
      db.exec('COMMIT');
      db.exec('BEGIN');
    }
    if ((n + 1) / total >= nextReport) {
      options.log(
        `  filled ${Math.round(((n + 1) / total) * 100)}% in ${((performance.now() - started) / 1000).toFixed(0)} s`,
      );
      nextReport += 0.25;
    }
  }
  attempts.flush();
  db.exec('COMMIT');
  const indexing = performance.now();
  for (const index of indexes) db.exec(index.sql);
  options.log(
    `  ${indexes.length} indexes built again in ${((performance.now() - indexing) / 1000).toFixed(0)} s`,
  );
  db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  db.close();
  return (performance.now() - started) / 1000;
}

/** The table's columns as the migrations left them (whatever later migrations added). */
function columnsOf(db: Database.Database, table: string): string[] {
  return (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name);
}

/** A UUIDv7 for `ms`, as the mesh's id generator makes them. */
function toUuidV7(ms: number): string {
  const hex = ms.toString(16).padStart(12, '0') + randomBytes(10).toString('hex');
  const variant = ((Number.parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

interface Bulk {
  push(row: Row): void;
  flush(): void;
}

/** Buffered multi-row INSERTs; the parent's rows are flushed first, so foreign keys hold. */
function createBulk(
  db: Database.Database,
  table: string,
  columns: readonly string[],
  parent: Bulk | null,
): Bulk {
  const row = `(${columns.map(() => '?').join(', ')})`;
  const head = `INSERT INTO ${table} (${columns.join(', ')}) VALUES `;
  const full = db.prepare(head + new Array(ROWS_PER_INSERT).fill(row).join(', '));
  let buffer: Value[] = [];
  let rows = 0;
  const flush = () => {
    parent?.flush();
    if (rows === 0) return;
    const statement =
      rows === ROWS_PER_INSERT ? full : db.prepare(head + new Array(rows).fill(row).join(', '));
    statement.run(buffer);
    buffer = [];
    rows = 0;
  };
  return {
    push(values) {
      for (const column of columns) buffer.push(values[column] ?? null);
      if (++rows === ROWS_PER_INSERT) flush();
    },
    flush,
  };
}
