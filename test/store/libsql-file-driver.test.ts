import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'libsql';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NewDomainEvent } from '../../src/core/event-store.ts';
import { defineSubscription } from '../../src/core/subscription.ts';
import { createLibsqlDriver } from '../../src/store/libsql-driver.ts';
import { openLibsqlFileDriver } from '../../src/store/libsql-file-driver.ts';
import { createLibsqlStores } from '../../src/store/libsql-store.ts';
import { openLibsqlWorkerDriver } from '../../src/store/libsql-worker-driver.ts';
import type { SqlDriver } from '../../src/store/sql-driver.ts';
import { deliveryIdOut } from '../../src/store/sql-ids.ts';
import { createTempDb, type TempDb } from '../support/temp-db.ts';

function event(id: string, receivedAt: number): NewDomainEvent {
  return {
    id,
    type: 'OrderCreated',
    source: 'billing',
    data: '{"order":{"id":"o-1"}}',
    occurredAt: null,
    metadata: null,
    traceparent: null,
    receivedAt,
    integrationEvents: [
      {
        id: `${id}/ie0`,
        type: 'order.created.v1',
        source: '/producers/billing',
        time: '2026-01-15T00:00:00Z',
        data: '{}',
      },
    ],
  };
}

// openLibsql gives a local file's driver a connection of its own with cached statements, on the
// calling thread or in a worker thread; either must answer exactly as the client's driver does.
describe.each(['main', 'worker'] as const)(
  'libSQL file driver, statements on the %s thread',
  (sqliteThread) => {
    let db: TempDb;

    beforeEach(async () => {
      db = await createTempDb({ sqliteThread });
    });

    afterEach(async () => {
      await db.dispose();
    });

    it('answers queries and batches as the client does, statement after statement', async () => {
      const viaClient = createLibsqlDriver(db.client);
      const now = 1;
      const insert = {
        sql: `INSERT INTO subscriptions (id, type, url, retries, origin, created_at, updated_at)
            VALUES (?, ?, ?, ?, 'api', ?, ?)`,
        args: ['s1', 'order.created.v1', 'https://h.example.com/', 3, now, now],
      };
      const update = { sql: 'UPDATE subscriptions SET retries = retries + 1 WHERE id = ?', args: ['s1'] };

      // The same statements twice: the second time they come from the cache.
      for (const round of [1, 2]) {
        const args = [...insert.args];
        args[0] = `s${round}`;
        expect(await db.driver.batch([{ ...insert, args }, update, update])).toEqual([1, 1, 1]);
      }
      const select = 'SELECT id, retries, retry_delay FROM subscriptions ORDER BY id';
      expect(await db.driver.query(select)).toEqual(await viaClient.query(select));
      expect(await db.driver.query(select)).toEqual([
        { id: 's1', retries: 7, retry_delay: null },
        { id: 's2', retries: 3, retry_delay: null },
      ]);
      // A write through query() changes rows and returns none; RETURNING returns them.
      expect(await db.driver.query('UPDATE subscriptions SET retries = 0 WHERE id = ?', ['s2'])).toEqual([]);
      expect(
        await db.driver.query('UPDATE subscriptions SET retries = 1 WHERE id = ? RETURNING id, retries', [
          's2',
        ]),
      ).toEqual([{ id: 's2', retries: 1 }]);
    });

    it('rolls a failed batch back and keeps working; tells a conflict from other failures', async () => {
      const store = createLibsqlStores(db.client, db.driver).events;
      await store.appendEvents([event('evt-1', 1)]);

      const conflict = await db.driver
        .batch([
          {
            sql: "INSERT INTO domain_events (id, type_ref, source, data, received_at) VALUES ('evt-1', 1, 's', '{}', 1)",
            args: [],
          },
        ])
        .catch((error: unknown) => error);
      expect(db.driver.isConstraintError(conflict)).toBe(true);

      const broken = await db.driver
        .batch([
          { sql: "UPDATE domain_events SET source = 'changed' WHERE id = 'evt-1'", args: [] },
          { sql: 'INSERT INTO no_such_table VALUES (1)', args: [] },
        ])
        .catch((error: unknown) => error);
      expect(String(broken)).toMatch(/no_such_table/);
      expect(db.driver.isConstraintError(broken)).toBe(false);

      expect(await db.driver.query("SELECT source FROM domain_events WHERE id = 'evt-1'")).toEqual([
        { source: 'billing' },
      ]);
      expect(await store.appendEvents([event('evt-2', 2)])).toEqual({ ok: true });
    });

    it('gives deliveries ids that sort by acceptance time', async () => {
      const stores = createLibsqlStores(db.client, db.driver);
      await stores.subscriptions.syncCodeSubscriptions(
        [defineSubscription('order.created.v1', 'https://h.example.com/')],
        1,
      );
      const times = [Date.UTC(2026, 0, 15), Date.UTC(2026, 0, 15, 0, 0, 1), Date.UTC(2027, 5, 1)];
      for (const [i, at] of times.entries()) await stores.events.appendEvents([event(`evt-${i}`, at)]);

      // Stored as their 16 bytes (0008), which sort as their text does.
      const rows = await db.driver.query(
        `SELECT ${deliveryIdOut('d.id')} AS id, typeof(d.id) AS type, length(d.id) AS bytes, d.created_at
         FROM deliveries d ORDER BY d.id`,
      );
      expect(rows.map((r) => r.created_at)).toEqual(times);
      const ids = rows.map((r) => String(r.id));
      expect([...ids].sort()).toEqual(ids);
      for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/);
      expect(rows.map((r) => [r.type, r.bytes])).toEqual(times.map(() => ['blob', 16]));
    });

    it('closes with the client', async () => {
      db.client.close();
      await expect(db.driver.query('SELECT 1')).rejects.toThrow();
    });
  },
);

// The file driver on the main thread and the client's driver read after a batch in its transaction.
describe.each([
  ['the file driver on the main thread', (db: TempDb): SqlDriver => db.driver],
  ["@libsql/client's driver", (db: TempDb): SqlDriver => createLibsqlDriver(db.client)],
] as const)('%s, queryAfter', (_name, driverOf) => {
  let db: TempDb;

  beforeEach(async () => {
    db = await createTempDb({ sqliteThread: 'main' });
  });

  afterEach(async () => {
    await db.dispose();
  });

  it('reads inside the write transaction: the rows as written, or nothing written when a statement fails', async () => {
    const driver = driverOf(db);
    const { queryAfter } = driver;
    if (queryAfter === undefined) throw new Error('this driver reads after a batch');
    const insert = (id: string) => ({
      sql: `INSERT INTO subscriptions (id, type, url, retries, origin, created_at, updated_at)
          VALUES (?, 'order.created.v1', 'https://h.example.com/', 3, 'api', 1, 1)`,
      args: [id],
    });
    const select = 'SELECT id, retries FROM subscriptions WHERE id >= ? ORDER BY id';
    expect(
      await queryAfter.call(
        driver,
        [
          insert('s1'),
          insert('s2'),
          { sql: "UPDATE subscriptions SET retries = 5 WHERE id = 's2'", args: [] },
        ],
        select,
        ['s'],
      ),
    ).toEqual([
      { id: 's1', retries: 3 },
      { id: 's2', retries: 5 },
    ]);

    const failed = await queryAfter
      .call(driver, [insert('s3'), { sql: 'INSERT INTO no_such_table VALUES (1)', args: [] }], select, ['s'])
      .catch((error: unknown) => error);
    expect(String(failed)).toMatch(/no_such_table/);
    const broken = await queryAfter
      .call(driver, [insert('s4')], 'SELECT * FROM no_such_table', [])
      .catch((error: unknown) => error);
    expect(String(broken)).toMatch(/no_such_table/);
    // Neither s3 nor s4: a failed statement or a failed read rolls the whole transaction back.
    expect(await driver.query(select, ['s'])).toEqual([
      { id: 's1', retries: 3 },
      { id: 's2', retries: 5 },
    ]);
  });
});

describe('the worker-thread file driver', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const open = () => {
    const dir = mkdtempSync(join(tmpdir(), 'hookmesh-worker-driver-'));
    dirs.push(dir);
    return {
      path: join(dir, 'x.db'),
      driver: openLibsqlWorkerDriver(join(dir, 'x.db'), { busyTimeoutMs: 5 }),
    };
  };

  it('throws what the native binding throws, code and rawCode included', async () => {
    const { path, driver } = open();
    await driver.query('CREATE TABLE t (id INTEGER PRIMARY KEY)');
    await driver.batch([{ sql: 'INSERT INTO t (id) VALUES (1)', args: [] }]);
    const viaWorker = await driver.query('INSERT INTO t (id) VALUES (1)').catch((e: unknown) => e);
    const inThread = openLibsqlFileDriver(path, { busyTimeoutMs: 5 });
    const direct = await inThread.query('INSERT INTO t (id) VALUES (1)').catch((e: unknown) => e);
    inThread.closeNow();
    expect(viaWorker).toBeInstanceOf(Database.SqliteError);
    expect(viaWorker).toMatchObject({
      name: 'SqliteError',
      code: 'SQLITE_CONSTRAINT_PRIMARYKEY',
      rawCode: 1555,
      message: 'UNIQUE constraint failed: t.id',
    });
    expect(viaWorker).toMatchObject({ ...(direct as object), message: (direct as Error).message });
    expect(driver.isConstraintError(viaWorker)).toBe(true);
    await driver.close();
  });

  it('returns rows as the native binding does: a later column of a name wins, blobs as ArrayBuffers', async () => {
    const { path, driver } = open();
    const sql = "SELECT 1 AS a, 2 AS a, NULL AS b, 1.5 AS c, x'00ff' AS d, 'é' AS e";
    const inThread = openLibsqlFileDriver(path, { busyTimeoutMs: 5 });
    const direct = await inThread.query(sql);
    inThread.closeNow();
    const rows = await driver.query(sql);
    expect(rows).toEqual(direct);
    expect(rows[0]!.d).toBeInstanceOf(ArrayBuffer);
    expect(rows[0]).toMatchObject({ a: 2, b: null, c: 1.5, e: 'é' });
    await driver.close();
  });

  it('runs statements in the order they were called, a batch whole', async () => {
    const { driver } = open();
    await driver.query('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    const insert = (id: number) => ({ sql: 'INSERT INTO t (id, v) VALUES (?, ?)', args: [id, `v${id}`] });
    const count = () => driver.query('SELECT count(*) AS n FROM t');
    // Called in one turn, so they cross in one message: each read sees exactly what came before it.
    const answers = await Promise.all([
      count(),
      driver.batch([insert(1), insert(2)]),
      count(),
      driver.batch([insert(3), insert(1)]).catch((e: unknown) => driver.isConstraintError(e)),
      count(),
    ]);
    expect(answers).toEqual([[{ n: 0 }], [1, 1], [{ n: 2 }], true, [{ n: 2 }]]);
    await driver.exec('DELETE FROM t');
    expect(await count()).toEqual([{ n: 0 }]);
    await driver.close();
  });

  it('fails only the statement whose arguments cannot cross to the worker', async () => {
    const { driver } = open();
    const [bad, good] = await Promise.allSettled([
      driver.query('SELECT ? AS v', [(() => 1) as never]),
      driver.query('SELECT ? AS v', ['ok']),
    ]);
    expect(bad.status).toBe('rejected');
    expect(good).toEqual({ status: 'fulfilled', value: [{ v: 'ok' }] });
    await driver.close();
  });

  it('refuses statements once closed, those called before still answered', async () => {
    const { driver } = open();
    const before = driver.query('SELECT 1 AS one');
    driver.closeNow();
    expect(await before).toEqual([{ one: 1 }]);
    await expect(driver.query('SELECT 1')).rejects.toThrow(/not open/);
    await driver.close();
  });

  it('lets the process exit while idle, and keeps it alive while a statement is pending', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hookmesh-worker-driver-'));
    dirs.push(dir);
    const module = new URL('../../src/store/libsql-worker-driver.ts', import.meta.url).href;
    // Never closed: the worker must not hold the process open once nothing is pending.
    const script = `
      const { openLibsqlWorkerDriver } = await import(${JSON.stringify(module)});
      const driver = openLibsqlWorkerDriver(${JSON.stringify(join(dir, 'x.db'))}, { busyTimeoutMs: 5 });
      console.log(JSON.stringify(await driver.query('SELECT 41 + 1 AS n')));`;
    const started = performance.now();
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(out.trim()).toBe('[{"n":42}]');
    expect(performance.now() - started).toBeLessThan(15_000);
  });
});
