import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'libsql';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run.ts';
import { OrderCreatedV1, orderConverters } from '../../src/example/orders.ts';
import { defineMesh, defineSubscription } from '../../src/index.ts';
import { type ServedMesh, serveMesh } from '../../src/node.ts';
import { readMigrations } from '../../src/runtime/migrations.ts';
import { type LoopbackServer, startLoopbackServer } from '../support/loopback-server.ts';
import { eventually } from '../support/processes.ts';
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
db.exec("INSERT OR IGNORE INTO event_types (name) VALUES ('Bulk')");
const insert = db.prepare("INSERT INTO domain_events (id, type_ref, source, data, received_at) VALUES (?, (SELECT ref FROM event_types WHERE name = 'Bulk'), 'bench', ?, ?)");
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
const meshes: ServedMesh[] = [];
let handler: LoopbackServer | undefined;
afterEach(async () => {
  for (const mesh of meshes.splice(0)) await mesh.close();
  await handler?.close();
  handler = undefined;
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

  it('a mesh started on a copy taken under load delivers what was pending when it was taken', async () => {
    db = await createTempDb();
    const target = join(db.dir, 'backup.db');
    handler = await startLoopbackServer(() => ({ status: 200, body: '{}' }));
    const definitions = defineMesh({
      converters: orderConverters,
      subscriptions: [defineSubscription(OrderCreatedV1, `${handler.url}/hooks/order.created.v1`)],
    });
    const env = (url: string, role: string) => ({
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: url,
      HOOKMESH_ROLE: role,
      HOOKMESH_PRODUCER_TOKENS: 'shop:backup-producer-token-0123456789',
      HOOKMESH_ADMIN_TOKEN: 'backup-admin-token-0123456789',
      QSTASH_CURRENT_SIGNING_KEY: 'backup-signing-key-0123456789',
    });
    // The api role accepts and delivers nothing: every acknowledged event is pending in the file.
    const api = await serveMesh({ env: env(db.url, 'api'), log: () => {}, mesh: definitions });
    meshes.push(api);
    const acked: string[] = [];
    let stop = false;
    const producer = async (lane: number) => {
      for (let n = 0; !stop; n++) {
        const res = await fetch(`${api.url}/v1/events`, {
          method: 'POST',
          headers: {
            authorization: 'Bearer backup-producer-token-0123456789',
            'content-type': 'application/json',
          },
          body: JSON.stringify({
            id: `load-${lane}-${n}`,
            type: 'OrderCreated',
            data: { order: { id: `o-${lane}-${n}`, customerId: 'c-1', total: n, currency: 'EUR' } },
          }),
        });
        const body = (await res.json()) as { integrationEvents: { id: string }[] };
        if (res.status === 202) acked.push(body.integrationEvents[0]!.id);
      }
    };
    const lanes = [0, 1, 2, 3].map(producer);
    await eventually(async () => (acked.length >= 200 ? true : undefined));
    const ackedBefore = [...acked];
    const backup = await run(['backup', target], { DATABASE_URL: db.url });
    stop = true;
    await Promise.all(lanes);
    expect(backup).toMatchObject({ code: 0, err: [] });
    await api.close();
    meshes.splice(meshes.indexOf(api), 1);
    expect(handler.requests).toEqual([]);

    // Restoring is starting on the copy: it delivers what it holds, each once.
    const restored = await serveMesh({ env: env(`file:${target}`, 'all'), log: () => {}, mesh: definitions });
    meshes.push(restored);
    const delivered = () => new Set(handler!.requests.map((r) => String(r.headers['ce-id'])));
    await eventually(async () => (ackedBefore.every((id) => delivered().has(id)) ? true : undefined), 30_000);
    const copy = new Database(target, { readonly: true });
    try {
      const inCopy = (copy.prepare('SELECT count(*) AS n FROM deliveries').get() as { n: number }).n;
      await eventually(async () => (handler!.requests.length >= inCopy ? true : undefined));
      expect(inCopy).toBeGreaterThanOrEqual(ackedBefore.length);
      expect(inCopy).toBeLessThanOrEqual(acked.length);
    } finally {
      copy.close();
    }
    expect(delivered().size).toBe(handler.requests.length);
    expect(handler.requests.every((r) => r.path === '/hooks/order.created.v1')).toBe(true);
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
