import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@libsql/client';
import Database from 'libsql';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/core/errors.ts';
import { openLibsqlFileDriver } from '../../src/store/libsql-file-driver.ts';
import { openLibsqlWorkerDriver } from '../../src/store/libsql-worker-driver.ts';
import { toStoreUnavailable, withStoreUnavailable } from '../../src/store/store-unavailable.ts';

// "Cannot write now" is one typed error on every driver (the API's 503), recognised from what
// each driver really throws; the local file driver waits for another writer's lock on timers, the
// event loop free, for a bounded time.

const dirs: string[] = [];
const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hookmesh-unavailable-'));
  dirs.push(dir);
  const path = join(dir, 'x.db');
  const setup = new Database(path);
  setup.exec('PRAGMA journal_mode = WAL');
  setup.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)');
  setup.close();
  return path;
}

/** Another connection holding SQLite's write lock, as a second process would. */
function holdWriteLock(path: string): { release(): void } {
  const other = new Database(path);
  other.exec('BEGIN IMMEDIATE');
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    other.exec('ROLLBACK');
    other.close();
  };
  closers.push(release);
  return { release };
}

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('toStoreUnavailable', () => {
  it("recognises the native binding's busy and full, and not a constraint or a syntax error", () => {
    const path = tempFile();
    const lock = holdWriteLock(path);
    const db = new Database(path, { timeout: 1 });
    closers.push(() => db.close());
    expect(toStoreUnavailable(caught(() => db.exec('INSERT INTO t (v) VALUES (1)')))?.reason).toBe('busy');
    lock.release();

    // SQLite's own page cap gives a real SQLITE_FULL without filling a disk.
    db.exec('PRAGMA max_page_count = 3');
    const full = caught(() => {
      for (let i = 0; i < 1000; i++) db.prepare('INSERT INTO t (v) VALUES (?)').run(['x'.repeat(500) + i]);
    });
    expect((full as { code: string }).code).toBe('SQLITE_FULL');
    const mapped = toStoreUnavailable(full);
    expect(mapped).toBeInstanceOf(StoreUnavailableError);
    expect(mapped).toMatchObject({ code: 'store', reason: 'full', message: 'database full', cause: full });

    db.exec('PRAGMA max_page_count = 1000');
    db.exec("INSERT INTO t (v) VALUES ('dup')");
    expect(toStoreUnavailable(caught(() => db.exec("INSERT INTO t (v) VALUES ('dup')")))).toBeNull();
    expect(toStoreUnavailable(caught(() => db.exec('INSERT INTO nowhere VALUES (1)')))).toBeNull();
  });

  it("recognises @libsql/client's busy on a file", async () => {
    const path = tempFile();
    holdWriteLock(path);
    const client = createClient({ url: `file:${path}`, timeout: 1 });
    closers.push(() => client.close());
    const error = await client.execute('INSERT INTO t (v) VALUES (1)').then(
      () => null,
      (e: unknown) => e,
    );
    expect(toStoreUnavailable(error)?.reason).toBe('busy');
  });

  it("recognises D1's texts (it reports errors as messages only) and remote libSQL's network codes", () => {
    const d1 = (message: string) => new Error(`D1_ERROR: ${message}`, { cause: new Error(message) });
    expect(toStoreUnavailable(d1('database or disk is full: SQLITE_FULL'))?.reason).toBe('full');
    expect(toStoreUnavailable(d1('Exceeded maximum DB size'))?.reason).toBe('full');
    expect(toStoreUnavailable(d1('D1 DB is overloaded. Too many requests queued.'))?.reason).toBe(
      'overloaded',
    );
    expect(toStoreUnavailable(d1('Network connection lost.'))?.reason).toBe('unreachable');
    expect(toStoreUnavailable(d1('database is locked: SQLITE_BUSY'))?.reason).toBe('busy');
    expect(
      toStoreUnavailable(
        d1('UNIQUE constraint failed: t.id: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_PRIMARYKEY)'),
      ),
    ).toBeNull();
    const remote = (code: string) => Object.assign(new Error('libsql'), { code });
    expect(toStoreUnavailable(remote('SQLITE_READONLY'))?.reason).toBe('read_only');
    expect(toStoreUnavailable(remote('SQLITE_IOERR_WRITE'))?.reason).toBe('io');
    expect(toStoreUnavailable(remote('SERVER_ERROR'))?.reason).toBe('unreachable');
    expect(
      toStoreUnavailable(
        new TypeError('fetch failed', { cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) }),
      )?.reason,
    ).toBe('unreachable');
    expect(toStoreUnavailable(remote('SQLITE_CONSTRAINT'))).toBeNull();
    // The mesh's tables missing (a Worker serving before wrangler applied the migrations); a
    // table the mesh does not own is not that.
    expect(toStoreUnavailable(d1('no such table: domain_events: SQLITE_ERROR'))?.reason).toBe('not_migrated');
    expect(toStoreUnavailable(d1('no such table: subscription_revision'))?.reason).toBe('not_migrated');
    expect(toStoreUnavailable(d1('no such table: my_reports: SQLITE_ERROR'))).toBeNull();
  });
});

// The in-thread driver and the worker-thread one answer alike: same errors, same bounded wait.
const DRIVERS = [
  ['in-thread', openLibsqlFileDriver],
  ['worker-thread', openLibsqlWorkerDriver],
] as const;

describe.each(DRIVERS)('the %s file driver', (_name, openDriver) => {
  describe('withStoreUnavailable', () => {
    it('throws the typed error, reports it for /healthz, and clears it once a write changes rows', async () => {
      const path = tempFile();
      const raw = openDriver(path, { busyTimeoutMs: 1 });
      closers.push(() => raw.closeNow());
      let now = 1_000;
      const driver = withStoreUnavailable(raw, { now: () => now });
      await driver.query('PRAGMA max_page_count = 3');
      const insert = (v: string) => driver.batch([{ sql: 'INSERT INTO t (v) VALUES (?)', args: [v] }]);
      let full: unknown;
      for (let i = 0; full === undefined && i < 1000; i++)
        await insert('x'.repeat(500) + i).catch((e) => (full = e));
      expect(full).toBeInstanceOf(StoreUnavailableError);
      expect(driver.writeFailure?.()).toMatchObject({ reason: 'full' });
      // Reported for a while only: a process nobody writes to any more reads healthy and is tried again.
      now += 9_999;
      expect(driver.writeFailure?.()).toMatchObject({ reason: 'full' });
      now += 1;
      expect(driver.writeFailure?.()).toBeNull();

      await insert('y'.repeat(2_000)).catch(() => undefined);
      expect(driver.writeFailure?.()).toMatchObject({ reason: 'full' });
      // Space comes back: the next write succeeds and clears the report.
      await driver.query('PRAGMA max_page_count = 1000');
      await insert('after');
      expect(driver.writeFailure?.()).toBeNull();
      // A constraint error is the request's fault, not the store's: passed through untouched.
      const duplicate = await insert('after').catch((e: unknown) => e);
      expect(duplicate).not.toBeInstanceOf(StoreUnavailableError);
      expect(driver.isConstraintError(duplicate)).toBe(true);
    });
  });

  describe('the local file driver and a locked database', () => {
    it('retries on timers while another writer holds the lock, and writes once it lets go', async () => {
      const path = tempFile();
      const lock = holdWriteLock(path);
      const waits: number[] = [];
      const driver = openDriver(path, {
        busyTimeoutMs: 1,
        busyWaitMs: 60_000,
        wait: async (ms) => {
          waits.push(ms);
          // The other writer commits while this one backs off.
          if (waits.length === 3) lock.release();
        },
      });
      closers.push(() => driver.closeNow());
      expect(await driver.batch([{ sql: 'INSERT INTO t (v) VALUES (?)', args: ['a'] }])).toEqual([1]);
      expect(waits).toEqual([1, 2, 4]);
      expect(await driver.query('SELECT v FROM t')).toEqual([{ v: 'a' }]);
    });

    it('gives up after its bounded wait with a busy StoreUnavailableError, the event loop free meanwhile', async () => {
      const path = tempFile();
      holdWriteLock(path);
      const driver = withStoreUnavailable(openDriver(path, { busyTimeoutMs: 5, busyWaitMs: 300 }));
      closers.push(() => void driver.close());
      let last = performance.now();
      let longestGap = 0;
      const ticker = setInterval(() => {
        const now = performance.now();
        longestGap = Math.max(longestGap, now - last);
        last = now;
      }, 1);
      // Reads go on meanwhile (WAL readers never wait) and must not extend the writer's wait.
      let reads = 0;
      const reader = setInterval(
        () => void driver.query('SELECT count(*) AS n FROM t').then(() => reads++),
        2,
      );
      const started = performance.now();
      const error = await driver
        .batch([{ sql: 'INSERT INTO t (v) VALUES (?)', args: ['b'] }])
        .catch((e) => e);
      const took = performance.now() - started;
      clearInterval(ticker);
      clearInterval(reader);
      expect(reads).toBeGreaterThan(20);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect(error).toMatchObject({ reason: 'busy' });
      expect(took).toBeGreaterThanOrEqual(290);
      expect(took).toBeLessThan(2_000);
      // SQLite's own busy wait (5 ms) is the longest the process ever stops; not the 10 s it was.
      expect(longestGap).toBeLessThan(100);
    });
  });
});
