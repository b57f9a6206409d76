import { fdatasync, mkdtempSync, readlinkSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'libsql';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type LibsqlFileDriver, openLibsqlFileDriver } from '../../src/store/libsql-file-driver.ts';
import { nodeWalFiles } from '../../src/store/node-wal-files.ts';
import { createWalFlusher, type WalFiles } from '../../src/store/wal-flush.ts';

// The file driver commits at `synchronous = NORMAL` and answers only once an fdatasync of the log,
// started after the commit, has completed: FULL's promise with the sync off the event loop. These
// tests hold each sync (an injected fdatasync that records and waits) and watch what answers when.

interface HeldSync {
  readonly fd: number;
  /** Rows of `t` another connection saw when the sync was asked for: what the sync covers. */
  readonly visible: number;
  release(error?: Error): void;
}

let dir: string;
let file: string;
let driver: LibsqlFileDriver | null = null;
let reader: Database.Database | null = null;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hookmesh-walflush-'));
  file = join(dir, 'flush.db');
});

afterEach(async () => {
  reader?.close();
  reader = null;
  await driver?.close();
  driver = null;
  rmSync(dir, { recursive: true, force: true });
});

/** A driver whose syncs wait for the test; the table `t` made (and synced) before it returns. */
async function heldDriver(): Promise<{ driver: LibsqlFileDriver; syncs: HeldSync[] }> {
  const syncs: HeldSync[] = [];
  const held: WalFiles['fdatasync'] = (fd, done) => {
    const visible =
      reader === null
        ? -1
        : Number((reader.prepare('SELECT count(*) AS n FROM t').get([]) as { n: number }).n);
    syncs.push({ fd, visible, release: (error) => done(error ?? null) });
  };
  const opened = openLibsqlFileDriver(file, {
    busyTimeoutMs: 10,
    walFiles: { ...nodeWalFiles, fdatasync: held },
  });
  driver = opened;
  const creating = opened.query('CREATE TABLE t (n INTEGER)');
  await settle();
  syncs.shift()!.release();
  await creating;
  reader = new Database(file, { readonly: true });
  return { driver: opened, syncs };
}

/** Lets every promise that can settle do so (the syncs are held, so nothing else moves). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
  await new Promise((resolve) => setImmediate(resolve));
}

function watch<T>(promise: Promise<T>): { done: boolean; failed: unknown; promise: Promise<T> } {
  const state = { done: false, failed: undefined as unknown, promise };
  promise.then(
    () => {
      state.done = true;
    },
    (error: unknown) => {
      state.failed = error;
    },
  );
  return state;
}

describe('the libSQL file driver syncing its log', () => {
  it('commits at NORMAL in WAL mode, and syncs the log file itself', async () => {
    const { driver, syncs } = await heldDriver();
    expect(await driver.query('PRAGMA journal_mode')).toEqual([{ journal_mode: 'wal' }]);
    expect(await driver.query('PRAGMA synchronous')).toEqual([{ synchronous: 1 }]);
    const write = driver.batch([{ sql: 'INSERT INTO t VALUES (1)', args: [] }]);
    await settle();
    expect(syncs).toHaveLength(1);
    expect(readlinkSync(`/proc/self/fd/${syncs[0]!.fd}`)).toBe(`${file}-wal`);
    syncs[0]!.release();
    await write;
  });

  it('answers a write only once a sync started after its commit has completed', async () => {
    const { driver, syncs } = await heldDriver();
    const write = watch(driver.batch([{ sql: 'INSERT INTO t VALUES (1)', args: [] }]));
    await settle();
    expect(syncs).toHaveLength(1);
    // The sync was asked for after the commit: another connection already saw the row.
    expect(syncs[0]!.visible).toBe(1);
    expect(write.done).toBe(false);
    syncs[0]!.release();
    await write.promise;
    expect(write.done).toBe(true);
  });

  it('shares one sync between the commits made while another sync ran, never the one in flight', async () => {
    const { driver, syncs } = await heldDriver();
    const first = watch(driver.batch([{ sql: 'INSERT INTO t VALUES (1)', args: [] }]));
    await settle();
    expect(syncs).toHaveLength(1);

    const later = [2, 3, 4].map((n) =>
      watch(
        driver.queryAfter!([{ sql: 'INSERT INTO t VALUES (?)', args: [n] }], 'SELECT count(*) AS n FROM t'),
      ),
    );
    await settle();
    // Committed (the reader sees them) while the first sync runs; none is answered by it.
    expect(syncs).toHaveLength(1);
    syncs[0]!.release();
    await first.promise;
    await settle();
    expect(later.map((w) => w.done)).toEqual([false, false, false]);
    // One more sync for the three, asked for after all three commits.
    expect(syncs).toHaveLength(2);
    expect(syncs[1]!.visible).toBe(4);
    syncs[1]!.release();
    expect(await Promise.all(later.map((w) => w.promise))).toEqual([[{ n: 2 }], [{ n: 3 }], [{ n: 4 }]]);
  });

  it('answers a write that returns rows (RETURNING) only once it is synced, like any write', async () => {
    const { driver, syncs } = await heldDriver();
    const leased = watch(driver.query('INSERT INTO t VALUES (7) RETURNING n'));
    await settle();
    expect(syncs).toHaveLength(1);
    expect(syncs[0]!.visible).toBe(1);
    expect(leased.done).toBe(false);
    syncs[0]!.release();
    expect(await leased.promise).toEqual([{ n: 7 }]);
  });

  it('answers a read that may show an unsynced commit only once that commit is synced', async () => {
    const { driver, syncs } = await heldDriver();
    const write = watch(driver.batch([{ sql: 'INSERT INTO t VALUES (1)', args: [] }]));
    await settle();
    const read = watch(driver.query('SELECT count(*) AS n FROM t'));
    await settle();
    expect(read.done).toBe(false);
    syncs[0]!.release();
    expect(await read.promise).toEqual([{ n: 1 }]);
    await write.promise;
    // Nothing unsynced: a read answers without a sync.
    expect(await driver.query('SELECT count(*) AS n FROM t')).toEqual([{ n: 1 }]);
    expect(syncs).toHaveLength(1);
  });

  it('syncs what was committed before it closes', async () => {
    const { driver: opened, syncs } = await heldDriver();
    const write = watch(opened.batch([{ sql: 'INSERT INTO t VALUES (1)', args: [] }]));
    await settle();
    const closing = watch(opened.close());
    await settle();
    expect(closing.done).toBe(false);
    syncs[0]!.release();
    await closing.promise;
    await write.promise;
    driver = null;
  });

  it('syncs nothing for a failed batch, which is rolled back', async () => {
    const { driver, syncs } = await heldDriver();
    const failed = await driver
      .batch([
        { sql: 'INSERT INTO t VALUES (1)', args: [] },
        { sql: 'INSERT INTO no_such_table VALUES (1)', args: [] },
      ])
      .catch((error: unknown) => error);
    expect(String(failed)).toMatch(/no_such_table/);
    expect(syncs).toHaveLength(0);
    expect(await driver.query('SELECT count(*) AS n FROM t')).toEqual([{ n: 0 }]);
  });

  it('fails the writes a failed sync covered, and every write after it until restarted', async () => {
    const { driver, syncs } = await heldDriver();
    const write = driver
      .batch([{ sql: 'INSERT INTO t VALUES (1)', args: [] }])
      .catch((error: unknown) => error);
    await settle();
    syncs[0]!.release(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    expect(String(await write)).toMatch(/syncing the write-ahead log failed: EIO/);
    // After a failed fdatasync the page cache is no proof of anything: no later sync is trusted.
    const next = await driver
      .batch([{ sql: 'INSERT INTO t VALUES (2)', args: [] }])
      .catch((error: unknown) => error);
    expect(String(next)).toMatch(/syncing the write-ahead log failed: EIO/);
    expect(syncs).toHaveLength(1);
  });

  it('keeps SQLite syncing inside COMMIT when told (`walSync: full`)', async () => {
    const calls: number[] = [];
    driver = openLibsqlFileDriver(file, {
      busyTimeoutMs: 10,
      walSync: 'full',
      walFiles: {
        ...nodeWalFiles,
        fdatasync: (fd, done) => {
          calls.push(fd);
          done(null);
        },
      },
    });
    await driver.query('CREATE TABLE t (n INTEGER)');
    await driver.batch([{ sql: 'INSERT INTO t VALUES (1)', args: [] }]);
    expect(await driver.query('PRAGMA synchronous')).toEqual([{ synchronous: 2 }]);
    expect(calls).toEqual([]);
  });

  it('syncs the real log with the real fdatasync', async () => {
    const synced: string[] = [];
    driver = openLibsqlFileDriver(file, {
      busyTimeoutMs: 10,
      walFiles: {
        ...nodeWalFiles,
        fdatasync: (fd, done) => {
          synced.push(readlinkSync(`/proc/self/fd/${fd}`));
          fdatasync(fd, done);
        },
      },
    });
    await driver.query('CREATE TABLE t (n INTEGER)');
    await Promise.all([1, 2, 3].map((n) => driver!.batch([{ sql: 'INSERT INTO t VALUES (?)', args: [n] }])));
    expect(await driver.query('SELECT count(*) AS n FROM t')).toEqual([{ n: 3 }]);
    expect(synced.length).toBeGreaterThanOrEqual(2);
    expect(new Set(synced)).toEqual(new Set([`${file}-wal`]));
  });
});

/** A flusher on the real files whose syncs complete at once, recording the inode each synced. */
function recordingFlusher(wal: string) {
  const synced: { fd: number; ino: number }[] = [];
  const flusher = createWalFlusher(wal, {
    ...nodeWalFiles,
    fdatasync: (fd, done) => {
      synced.push({ fd, ino: statSync(readlinkSync(`/proc/self/fd/${fd}`)).ino });
      done(null);
    },
  });
  return { flusher, synced };
}

describe('createWalFlusher', () => {
  it('fails a sync when the log is missing while its connection is open', async () => {
    const wal = join(dir, 'x.db-wal');
    const { flusher, synced } = recordingFlusher(wal);
    // No log while the connection is open is a wrong path, not a log SQLite removed.
    await expect(flusher.durable(flusher.committed())).rejects.toThrow(/no write-ahead log at/);
    expect(synced).toEqual([]);
  });

  it('reopens the log when the file at its path is another one', async () => {
    const wal = join(dir, 'x.db-wal');
    const { flusher, synced } = recordingFlusher(wal);
    writeFileSync(wal, 'one');
    const firstIno = statSync(wal).ino;
    await flusher.durable(flusher.committed());
    await flusher.durable(flusher.committed());
    expect(synced.map((s) => s.ino)).toEqual([firstIno, firstIno]);

    unlinkSync(wal);
    writeFileSync(join(dir, 'keep'), 'so the inode is not reused at once');
    writeFileSync(wal, 'two');
    const secondIno = statSync(wal).ino;
    expect(secondIno).not.toBe(firstIno);
    await flusher.durable(flusher.committed());
    expect(synced.at(-1)!.ino).toBe(secondIno);
    expect(flusher.pending).toBe(false);

    // Closed, the log gone: the connection that closed last checkpointed it into the database.
    const seq = flusher.committed();
    flusher.close();
    unlinkSync(wal);
    await flusher.durable(seq);
    expect(synced).toHaveLength(3);
  });

  it('resolves at once what a completed sync covered', async () => {
    let calls = 0;
    const wal = join(dir, 'y.db-wal');
    writeFileSync(wal, '');
    const flusher = createWalFlusher(wal, {
      ...nodeWalFiles,
      fdatasync: (_fd, done) => {
        calls++;
        done(null);
      },
    });
    const a = flusher.committed();
    const b = flusher.committed();
    await flusher.durable(b);
    await flusher.durable(a);
    await flusher.settled();
    expect(calls).toBe(1);
    flusher.close();
  });
});
