import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'libsql';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run.ts';
import { readMigrations } from '../../src/runtime/migrations.ts';
import { createTempDb, type TempDb } from '../support/temp-db.ts';

// A writer on its own thread (its own connection, WAL, synchronous=FULL) acknowledges events
// while `hookmesh backup` copies the file: what was acknowledged before the backup started must
// be in the copy.

const LIBSQL = createRequire(import.meta.url).resolve('libsql');

const WRITER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.libsql);
const db = new Database(workerData.path, { timeout: 10000 });
db.exec('PRAGMA journal_mode = WAL');
db.exec('PRAGMA synchronous = FULL');
const insert = db.prepare("INSERT INTO domain_events (id, type, source, data, received_at) VALUES (?, 'Bulk', 'bench', ?, ?)");
let stop = false;
parentPort.on('message', () => { stop = true; });
let n = 0;
const tick = () => {
  if (stop) { db.close(); parentPort.postMessage({ done: n }); return; }
  for (let i = 0; i < 20; i++, n++) insert.run(['e-' + n, JSON.stringify({ n, pad: 'x'.repeat(500) }), Date.now()]);
  parentPort.postMessage({ acked: n });
  setImmediate(tick);
};
tick();
`;

let db: TempDb | undefined;
afterEach(async () => {
  await db?.dispose();
  db = undefined;
});

async function run(args: string[], env: Record<string, string>) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { env, out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

describe('hookmesh backup', () => {
  it('copies the file online: every event acknowledged before it started is in an intact copy', async () => {
    db = await createTempDb();
    const path = join(db.dir, 'hookmesh.db');
    const target = join(db.dir, 'backup.db');
    const writer = new Worker(WRITER, { eval: true, workerData: { path, libsql: LIBSQL } });
    let acked = 0;
    let resolveDone: (n: number) => void = () => {};
    const done = new Promise<number>((r) => {
      resolveDone = r;
    });
    const enough = new Promise<void>((ready) => {
      writer.on('message', (m: { acked?: number; done?: number }) => {
        if (m.acked !== undefined) acked = m.acked;
        if (acked >= 2000) ready();
        if (m.done !== undefined) resolveDone(m.done);
      });
    });
    await enough;
    const ackedBefore = acked;

    const backup = await run(['backup', target], { DATABASE_URL: db.url });
    const ackedAfter = acked;
    writer.postMessage('stop');
    const written = await done;
    await writer.terminate();

    expect(backup).toMatchObject({ code: 0, err: [] });
    expect(backup.out).toHaveLength(1);
    expect(backup.out[0]).toMatch(/^hookmesh: backed up .* to .*backup\.db \(\d+(\.\d)? (KiB|MiB)\)$/);
    const copy = new Database(target, { readonly: true });
    try {
      expect(copy.prepare('PRAGMA integrity_check').all()).toEqual([{ integrity_check: 'ok' }]);
      const ids = new Set(
        copy
          .prepare('SELECT id FROM domain_events')
          .all()
          .map((r) => (r as { id: string }).id),
      );
      for (let n = 0; n < ackedBefore; n++) expect(ids.has(`e-${n}`)).toBe(true);
      expect(ids.size).toBeGreaterThanOrEqual(ackedBefore);
      expect(ids.size).toBeLessThanOrEqual(written);
      // The schema and the migrations' record come along: a mesh can start on the copy.
      expect(copy.prepare('SELECT count(*) AS n FROM d1_migrations').all()).toEqual([
        { n: readMigrations().length },
      ]);
    } finally {
      copy.close();
    }
    expect(written).toBeGreaterThanOrEqual(ackedAfter);
  });

  it('refuses an existing target, a missing argument and a non-file database (exit 2, one line)', async () => {
    db = await createTempDb();
    const target = join(db.dir, 'backup.db');
    expect((await run(['backup', target], { DATABASE_URL: db.url })).code).toBe(0);
    const again = await run(['backup', target], { DATABASE_URL: db.url });
    expect(again).toMatchObject({ code: 2, out: [] });
    expect(again.err).toEqual([expect.stringMatching(/backup\.db exists; backup never overwrites/)]);
    expect((await run(['backup'], { DATABASE_URL: db.url })).code).toBe(2);
    const remote = await run(['backup', join(db.dir, 'x.db')], {
      DATABASE_URL: 'libsql://db.example.turso.io',
    });
    expect(remote).toMatchObject({ code: 2 });
    expect(remote.err).toHaveLength(1);
    expect(existsSync(join(db.dir, 'x.db'))).toBe(false);
  });
});
