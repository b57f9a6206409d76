import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'libsql';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { openLibsqlFileDriver } from '../../src/store/libsql-file-driver.ts';

/** One batch: `rows` rows of ~2 KiB, each on pages of its own table and index. */
function rowsOf(batch: number, rows: number) {
  return Array.from({ length: rows }, (_, i) => ({
    sql: 'INSERT INTO t (id, v) VALUES (?, ?)',
    args: [batch * rows + i, `${batch}-${i}-`.padEnd(2_000, 'x')],
  }));
}

const walBytes = (path: string) => statSync(`${path}-wal`).size;

describe('the write-ahead log checkpointed from a worker thread (checkpointThread)', () => {
  let dir: string;
  let path: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hookmesh-checkpointer-'));
    path = join(dir, 'db.sqlite');
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('copies committed pages into the database file while the writer keeps writing', async () => {
    const driver = openLibsqlFileDriver(path, {
      busyTimeoutMs: 10,
      checkpointThread: { startAfterCommits: 1 },
    });
    await driver.query('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    const before = statSync(path).size;
    // Fewer pages than SQLite's auto-checkpoint threshold (1000): only the thread copies them.
    for (let batch = 0; batch < 10; batch++) await driver.batch(rowsOf(batch, 20));
    await vi.waitFor(() => expect(statSync(path).size).toBeGreaterThan(before + 100 * 1024), {
      timeout: 10_000,
      interval: 10,
    });
    await driver.close();
  });

  it('keeps the log bounded and the file whole under a stream of commits', async () => {
    const driver = openLibsqlFileDriver(path, {
      busyTimeoutMs: 10,
      checkpointThread: { startAfterCommits: 1 },
    });
    await driver.query('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    let largest = 0;
    // ~4 pages a batch, 12 MiB in all: several times SQLite's threshold (1000 pages, 4 MiB).
    for (let batch = 0; batch < 750; batch++) {
      await driver.batch(rowsOf(batch, 8));
      largest = Math.max(largest, walBytes(path));
    }
    // The writer's own auto-checkpoint still restarts the log: it stays near the threshold.
    expect(largest).toBeLessThan(8 * 1024 * 1024);
    await driver.close();

    const check = new Database(path);
    try {
      expect(check.prepare('PRAGMA integrity_check').get()).toMatchObject({ integrity_check: 'ok' });
      expect(check.prepare('SELECT count(*) AS n FROM t').get()).toMatchObject({ n: 750 * 8 });
    } finally {
      check.close();
    }
  });

  it('starts no thread for a connection that commits little', async () => {
    const driver = openLibsqlFileDriver(path, { busyTimeoutMs: 10, checkpointThread: true });
    await driver.query('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    const before = statSync(path).size;
    for (let batch = 0; batch < 10; batch++) await driver.batch(rowsOf(batch, 20));
    // Closing checkpoints (the file's last connection): first, the pages are still in the log only.
    expect(statSync(path).size).toBe(before);
    await driver.close();
  });

  it('stops with the driver, whatever its thread is doing', async () => {
    const driver = openLibsqlFileDriver(path, {
      busyTimeoutMs: 10,
      checkpointThread: { startAfterCommits: 1 },
    });
    await driver.query('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    // The thread starts here, and is still loading, waiting or checkpointing when told to stop.
    await driver.batch(rowsOf(0, 20));
    // close() resolves only once the thread has ended.
    await driver.close();
    driver.closeNow();
    const reopened = openLibsqlFileDriver(path, { busyTimeoutMs: 10 });
    expect(await reopened.query('SELECT count(*) AS n FROM t')).toEqual([{ n: 20 }]);
    await reopened.close();
  });
});
