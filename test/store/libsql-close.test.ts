import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'libsql';
import { afterEach, describe, expect, it } from 'vitest';
import { openLibsql } from '../../src/store/libsql-store.ts';

// Closing the database while the driver still runs what was queued (a mesh stopping under load):
// every write that answered is in the file, and the file is sound. (bench:scale once reported a
// malformed file after such a close; the fault was the bench's own — it copied the file with
// `copyFileSync` while holding a connection, dropping its POSIX locks — see
// libsql-lock-loss.test.ts. The file was sound, which is what this test holds.)

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe.each(['worker', 'main'] as const)('closing a libSQL file database (%s thread)', (thread) => {
  it('keeps every write that was queued, and a sound file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hookmesh-close-'));
    dirs.push(dir);
    const file = join(dir, 'close.db');
    for (let round = 0; round < 5; round++) {
      const { client, driver } = await openLibsql({ url: `file:${file}`, sqliteThread: thread });
      await driver.query('CREATE TABLE IF NOT EXISTS t (round INTEGER, n INTEGER, pad TEXT)');
      const writes = Array.from({ length: 200 }, (_, n) =>
        driver.batch([{ sql: 'INSERT INTO t VALUES (?, ?, randomblob(2000))', args: [round, n] }]),
      );
      // What a stopping mesh does: close at once, with the writes still queued.
      client.close();
      await Promise.allSettled(writes);
      await driver.close();
      const db = new Database(file, { readonly: true });
      try {
        expect(db.prepare('PRAGMA quick_check').all()).toEqual([{ quick_check: 'ok' }]);
        const done = (await Promise.allSettled(writes)).filter((w) => w.status === 'fulfilled').length;
        const stored = db.prepare('SELECT count(*) AS n FROM t WHERE round = ?').get([round]) as {
          n: number;
        };
        expect(Number(stored.n)).toBe(done);
      } finally {
        db.close();
      }
    }
  });
});
