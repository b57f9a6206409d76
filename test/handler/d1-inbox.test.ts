import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createD1Inbox, createWebhookApp, defineHandler } from '../../src/handler/index.ts';
import type { D1Database } from '../../src/store/d1-driver.ts';
import {
  applyD1Migrations,
  COMPATIBILITY_DATE,
  createD1Miniflare,
  dropAllTables,
  getD1,
} from '../support/d1.ts';
import { describeInboxContract } from './inbox.contract.ts';
import {
  CURRENT,
  NOW as DELIVERED_AT,
  delivery,
  OrderCreatedV1,
  PUBLIC_URL,
  send,
} from './webhook-fixtures.ts';

// D1 as miniflare runs it (workerd's D1 on a local SQLite file): reached from Node for the
// contract, and from inside a Worker for what only workerd does to promises across requests.

const NOW = 1_800_000_000_000;
const HERE = dirname(fileURLToPath(import.meta.url));

const mf = createD1Miniflare(['DB']);
let d1: D1Database | undefined;

afterAll(async () => {
  await mf.dispose();
});

async function emptyD1(): Promise<D1Database> {
  d1 ??= await getD1(mf, 'DB');
  await dropAllTables(d1);
  return d1;
}

describeInboxContract('D1 (miniflare), an empty database', async () => ({
  inbox: createD1Inbox(await emptyD1()),
  dispose: async () => {},
}));

describeInboxContract("D1 (miniflare), a database the mesh's migrations made", async () => {
  const db = await emptyD1();
  await applyD1Migrations(db);
  return { inbox: createD1Inbox(db), dispose: async () => {} };
});

describe('D1 inbox', () => {
  it('creates its table on an empty database, and beside the mesh in a database its migrations made', async () => {
    const db = await emptyD1();
    await createD1Inbox(db).complete({ handler: 'billing', eventId: 'ie_1', nowMs: NOW });
    const columns = await db.prepare('PRAGMA table_info(inbox)').all();
    expect(columns.results?.map((c) => [c.name, c.type, c.notnull, c.pk])).toEqual([
      ['handler', 'TEXT', 1, 1],
      ['event_id', 'TEXT', 1, 2],
      ['status', 'TEXT', 1, 0],
      ['lease_expires_at', 'INTEGER', 0, 0],
      ['started_at', 'INTEGER', 1, 0],
      ['finished_at', 'INTEGER', 0, 0],
    ]);
    // The mesh's migrations leave the inbox to the SDK: it is created next to them the same way.
    await dropAllTables(db);
    await applyD1Migrations(db);
    expect((await db.prepare('PRAGMA table_info(inbox)').all()).results).toEqual([]);
    await createD1Inbox(db).complete({ handler: 'billing', eventId: 'ie_1', nowMs: NOW });
    expect((await db.prepare('PRAGMA table_info(inbox)').all()).results).toEqual(columns.results);
  });
});

describe('D1 inbox under the webhook app', () => {
  it('a captured signed request replayed under another ce-id, to another app on the database, does not run again', async () => {
    const db = await emptyD1();
    let runs = 0;
    const handler = defineHandler(OrderCreatedV1, () => {
      runs++;
    });
    const app = () =>
      createWebhookApp({
        handlers: [handler],
        signingKeys: { current: CURRENT },
        inbox: createD1Inbox(db),
        publicUrl: PUBLIC_URL,
        clock: { now: () => DELIVERED_AT + 1000 },
      });
    const captured = await delivery();
    expect((await send(app(), captured)).status).toBe(200);
    const replay = await send(app(), captured, { headers: { 'ce-id': 'ie_forged' } });
    expect(replay.status).toBe(200);
    expect(await replay.json()).toEqual({ status: 'duplicate' });
    expect(runs).toBe(1);
    const tokens = await db.prepare('SELECT handler, event_id FROM inbox_jtis').all();
    expect(tokens.results).toEqual([{ handler: 'order.created.v1', event_id: 'ie_01' }]);
  });
});

describe('D1 inbox inside workerd, one inbox shared by the requests of an isolate', () => {
  let dir: string;
  let worker: Miniflare;
  let db: D1Database;
  let generation = 0;
  /** A fresh inbox name per test, so each test's first request meets an inbox never used. */
  let inbox: string;

  const call = async (path: string, event: string) =>
    (await worker.dispatchFetch(`http://worker${path}?inbox=${inbox}&event=${event}&now=${NOW}`)).text();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hookmesh-d1-inbox-'));
    const path = join(dir, 'worker.js');
    // As wrangler bundles a consuming service's Worker (see worker/build.ts).
    await build({
      entryPoints: [resolve(HERE, 'd1-inbox-worker.ts')],
      outfile: path,
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      mainFields: ['browser', 'module', 'main'],
      conditions: ['workerd', 'worker', 'browser'],
      target: 'es2022',
      logLevel: 'warning',
    });
    worker = new Miniflare({
      modules: [{ type: 'ESModule', path }],
      modulesRoot: dir,
      compatibilityDate: COMPATIBILITY_DATE,
      d1Databases: ['DB'],
    });
    db = (await worker.getD1Database('DB')) as D1Database;
  });

  afterAll(async () => {
    await worker?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    await dropAllTables(db);
    inbox = `inbox-${++generation}`;
  });

  it('concurrent first requests on an empty database: exactly one claims the key', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, () => call('/claim', 'ie_1')));
    expect(results.filter((r) => r === 'claimed')).toHaveLength(1);
    expect(results.filter((r) => r === 'running')).toHaveLength(9);
  });

  it('a request that answers before its first claim settles strands no later request', async () => {
    expect(await call('/claim-and-leave', 'ie_1')).toBe('left');
    // Had the later requests awaited the first one's CREATE TABLE, they would hang here.
    expect(await call('/claim', 'ie_2')).toBe('claimed');
    expect(await call('/claim', 'ie_2')).toBe('running');
  }, 10_000);
});
