import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@libsql/client';
import Database from 'libsql';
import { afterEach, describe, expect, it } from 'vitest';
import { openLibsqlWorkerDriver } from '../../src/store/libsql-worker-driver.ts';

// Why bench:scale once read "database disk image is malformed" after a mesh on the file stopped
// (it was blamed on the worker thread and the order its connection and the client's close in).
//
// 1. Not two SQLite libraries in one process: `@libsql/client` and the worker thread load the same
//    native module, so the connections of the main thread and of the worker share SQLite's
//    in-process lock table and `-shm` mapping, and closing one never checkpoints or unlinks the
//    WAL under the other.
// 2. The cause: the bench's own process copied the database file with `copyFileSync` while it still
//    held a libSQL connection on it (libsql-js closes a connection lazily: `close()` only drops the
//    handle; the SQLite connection lives until its last prepared statement is garbage-collected).
//    Closing the copy's file descriptor drops every POSIX lock the process holds on that file.
//    The next process to close the database then believes it is the last, checkpoints and unlinks
//    `-wal` and `-shm` — while the bench process still maps the old `-shm`, which every connection
//    it opens later on that file shares: they read a stale WAL index. The file itself is sound.
//    The mesh is exposed only through how it closes: a complete close (the old order, the worker's
//    connection really closed as its thread ends) unlinks the files; the current order lets the
//    process exit before the client's connection closes, so nothing is unlinked and the bug stays
//    hidden — it is not what fixed the bench.

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempFile(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'hookmesh-lock-loss-'));
  dirs.push(dir);
  return join(dir, name);
}

const LIBSQL = createRequire(import.meta.url).resolve('libsql');

/** Runs `code` in a new Node process with `Database` (libsql) and `file` defined; returns its stdout. */
function inOtherProcess(file: string, code: string): string {
  const script = `const Database = require(${JSON.stringify(LIBSQL)}); const file = ${JSON.stringify(file)};\n${code}`;
  return execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' });
}

/** Writes `rows` rows from another process and closes its connection (only `exec`: a real close). */
function writeFromOtherProcess(file: string, rows: number): void {
  inOtherProcess(
    file,
    `const db = new Database(file, { timeout: 5000 });
     db.exec('PRAGMA journal_mode = WAL');
     for (let i = 0; i < ${rows}; i++) db.exec('INSERT INTO t VALUES (randomblob(3000))');
     db.close();`,
  );
}

/** Count and quick_check as a process that never had the file open sees them. */
function readFromFreshProcess(file: string): { n: number; check: string } {
  return JSON.parse(
    inOtherProcess(
      file,
      `const db = new Database(file, { readonly: true });
       const n = Number(db.prepare('SELECT count(*) AS n FROM t').get().n);
       const check = db.prepare('PRAGMA quick_check').get().quick_check;
       process.stdout.write(JSON.stringify({ n, check }));`,
    ),
  ) as { n: number; check: string };
}

function inode(path: string): number | null {
  return existsSync(path) ? statSync(path).ino : null;
}

describe('libSQL file: connections of the main thread and a worker thread in one process', () => {
  it.runIf(process.platform === 'linux')('share one native SQLite library', async () => {
    const file = tempFile('one-library.db');
    const client = createClient({ url: `file:${file}` });
    await client.execute('PRAGMA journal_mode = WAL');
    const driver = openLibsqlWorkerDriver(file, { busyTimeoutMs: 10 });
    try {
      await driver.query('SELECT 1');
      const natives = new Set(
        readFileSync('/proc/self/maps', 'utf8')
          .split('\n')
          .map((line) => line.split(/\s+/).slice(5).join(' '))
          .filter((path) => /[\\/]@?libsql[\\/].*\.node$/.test(path)),
      );
      expect([...natives]).toHaveLength(1);
    } finally {
      await driver.close();
      client.close();
    }
  });

  it('closing the main thread one while the worker thread one writes neither checkpoints nor unlinks the WAL', async () => {
    // Control: alone, a connection that ran only `exec` really closes, checkpointing and unlinking.
    const alone = tempFile('alone.db');
    const control = new Database(alone);
    control.exec('PRAGMA journal_mode = WAL; CREATE TABLE t (pad BLOB); INSERT INTO t VALUES (zeroblob(10))');
    expect(existsSync(`${alone}-wal`)).toBe(true);
    control.close();
    expect(existsSync(`${alone}-wal`)).toBe(false);

    const file = tempFile('two-threads.db');
    const main = new Database(file);
    main.exec('PRAGMA journal_mode = WAL; CREATE TABLE t (pad BLOB)');
    const worker = openLibsqlWorkerDriver(file, { busyTimeoutMs: 10 });
    const insert = () => worker.batch([{ sql: 'INSERT INTO t VALUES (randomblob(3000))', args: [] }]);
    await insert();
    const wal = inode(`${file}-wal`);
    const shm = inode(`${file}-shm`);
    expect(wal).not.toBeNull();
    expect(shm).not.toBeNull();

    const writes = Array.from({ length: 200 }, insert);
    main.close();
    expect(inode(`${file}-wal`)).toBe(wal);
    expect(inode(`${file}-shm`)).toBe(shm);
    await Promise.all(writes);
    expect(inode(`${file}-wal`)).toBe(wal);

    // The worker's thread ends with the close: its connection (the last) really closes.
    await worker.close();
    expect(existsSync(`${file}-wal`)).toBe(false);
    expect(readFromFreshProcess(file)).toEqual({ n: 201, check: 'ok' });
  });
});

describe('libSQL file: a process that copies the database file with fs while it holds a connection', () => {
  const run = (copyWhileOpen: boolean) => {
    const file = tempFile('held.db');
    const setup = new Database(file);
    setup.exec(
      'PRAGMA journal_mode = WAL; CREATE TABLE t (pad BLOB); INSERT INTO t VALUES (randomblob(3000))',
    );
    setup.close();

    // This process holds a connection (a lingering one, in the bench: fillStore's), having read.
    const held = new Database(file, { readonly: true });
    expect(Number((held.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n)).toBe(1);
    // bench:scale's `copyFileSync(file, cached)`: closing the copy's descriptor drops this
    // process's POSIX locks on the file, though SQLite still counts them as held.
    if (copyWhileOpen) copyFileSync(file, `${file}.copy`);

    // The api mesh: writes, stops, closes.
    writeFromOtherProcess(file, 200);
    const unlinked = !existsSync(`${file}-wal`) && !existsSync(`${file}-shm`);
    // The dispatcher: writes to a new WAL, under a new -shm when the old one was unlinked.
    writeFromOtherProcess(file, 300);

    // bench:scale's openCount: a new connection in this process, sharing the held one's -shm.
    let seen: number | Error;
    try {
      const reader = new Database(file, { readonly: true });
      seen = Number((reader.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n);
      reader.close();
    } catch (error) {
      seen = error as Error;
    }
    held.close();
    return { unlinked, seen, fresh: readFromFreshProcess(file) };
  };

  it('keeps its locks without the copy: the others never unlink -wal and -shm under it', () => {
    const { unlinked, seen, fresh } = run(false);
    expect(unlinked).toBe(false);
    expect(seen).toBe(501);
    expect(fresh).toEqual({ n: 501, check: 'ok' });
  });

  it('loses them with the copy: another process’s close unlinks -wal and -shm, this one reads a stale WAL index', () => {
    const { unlinked, seen, fresh } = run(true);
    // The other process closed as if it were the last connection: checkpoint, unlink.
    expect(unlinked).toBe(true);
    // This process's next connection shares the held one's unlinked -shm: what bench:scale saw.
    expect(seen).toBeInstanceOf(Error);
    expect(String(seen)).toMatch(/database disk image is malformed/);
    // The file is sound: only the process that lost its locks misreads it.
    expect(fresh).toEqual({ n: 501, check: 'ok' });
  });
});
