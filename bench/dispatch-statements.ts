// What each statement of a dispatcher cycle costs, split into a part per cycle and a part per row:
// a real libSQL file (WAL, synchronous=FULL), a filled outbox, and `recordAndLease` driven at
// several cycle sizes through a driver that times every statement (and the commit) it runs.
// Times are CPU (user + system, `process.cpuUsage`), so a commit's fsync wait is not counted.
// Usage: tsx bench/dispatch-statements.ts [events 20000] [sizes 8,16,32,64,128] [cycles 40]
// (HELD [40]: deliveries leased to another owner first and never recorded, as attempts still out.)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AttemptRecord, LeasedDelivery } from '../src/core/dispatch-queue.ts';
import type { NewDomainEvent } from '../src/core/event-store.ts';
import { defineSubscription } from '../src/core/subscription.ts';
import { readMigrations } from '../src/runtime/migrations.ts';
import { createLibsqlStores, openLibsql } from '../src/store/libsql-store.ts';
import { applyMigrations } from '../src/store/migrate.ts';
import { createSqlDispatchQueue } from '../src/store/sql-dispatch-queue.ts';
import { createTimedDriver } from './lib/timed-driver.ts';

const [eventsArg = '20000', sizesArg = '8,16,32,64,128', cyclesArg = '40'] = process.argv.slice(2);
const events = Number(eventsArg);
const sizes = sizesArg.split(',').map(Number);
const cycles = Number(cyclesArg);

/** Statement kind (its first words) → total µs and calls, for the sizes being measured. */
const spent = new Map<string, { us: number; calls: number }>();
const note = (key: string, us: number) => {
  const s = spent.get(key) ?? { us: 0, calls: 0 };
  s.us += us;
  s.calls++;
  spent.set(key, s);
};
const kindOf = (sql: string): string => {
  if (sql.includes('INSERT OR IGNORE INTO attempts')) return 'insert attempts';
  if (sql.includes('UPDATE subscriptions SET consecutive_failures = 0')) return 'reset failures';
  if (sql.includes('UPDATE subscriptions')) return 'count failures';
  if (sql.includes('UPDATE deliveries SET status = r.next')) return 'apply outcomes';
  if (sql.includes("UPDATE deliveries SET status = 'in_flight'")) return 'lease';
  if (sql.startsWith('SELECT')) return 'read-back';
  return sql.slice(0, 30);
};

function event(n: number): NewDomainEvent {
  return {
    id: `evt-${n}`,
    type: 'OrderPaid',
    source: 'bench',
    data: JSON.stringify({ orderId: `o-${n}`, amount: 123.45 }),
    occurredAt: null,
    metadata: null,
    traceparent: null,
    receivedAt: Date.now(),
    integrationEvents: [
      {
        id: `evt-${n}/ie0`,
        type: 'order.paid.v1',
        source: '/producers/bench',
        time: '2026-11-30T10:00:00.000Z',
        data: JSON.stringify({ orderId: `o-${String(n).padStart(8, '0')}`, amount: 123.45 }),
      },
    ],
  };
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'hookmesh-stmts-'));
  const path = join(dir, 'hookmesh.db');
  try {
    const { client, driver } = await openLibsql({ url: `file:${path}` });
    await applyMigrations(driver, readMigrations());
    const stores = createLibsqlStores(client, driver);
    await stores.subscriptions.syncCodeSubscriptions(
      [
        defineSubscription('order.paid.v1', 'http://127.0.0.1:9/hook', {
          id: 'sub-bench',
          maxConcurrency: 1000,
        }),
      ],
      Date.now(),
    );
    for (let n = 0; n < events; n += 500) {
      const r = await stores.events.appendEvents(
        Array.from({ length: Math.min(500, events - n) }, (_, i) => event(n + i)),
      );
      if (!r.ok) throw new Error('append refused');
    }
    client.close();

    const queue = createSqlDispatchQueue({
      driver: createTimedDriver(path, (sql, us) => note(kindOf(sql), us)),
    });
    const owner = 'bench-owner';
    const toRecord = (d: LeasedDelivery, at: number): AttemptRecord => ({
      deliveryId: d.id,
      owner,
      number: d.attempts + 1,
      at,
      status: 200,
      durationMs: 1,
      error: null,
      responseExcerpt: '{}',
      next: 'delivered',
      nextAttemptAt: at,
      retried: d.retried,
    });
    console.log(`${events} deliveries due; µs per cycle (per row) by statement, ${cycles} cycles each`);
    // Attempts still out, as in a dispatcher: leased to another owner here and never recorded.
    const held = Number(process.env.HELD ?? 40);
    if (held > 0)
      await queue.recordAndLease!([], { owner: 'other', now: Date.now(), leaseMs: 600_000, limit: held });
    for (const size of sizes) {
      let leased = await queue.recordAndLease!([], { owner, now: Date.now(), leaseMs: 30_000, limit: size });
      spent.clear();
      const t = process.cpuUsage();
      for (let c = 0; c < cycles; c++) {
        const at = Date.now();
        leased = await queue.recordAndLease!(
          leased.map((d) => toRecord(d, at)),
          { owner, now: at, leaseMs: 30_000, limit: size },
        );
        if (leased.length < size) throw new Error(`ran out of due deliveries at size ${size}`);
      }
      const used = process.cpuUsage(t);
      const wall = (used.user + used.system) / cycles;
      const parts = [...spent].map(
        ([k, s]) => `${k} ${(s.us / cycles).toFixed(0)} (${(s.us / cycles / size).toFixed(1)})`,
      );
      console.log(
        `size ${size}: cycle ${wall.toFixed(0)} µs (${(wall / size).toFixed(1)}/row) | ${parts.join(' | ')}`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
