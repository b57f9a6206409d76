import { statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { afterEach, describe, expect, it } from 'vitest';
import type { NewDomainEvent } from '../../src/core/event-store.ts';
import { runRetentionPass } from '../../src/core/retention.ts';
import { createLibsqlStores, openLibsql } from '../../src/store/libsql-store.ts';
import type { SqlDriver } from '../../src/store/sql-driver.ts';
import { createTempDb, type TempDb } from '../support/temp-db.ts';
import { createTestMesh, deliveredRecords, orderCreated, type TestMesh } from '../support/test-mesh.ts';

const DAY = 86_400_000;

let mesh: TestMesh | undefined;
let db: TempDb | undefined;
afterEach(async () => {
  await mesh?.dispose();
  await db?.dispose();
  mesh = undefined;
  db = undefined;
});

async function pragma(driver: SqlDriver, name: string): Promise<number> {
  const [row] = await driver.query(`PRAGMA ${name}`);
  return Number(Object.values(row ?? {})[0]);
}

/** An event no subscription matches, with a payload of about `bytes`. */
function bulky(id: string, receivedAt: number, bytes: number): NewDomainEvent {
  const data = JSON.stringify({ id, pad: 'x'.repeat(bytes) });
  return {
    id,
    type: 'Bulk',
    source: 'bench',
    data,
    occurredAt: null,
    metadata: null,
    traceparent: null,
    receivedAt,
    integrationEvents: [
      { id: `${id}/ie0`, type: 'bulk.v1', source: '/bench', time: '2026-01-15T00:00:00Z', data },
    ],
  };
}

describe('retention through the mesh', () => {
  it('forgets a delivered event past the window: its id is then accepted as a new event', async () => {
    mesh = await createTestMesh();
    expect((await mesh.post(orderCreated('old'))).status).toBe(202);
    const now = mesh.clock.now();
    const leased = await mesh.dispatch.leaseDue({ owner: 'o', now, leaseMs: 1000, limit: 100 });
    await mesh.dispatch.recordAttempts(deliveredRecords(leased, 'o', now));
    const retention = createLibsqlStores(mesh.db.client, mesh.db.driver).retention;
    // Within the window the id is a replay; past it, the event is gone.
    expect((await mesh.post(orderCreated('old'))).status).toBe(200);
    expect(await runRetentionPass(retention, { before: now - 7 * DAY })).toMatchObject({ events: 0 });
    mesh.clock.advance(8 * DAY);
    expect(await runRetentionPass(retention, { before: mesh.clock.now() - 7 * DAY })).toMatchObject({
      events: 1,
    });
    expect((await mesh.get('/v1/events/old')).status).toBe(404);
    expect((await mesh.post(orderCreated('old'))).status).toBe(202);
  });
});

describe('a batch whose event is replayed between its read and its write', () => {
  it('keeps that event whole and purges the rest of the batch', async () => {
    mesh = await createTestMesh();
    for (const id of ['a', 'replayed', 'b']) expect((await mesh.post(orderCreated(id))).status).toBe(202);
    const now = mesh.clock.now();
    const leased = await mesh.dispatch.leaseDue({ owner: 'o', now, leaseMs: 1000, limit: 100 });
    await mesh.dispatch.recordAttempts(deliveredRecords(leased, 'o', now));
    const { driver } = mesh.db;
    const writes: number[] = [];
    // The batch's read has chosen all three; a replay sets one delivery of `replayed` pending
    // again before the write takes the lock.
    const racing: SqlDriver = {
      ...driver,
      async batch(statements) {
        if (writes.length === 0) {
          await driver.query(
            `UPDATE deliveries SET status = 'pending' WHERE integration_event_ref IN (SELECT ie.ref
               FROM integration_events ie JOIN domain_events de ON de.ref = ie.domain_event_ref
               WHERE de.id = 'replayed')`,
          );
        }
        writes.push(statements.length);
        return driver.batch(statements);
      },
    };
    const retention = createLibsqlStores(mesh.db.client, racing).retention;
    mesh.clock.advance(8 * DAY);

    const removed = await runRetentionPass(retention, { before: mesh.clock.now() - 7 * DAY });

    expect(removed).toMatchObject({ events: 2, done: true });
    // The keyed write (6 statements) was refused whole, then the batch written checking each
    // event again (5); then the lookup tables' prune, one statement a table.
    expect(writes).toEqual([6, 5, 1, 1, 1]);
    const left = await driver.query('SELECT id FROM domain_events ORDER BY id');
    expect(left.map((r) => r.id)).toEqual(['replayed']);
    const [row] = await driver.query(
      `SELECT count(*) AS n FROM deliveries d JOIN integration_events ie ON ie.ref = d.integration_event_ref
         JOIN domain_events de ON de.ref = ie.domain_event_ref WHERE de.id = 'replayed'`,
    );
    expect(Number(row!.n)).toBeGreaterThan(0);
  });
});

describe('space comes back (libSQL file)', () => {
  it('creates new files with incremental auto-vacuum and a bounded log', async () => {
    db = await createTempDb();
    expect(await pragma(db.driver, 'auto_vacuum')).toBe(2);
    expect(await pragma(db.driver, 'journal_size_limit')).toBe(64 * 1024 * 1024);
  });

  it('converts a small existing file that was made without auto-vacuum, at open', async () => {
    db = await createTempDb();
    const path = join(db.dir, 'old.db');
    const old = new Database(path);
    old.exec('PRAGMA journal_mode = WAL');
    old.exec('CREATE TABLE t (x)');
    old.exec("INSERT INTO t VALUES ('kept')");
    expect(old.prepare('PRAGMA auto_vacuum').all()).toEqual([{ auto_vacuum: 0 }]);
    old.close();
    const reopened = await openLibsql({ url: `file:${path}` });
    try {
      expect(await pragma(reopened.driver, 'auto_vacuum')).toBe(2);
      expect(await reopened.driver.query('SELECT x FROM t')).toEqual([{ x: 'kept' }]);
    } finally {
      reopened.client.close();
    }
  });

  it('fill, purge, reclaim: the page count and the file shrink, the freelist empties', async () => {
    db = await createTempDb();
    const stores = createLibsqlStores(db.client, db.driver);
    const t0 = Date.UTC(2026, 0, 1);
    for (let batch = 0; batch < 10; batch++) {
      await stores.events.appendEvents(
        Array.from({ length: 200 }, (_, i) => bulky(`e-${batch}-${i}`, t0 + batch, 1500)),
      );
    }
    await db.driver.query('PRAGMA wal_checkpoint(TRUNCATE)');
    const before = {
      pages: await pragma(db.driver, 'page_count'),
      bytes: statSync(join(db.dir, 'hookmesh.db')).size,
    };

    const removed = await runRetentionPass(stores.retention, { before: t0 + DAY });

    expect(removed).toMatchObject({ events: 2000, integrationEvents: 2000, done: true });
    expect(removed.pagesFreed).toBeGreaterThan(before.pages / 2);
    const after = {
      pages: await pragma(db.driver, 'page_count'),
      bytes: statSync(join(db.dir, 'hookmesh.db')).size,
    };
    expect(await pragma(db.driver, 'freelist_count')).toBe(0);
    expect(after.pages).toBeLessThan(before.pages / 4);
    expect(after.bytes).toBeLessThan(before.bytes / 4);
  });
});

describe('reclaiming beside another writer (libSQL file)', () => {
  it('waits out another connection’s write lock instead of failing the pass', async () => {
    db = await createTempDb();
    const stores = createLibsqlStores(db.client, db.driver);
    const t0 = Date.UTC(2026, 0, 1);
    await stores.events.appendEvents(Array.from({ length: 200 }, (_, i) => bulky(`e-${i}`, t0, 1500)));
    expect(await stores.retention.purge({ before: t0 + DAY, limit: 1_000 })).toMatchObject({ events: 200 });
    expect(await pragma(db.driver, 'freelist_count')).toBeGreaterThan(0);

    // Another process's commit in progress: the first vacuum round meets its lock.
    const other = new Database(join(db.dir, 'hookmesh.db'));
    other.exec('BEGIN IMMEDIATE');
    const reclaiming = stores.retention.reclaim();
    // The round runs on the microtasks after the freelist read; the lock is let go only after.
    await new Promise((resolve) => setImmediate(resolve));
    other.exec('COMMIT');
    other.close();

    expect((await reclaiming).pagesFreed).toBeGreaterThan(0);
    expect(await pragma(db.driver, 'freelist_count')).toBe(0);
  });
});
