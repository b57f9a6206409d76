// What one ingest commit writes and costs in SQLite, for the schema of this tree next to the schema
// before a migration (the baseline, in the same run): two real libSQL files (WAL,
// synchronous=FULL), each migrated and filled alike, then the same groups of events appended to
// each in turn through the SQL event store and a driver that times every statement and the
// commit (BEGIN IMMEDIATE … COMMIT, as the file driver runs a batch). Per round and schema: WAL
// frames per commit (the log's growth, no checkpoint meanwhile), statement and commit CPU µs per
// event (`process.cpuUsage`: user + system, so a commit's fsync wait is not counted).
// The events are bench:ingest's: the example's OrderCreated, one order.created.v1 with an ordering
// key, one subscription (example-billing) — one delivery each.
// Usage: tsx bench/ingest-commit.ts [before 0010] [fill 50000] [group 44] [commits 100] [rounds 5]
// (`before`: the baseline applies the migrations whose names sort before it.)
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'libsql';
import { systemClock } from '../src/core/clock.ts';
import type { NewDomainEvent } from '../src/core/event-store.ts';
import { createIdGenerator } from '../src/core/ids.ts';
import { defineSubscription } from '../src/core/subscription.ts';
import { readMigrations } from '../src/runtime/migrations.ts';
import { applyMigrations } from '../src/store/migrate.ts';
import type { SqlDriver } from '../src/store/sql-driver.ts';
import { createSqlStores, type SqlStores } from '../src/store/sql-stores.ts';
import { quantile } from './lib/stats.ts';
import { createTimedDriver } from './lib/timed-driver.ts';

const [before = '0010', fillArg = '50000', groupArg = '44', commitsArg = '100', roundsArg = '5'] =
  process.argv.slice(2);
const fill = Number(fillArg);
const group = Number(groupArg);
const commits = Number(commitsArg);
const rounds = Number(roundsArg);

/** CPU µs spent in statements and in BEGIN/COMMIT since the last reset, and per statement kind. */
interface Spent {
  statements: number;
  commit: number;
  byKind: Map<string, number>;
}

/** A statement's kind: the table it writes (or reads), for the split of the statements' time. */
function kindOf(sql: string): string {
  const write = /^INSERT (?:OR IGNORE )?INTO (\w+)/.exec(sql);
  if (write) return `insert ${write[1]}`;
  return sql.slice(0, 24);
}

/** The file driver's way, timed: BEGIN and COMMIT as the commit's part, the rest by kind. */
function timedDriver(path: string, spent: Spent): SqlDriver & { close(): Promise<void> } {
  return createTimedDriver(path, (sql, us) => {
    const part = sql === 'BEGIN IMMEDIATE' || sql === 'COMMIT' ? 'commit' : 'statements';
    spent[part] += us;
    const kind = part === 'commit' ? sql : kindOf(sql);
    spent.byKind.set(kind, (spent.byKind.get(kind) ?? 0) + us);
  });
}

let serial = 0;
/** The ids ingest gives integration events (UUIDv7). */
const newId = createIdGenerator(systemClock);

/** bench:ingest's event (post-event.lua) as ingest hands it to the store. */
function event(receivedAt: number): NewDomainEvent {
  const n = serial++;
  const order = { id: `o-${n}`, customerId: `c-${n % 1000}`, total: 123.45, currency: 'EUR' };
  return {
    // As post-event.lua numbers them: <run nonce>-<wrk thread>-<counter>.
    id: `bench-${n % 2}-${n}`,
    type: 'OrderCreated',
    source: 'checkout-service',
    data: JSON.stringify({ order }),
    occurredAt: '2026-11-30T10:00:00.000Z',
    metadata: JSON.stringify({
      correlationId: 'corr-7f3c2a9e-5d1b-4c8e-9a6f-2b7d4e1c8a30',
      producer: 'checkout-service',
      region: 'eu-central-1',
      tenantId: 'tenant-4711',
    }),
    traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    receivedAt,
    integrationEvents: [
      {
        id: newId(),
        type: 'order.created.v1',
        source: '/producers/checkout-service',
        time: '2026-11-30T10:00:00.000Z',
        data: JSON.stringify({
          orderId: order.id,
          customerId: order.customerId,
          total: 123.45,
          currency: 'EUR',
        }),
        orderingKey: order.id,
      },
    ],
  };
}

interface Store {
  readonly name: string;
  readonly path: string;
  readonly spent: Spent;
  readonly stores: SqlStores;
  readonly driver: SqlDriver & { close(): Promise<void> };
  frames: number[];
  statements: number[];
  commit: number[];
  /** Statement kind → µs per event of each round. */
  byKind: Map<string, number[]>;
}

async function openStore(dir: string, name: string, migrationsBefore: string | null): Promise<Store> {
  const path = join(dir, `${name}.db`);
  const spent: Spent = { statements: 0, commit: 0, byKind: new Map() };
  const driver = timedDriver(path, spent);
  const migrations = readMigrations().filter((m) => migrationsBefore === null || m.name < migrationsBefore);
  await applyMigrations(driver, migrations);
  const stores = createSqlStores({ driver });
  const billing = defineSubscription('order.created.v1', 'http://127.0.0.1:9/webhooks/order.created.v1', {
    id: 'example-billing',
  });
  await stores.subscriptions.syncCodeSubscriptions([billing], Date.now());
  return { name, path, spent, stores, driver, frames: [], statements: [], commit: [], byKind: new Map() };
}

async function append(store: Store, count: number, at: number) {
  const r = await store.stores.events.appendEvents(Array.from({ length: count }, () => event(at)));
  if (!r.ok) throw new Error('append refused');
}

/** `PRAGMA wal_checkpoint(TRUNCATE)` on a connection of its own: the log starts empty. */
function truncateLog(path: string) {
  const db = new Database(path);
  db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  db.close();
}

function walBytes(path: string): number {
  try {
    return statSync(`${path}-wal`).size;
  } catch {
    return 0;
  }
}

async function measure(store: Store, pageSize: number) {
  truncateLog(store.path);
  // One commit first, so the log's header and the statements' preparation are not counted.
  await append(store, group, Date.now());
  const start = walBytes(store.path);
  store.spent.statements = 0;
  store.spent.commit = 0;
  store.spent.byKind.clear();
  for (let c = 0; c < commits; c++) await append(store, group, Date.now());
  const frames = (walBytes(store.path) - start) / (pageSize + 24) / commits;
  store.frames.push(frames);
  store.statements.push(store.spent.statements / (commits * group));
  store.commit.push(store.spent.commit / (commits * group));
  for (const [kind, us] of store.spent.byKind) {
    const rounds = store.byKind.get(kind) ?? [];
    rounds.push(us / (commits * group));
    store.byKind.set(kind, rounds);
  }
}

const range = (xs: readonly number[], digits: number) =>
  `${quantile(xs, 0.5).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'hookmesh-commit-'));
  try {
    const base = await openStore(dir, `before-${before}`, before);
    const branch = await openStore(dir, 'this-tree', null);
    for (const store of [base, branch]) {
      for (let n = 0; n < fill; n += 500)
        await append(store, Math.min(500, fill - n), Date.now() - 86_400_000);
      // Autocheckpoints off: the log's growth is what each commit wrote.
      await store.driver.query('PRAGMA wal_autocheckpoint = 0');
    }
    const [page] = await branch.driver.query('PRAGMA page_size');
    const pageSize = Number(page?.page_size);
    console.log(
      `${fill} events filled; ${rounds} rounds of ${commits} commits of ${group} events (1 delivery each), page ${pageSize} B`,
    );
    for (let r = 0; r < rounds; r++) {
      // Alternated, so the machine's noise falls on both.
      const order = r % 2 === 0 ? [base, branch] : [branch, base];
      for (const store of order) await measure(store, pageSize);
    }
    console.log(
      'schema | WAL frames per commit | statements µs/event | BEGIN+COMMIT µs/event | sum µs/event',
    );
    for (const store of [base, branch]) {
      const sums = store.statements.map((s, i) => s + store.commit[i]!);
      console.log(
        `${store.name} | ${range(store.frames, 1)} | ${range(store.statements, 1)} | ${range(store.commit, 1)} | ${range(sums, 1)}`,
      );
    }
    for (const store of [base, branch]) {
      const parts = [...store.byKind].map(([kind, us]) => `${kind} ${quantile(us, 0.5).toFixed(1)}`);
      console.log(`${store.name}, µs per event (median) by statement: ${parts.join(' | ')}`);
    }
    const median = (xs: readonly number[]) => quantile(xs, 0.5);
    const framesCut = 1 - median(branch.frames) / median(base.frames);
    const sumOf = (s: Store) => median(s.statements.map((x, i) => x + s.commit[i]!));
    console.log(
      `this tree vs before ${before} (medians): frames per commit ${(-framesCut * 100).toFixed(1)} %, SQLite µs per event ${(((sumOf(branch) - sumOf(base)) / sumOf(base)) * 100).toFixed(1)} %`,
    );
    await base.driver.close();
    await branch.driver.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
