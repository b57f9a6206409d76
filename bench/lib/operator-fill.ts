import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'libsql';
import { readMigrations } from '../../src/runtime/migrations.ts';
import { openLibsqlFileDriver } from '../../src/store/libsql-file-driver.ts';
import { applyMigrations } from '../../src/store/migrate.ts';
import { ANALYTICS_PAUSED_FOR_MS, SUBSCRIPTIONS, WINDOW_MS } from './operator-fixture.ts';
import { createHistory, type DeliveryFate } from './operator-history.ts';
import { storeCacheKey } from './store-cache-key.ts';

// bench:operator's store: migrated by the mesh's own code, then filled with raw multi-row INSERTs
// in large transactions, unsynced, then checkpointed into one file (WAL mode, as the mesh runs it). Kept
// under the system temp dir, keyed by the migrations and the fixture, so the next run reuses it.

/** Bumped whenever the fixture's shape changes, so an old cached file is not reused. */
const FIXTURE_VERSION = 1;
const EVENTS_PER_TRANSACTION = 25_000;
const ROWS_PER_INSERT = 200;

export interface FilledStore {
  /** The cached, filled file (never served directly: the harness copies it). */
  readonly file: string;
  readonly reused: boolean;
  /** Seconds the fill took; null when reused. */
  readonly fillSeconds: number | null;
  readonly bytes: number;
}

/** The cached file for `events` domain events, filled now when missing (or when `fresh`). */
export async function ensureFilledStore(options: {
  events: number;
  fresh: boolean;
  log: (line: string) => void;
}): Promise<FilledStore> {
  const migrations = readMigrations();
  const key = storeCacheKey([FIXTURE_VERSION, options.events]);
  const dir = join(tmpdir(), 'hookmesh-bench-operator');
  mkdirSync(dir, { recursive: true });
  const file = join(
    dir,
    `store-${options.events}-${migrations.at(-1)?.name.slice(0, 4) ?? 'none'}-${key}.db`,
  );
  if (options.fresh) rmSync(file, { force: true });
  if (existsSync(file)) return { file, reused: true, fillSeconds: null, bytes: statSync(file).size };

  const partial = `${file}.partial-${process.pid}`;
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${partial}${suffix}`, { force: true });
  const started = performance.now();
  try {
    await fill(partial, options.events, options.log);
    renameSync(partial, file);
  } finally {
    for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${partial}${suffix}`, { force: true });
  }
  return {
    file,
    reused: false,
    fillSeconds: (performance.now() - started) / 1000,
    bytes: statSync(file).size,
  };
}

async function fill(path: string, events: number, log: (line: string) => void): Promise<void> {
  // The mesh's own migration code and driver, so the schema is exactly what `serveMesh` makes.
  const driver = openLibsqlFileDriver(path, { busyTimeoutMs: 10_000 });
  await applyMigrations(driver, readMigrations());
  driver.closeNow();

  const db = new Database(path);
  // WAL as the migrations left it (switching modes would need the migrating connection gone,
  // which libsql closes lazily), but no syncing: a crash mid-fill leaves only a `.partial` file.
  db.exec('PRAGMA synchronous = OFF');
  db.exec('PRAGMA cache_size = -1048576');
  db.exec('PRAGMA temp_store = MEMORY');

  const now = Date.now();
  const history = createHistory({ now, seed: 0x5eed + events });
  const subscriptionRows = createBulkInsert(
    db,
    'subscriptions',
    null,
    'id type url retries retry_delay origin created_at updated_at deleted_at paused_at paused_reason max_concurrency',
  );
  const created = now - WINDOW_MS - 86_400_000;
  for (const s of SUBSCRIPTIONS) {
    const paused = s.id === 'sub_analytics' ? now - ANALYTICS_PAUSED_FOR_MS : null;
    subscriptionRows.push(
      s.id,
      s.type,
      s.url,
      s.retries,
      s.retryDelay,
      s.origin,
      created,
      paused ?? created,
      null,
      paused,
      paused === null ? null : 'manual',
      s.maxConcurrency,
    );
  }
  const domainRows = createBulkInsert(
    db,
    'domain_events',
    null,
    'ref id type_ref source data occurred_at metadata traceparent received_at',
  );
  const integrationRows = createBulkInsert(
    db,
    'integration_events',
    domainRows,
    'ref id domain_event_ref seq type_ref source time data',
  );
  const deliveryRows = createBulkInsert(
    db,
    'deliveries',
    integrationRows,
    'id integration_event_ref subscription_ref endpoint_id status attempts retried max_retries retry_delay next_attempt_at lease_owner lease_expires_at generation message_id created_at updated_at delivered_number delivered_at delivered_status delivered_duration_ms delivered_excerpt',
  );
  const attemptRows = createBulkInsert(
    db,
    'attempts',
    deliveryRows,
    'delivery_id number at status duration_ms error response_excerpt',
  );

  const begin = db.prepare('BEGIN');
  const commit = db.prepare('COMMIT');
  begin.run();
  subscriptionRows.flush();
  // Their numbers and endpoints, which the insert trigger set (0008) and deliveries hold.
  const numbered = new Map(
    (db.prepare('SELECT id, ref, endpoint_id FROM subscriptions').all() as SubscriptionNumbers[]).map(
      (s) => [s.id, s] as const,
    ),
  );
  // Type names by number (0009), each numbered the first time an event uses it.
  const addType = db.prepare('INSERT OR IGNORE INTO event_types (name) VALUES (?)');
  const findType = db.prepare('SELECT ref FROM event_types WHERE name = ?');
  const typeRefs = new Map<string, number>();
  const typeRef = (name: string): number => {
    let ref = typeRefs.get(name);
    if (ref === undefined) {
      addType.run([name]);
      ref = Number((findType.get([name]) as { ref: number }).ref);
      typeRefs.set(name, ref);
    }
    return ref;
  };
  let nextReport = 0.1;
  const started = performance.now();
  for (let i = 0; i < events; i++) {
    const receivedAt = now - WINDOW_MS + Math.floor(((i + 0.5) * WINDOW_MS) / events);
    const e = history.event(receivedAt);
    // Row numbers from 1 in the new file, one integration event per domain event.
    const ref = i + 1;
    domainRows.push(ref, e.id, typeRef(e.type), e.source, e.data, null, null, e.traceparent, receivedAt);
    integrationRows.push(
      ref,
      toBytes(e.integration.id),
      ref,
      0,
      typeRef(e.integration.type),
      e.integration.source,
      e.integration.time,
      e.integration.data,
    );
    for (const d of e.deliveries) {
      pushDelivery(deliveryRows, attemptRows, ref, numbered.get(d.subscription.id)!, receivedAt, d);
    }
    if ((i + 1) % EVENTS_PER_TRANSACTION === 0 || i === events - 1) {
      for (const rows of [domainRows, integrationRows, deliveryRows, attemptRows]) rows.flush();
      commit.run();
      if (i < events - 1) begin.run();
    }
    if ((i + 1) / events >= nextReport) {
      const seconds = (performance.now() - started) / 1000;
      log(`  filled ${Math.round(((i + 1) / events) * 100)}% (${i + 1} events) in ${seconds.toFixed(1)} s`);
      nextReport += 0.1;
    }
  }
  // Everything into the main file, so the cached file stands alone and copies whole.
  db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  db.close();
}

function pushDelivery(
  deliveries: BulkInsert,
  attempts: BulkInsert,
  integrationEventRef: number,
  numbers: SubscriptionNumbers,
  createdAt: number,
  d: DeliveryFate,
): void {
  const s = d.subscription;
  const id = toBytes(d.id);
  // A delivered delivery's last attempt is kept on its row, as the local dispatcher writes it (0011).
  const delivered = d.status === 'delivered' ? d.attempts.at(-1) : undefined;
  deliveries.push(
    id,
    integrationEventRef,
    numbers.ref,
    numbers.endpoint_id,
    d.status,
    d.attempts.length,
    d.retried,
    s.retries,
    s.retryDelay,
    d.nextAttemptAt,
    null,
    null,
    0,
    null,
    createdAt,
    d.updatedAt,
    delivered === undefined ? null : d.attempts.length,
    delivered?.at ?? null,
    delivered?.status ?? null,
    delivered?.durationMs ?? null,
    delivered?.excerpt ?? null,
  );
  d.attempts.forEach((a, n) => {
    if (a !== delivered) attempts.push(id, n + 1, a.at, a.status, a.durationMs, a.error, a.excerpt);
  });
}

interface SubscriptionNumbers {
  readonly id: string;
  readonly ref: number;
  readonly endpoint_id: number;
}

/** An integration event or delivery id as the mesh stores it (0008): its 16 bytes. */
function toBytes(id: string): Uint8Array {
  return Buffer.from(id.replaceAll('-', ''), 'hex');
}

interface BulkInsert {
  push(...values: (string | number | Uint8Array | null)[]): void;
  /** Writes what is buffered (inside the caller's transaction). */
  flush(): void;
}

/**
 * Rows buffered and written ROWS_PER_INSERT at a time through one prepared multi-row INSERT. The
 * parent table's rows are written first, so foreign keys (on in libSQL) hold at every statement.
 */
function createBulkInsert(
  db: Database.Database,
  table: string,
  parent: BulkInsert | null,
  /** Space-separated, in the order `push` takes the values. */
  columnList: string,
): BulkInsert {
  const columns = columnList.split(' ');
  const width = columns.length;
  const statements = new Map<number, Database.Statement>();
  const statementFor = (rows: number) => {
    let statement = statements.get(rows);
    if (statement === undefined) {
      const row = `(${new Array(width).fill('?').join(', ')})`;
      statement = db.prepare(
        `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${new Array(rows).fill(row).join(', ')}`,
      );
      statements.set(rows, statement);
    }
    return statement;
  };
  let buffer: (string | number | Uint8Array | null)[] = [];
  return {
    push(...values) {
      for (const value of values) buffer.push(value);
      if (buffer.length >= ROWS_PER_INSERT * width) {
        parent?.flush();
        statementFor(ROWS_PER_INSERT).run(buffer);
        buffer = [];
      }
    },
    flush() {
      parent?.flush();
      if (buffer.length === 0) return;
      statementFor(buffer.length / width).run(buffer);
      buffer = [];
    },
  };
}
