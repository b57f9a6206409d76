import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createManualClock } from '../../src/core/clock.ts';
import { defineSubscription } from '../../src/core/subscription.ts';
import { OrderPaidV1, orderConverters } from '../../src/example/orders.ts';
import { readConfig } from '../../src/runtime/config.ts';
import { createLocalMesh, type LocalMesh } from '../../src/runtime/local-mesh.ts';
import { resolveSecrets } from '../../src/runtime/secrets.ts';
import { openLibsql } from '../../src/store/libsql-store.ts';
import type { SqlDriver, SqlRow } from '../../src/store/sql-driver.ts';
import { createSqlStores } from '../../src/store/sql-stores.ts';
import { createUndiciSender } from '../../src/transports/undici-sender.ts';
import { type LoopbackServer, type Reply, startLoopbackServer } from '../support/loopback-server.ts';
import { createTempDb, type TempDb } from '../support/temp-db.ts';

// The hand-off (HOOKMESH_ROLE=all): a delivery accepted while this process's dispatcher runs is
// written leased to it in ingest's own transaction and sent after the commit, without a lease
// transaction of its own. Each mesh here is the one Node and Deno run (`createLocalMesh`) on a
// real libSQL file, served over HTTP on loopback, delivering over HTTP to a loopback receiver;
// the clock is a manual one, so lease expiry is a time the test sets, not one it waits for.

const PRODUCER = 'handoff-producer-token-0123456789';
const ADMIN = 'handoff-admin-token-0123456789';
const KEY = 'handoff-signing-key-0123456789';
const START = Date.UTC(2026, 10, 30, 12);
const LEASE_MS = 30_000;

/** One transaction the stores committed: its statements and the rows each changed. */
interface Committed {
  readonly statements: readonly { readonly sql: string; readonly changes: number }[];
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Records every committed batch; after `crash()`, every call fails as in a process that died. */
function recording(driver: SqlDriver) {
  const committed: Committed[] = [];
  let dead = false;
  let crashAfterHandOff = false;
  const gone = () => Promise.reject(new Error('the process is gone'));
  const wrapped: SqlDriver = {
    ...driver,
    query: (sql, args) => (dead ? gone() : driver.query(sql, args)),
    async batch(statements) {
      if (dead) return gone();
      const changes = await driver.batch(statements);
      const entry = { statements: statements.map((s, i) => ({ sql: s.sql, changes: changes[i] ?? 0 })) };
      committed.push(entry);
      if (crashAfterHandOff && leasedIn(entry) > 0) dead = true;
      return changes;
    },
    isConstraintError: (error) => driver.isConstraintError(error),
    close: async () => {},
  };
  return {
    driver: wrapped,
    committed,
    /** From the next commit that leases a delivery on: the process dies right after it. */
    crashAfterHandOff() {
      crashAfterHandOff = true;
    },
  };
}

/** Deliveries a commit moved to `in_flight` under a lease (ingest's hand-off or a dispatcher's). */
function leasedIn(c: Committed): number {
  return c.statements
    .filter((s) => /UPDATE deliveries SET status = 'in_flight', lease_owner/.test(s.sql))
    .reduce((n, s) => n + s.changes, 0);
}

/** Deliveries a commit wrote. */
function insertedIn(c: Committed): number {
  return c.statements
    .filter((s) => s.sql.startsWith('INSERT INTO deliveries'))
    .reduce((n, s) => n + s.changes, 0);
}

async function startMesh(options: {
  db: TempDb;
  driver: SqlDriver;
  receiver: LoopbackServer;
  clock: ReturnType<typeof createManualClock>;
  owner: string;
  role?: 'all' | 'api';
}): Promise<{ mesh: LocalMesh; url: string }> {
  const config = readConfig(
    {
      HOOKMESH_ROLE: options.role ?? 'all',
      HOOKMESH_PRODUCER_TOKENS: `shop:${PRODUCER}`,
      HOOKMESH_ADMIN_TOKEN: ADMIN,
      QSTASH_CURRENT_SIGNING_KEY: KEY,
      HOOKMESH_LEASE_MS: String(LEASE_MS),
      HOOKMESH_RETENTION_DAYS: '0',
      HOOKMESH_ALLOW_PRIVATE_NETWORK: 'true',
    },
    { transport: 'local' },
  );
  const sender = createUndiciSender({ allowPrivateNetwork: true });
  const mesh = await createLocalMesh({
    config,
    secrets: resolveSecrets(config, null),
    publicUrl: 'http://127.0.0.1:9',
    stores: createSqlStores({ driver: options.driver }),
    inbox: null,
    definitions: {
      converters: orderConverters,
      subscriptions: [defineSubscription(OrderPaidV1, `${options.receiver.url}/paid`, { id: 'sub-paid' })],
    },
    handlers: [],
    send: sender,
    clock: options.clock,
    log: () => {},
    owner: options.owner,
  });
  const server = serve({ fetch: mesh.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((ok) => server.once('listening', ok));
  const { port } = server.address() as AddressInfo;
  cleanups.push(async () => {
    await new Promise<void>((ok) => server.close(() => ok()));
    await mesh.stop();
    await sender.close();
  });
  return { mesh, url: `http://127.0.0.1:${port}` };
}

async function openDb(): Promise<TempDb> {
  const db = await createTempDb();
  cleanups.push(() => db.dispose());
  return db;
}

async function receiver(reply?: Parameters<typeof startLoopbackServer>[0]): Promise<LoopbackServer> {
  const server = await startLoopbackServer(reply);
  cleanups.push(() => server.close());
  return server;
}

async function post(url: string, body: unknown): Promise<{ status: number; ceIds: string[] }> {
  const res = await fetch(`${url}/v1/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${PRODUCER}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as { integrationEvents?: { id: string }[] };
  return { status: res.status, ceIds: (json.integrationEvents ?? []).map((ie) => ie.id) };
}

function paid(id: string, orderId: string, extra: Record<string, unknown> = {}) {
  return { id, type: 'OrderPaid', data: { orderId, amount: 10, paidAt: '2026-11-30T12:00:00Z' }, ...extra };
}

/** The deliveries as stored, oldest first. */
async function rows(driver: SqlDriver): Promise<SqlRow[]> {
  return driver.query(
    `SELECT status, lease_owner, lease_expires_at, attempts, ordering_key FROM deliveries ORDER BY rowid`,
  );
}

describe('the hand-off: ingest leases new deliveries to its own dispatcher (HOOKMESH_ROLE=all)', () => {
  it('a delivery is written leased in the commit that accepts it and sent with no lease transaction of its own', async () => {
    const db = await openDb();
    const clock = createManualClock(START);
    const rec = recording(db.driver);
    // What was committed, and how the row stood, when the delivery reached the receiver.
    let atArrival: { committed: Committed[]; rows: SqlRow[] } | null = null;
    const hook = await receiver(async (): Promise<Reply> => {
      atArrival = { committed: [...rec.committed], rows: await rows(db.driver) };
      return { status: 200 };
    });
    const { url } = await startMesh({ db, driver: rec.driver, receiver: hook, clock, owner: 'mesh-a' });
    const before = rec.committed.length;

    const accepted = await post(url, paid('p1', 'o-1'));
    expect(accepted.status).toBe(202);
    await vi.waitFor(() => expect(hook.requests).toHaveLength(1));

    const seen = atArrival!;
    // Every commit between the POST and the arrival that wrote or leased a delivery: one, ingest's.
    const touching = seen.committed.slice(before).filter((c) => insertedIn(c) + leasedIn(c) > 0);
    expect(touching).toHaveLength(1);
    expect(insertedIn(touching[0]!)).toBe(1);
    expect(leasedIn(touching[0]!)).toBe(1);
    // Sent under that lease: this dispatcher's, for the configured term.
    expect(seen.rows).toHaveLength(1);
    expect(seen.rows[0]).toMatchObject({ status: 'in_flight', lease_owner: 'mesh-a', attempts: 0 });
    expect(Number(seen.rows[0]!.lease_expires_at)).toBeGreaterThanOrEqual(START + LEASE_MS);
    expect(hook.requests[0]!.headers['ce-id']).toBe(accepted.ceIds[0]);

    // And recorded like any attempt.
    await vi.waitFor(async () =>
      expect(await rows(db.driver)).toMatchObject([{ status: 'delivered', attempts: 1, lease_owner: null }]),
    );
  });

  it('a crash right after the commit: the lease lapses and a fresh process on the file delivers it then, not before', async () => {
    const db = await openDb();
    const hook = await receiver();
    const clockA = createManualClock(START);
    const rec = recording(db.driver);
    const a = await startMesh({ db, driver: rec.driver, receiver: hook, clock: clockA, owner: 'mesh-a' });
    rec.crashAfterHandOff();

    expect((await post(a.url, paid('p1', 'o-1'))).status).toBe(202);
    // The process "dies" after the commit that leased the delivery: nothing is sent.
    await a.mesh.stop();
    expect(hook.requests).toHaveLength(0);
    const [leased] = await rows(db.driver);
    expect(leased).toMatchObject({ status: 'in_flight', lease_owner: 'mesh-a', attempts: 0 });
    const expiry = Number(leased!.lease_expires_at);

    // A fresh process on the same file (its own connection), its clock at the crash.
    const other = await openLibsql({ url: db.url });
    cleanups.push(() => other.driver.close());
    const clockB = createManualClock(START);
    const b = await startMesh({ db, driver: other.driver, receiver: hook, clock: clockB, owner: 'mesh-b' });
    await b.mesh.dispatcher!.stop();
    expect(await b.mesh.dispatcher!.runOnce()).toBe(0);
    clockB.set(expiry - 1);
    expect(await b.mesh.dispatcher!.runOnce()).toBe(0);
    expect(hook.requests).toHaveLength(0);
    clockB.set(expiry);
    expect(await b.mesh.dispatcher!.runOnce()).toBe(1);
    expect(hook.requests).toHaveLength(1);
    expect(await rows(db.driver)).toMatchObject([{ status: 'delivered', attempts: 1 }]);
  });

  it('what may not go now stays with the poll: a later delivery of the same ordering key, a delayed one', async () => {
    const db = await openDb();
    const clock = createManualClock(START);
    const rec = recording(db.driver);
    let atFirst: SqlRow[] | null = null;
    const hook = await receiver(async (req) => {
      if (req.path === '/paid' && atFirst === null) atFirst = await rows(db.driver);
      return { status: 200 };
    });
    const { url } = await startMesh({ db, driver: rec.driver, receiver: hook, clock, owner: 'mesh-a' });

    // One POST, one commit: two events of order o-1, then one of o-2 due in a minute.
    const notBefore = new Date(START + 60_000).toISOString();
    expect(
      (await post(url, [paid('p1', 'o-1'), paid('p2', 'o-1'), paid('p3', 'o-2', { notBefore })])).status,
    ).toBe(202);
    await vi.waitFor(() => expect(hook.requests.length).toBeGreaterThanOrEqual(2));
    // The head of o-1 was handed off; the next of its key and the delayed one were written pending.
    expect(atFirst).toMatchObject([
      { status: 'in_flight', lease_owner: 'mesh-a', ordering_key: 'o-1' },
      { status: 'pending', lease_owner: null, ordering_key: 'o-1' },
      { status: 'pending', lease_owner: null, ordering_key: 'o-2' },
    ]);
    // The second of o-1 went once the first was recorded, in order; the delayed one waits.
    expect(hook.requests.map((r) => JSON.parse(r.body).orderId)).toEqual(['o-1', 'o-1']);
    await vi.waitFor(async () =>
      expect((await rows(db.driver)).map((r) => r.status)).toEqual(['delivered', 'delivered', 'pending']),
    );
    expect(hook.requests).toHaveLength(2);

    // Due: the poll (or the next nudge) takes it.
    clock.set(START + 60_000);
    await vi.waitFor(() => expect(hook.requests).toHaveLength(3), { timeout: 3_000 });
    expect(JSON.parse(hook.requests[2]!.body).orderId).toBe('o-2');
  });

  it('an API-only process writes its deliveries unleased, as before', async () => {
    const db = await openDb();
    const clock = createManualClock(START);
    const rec = recording(db.driver);
    const hook = await receiver();
    const { url } = await startMesh({
      db,
      driver: rec.driver,
      receiver: hook,
      clock,
      owner: 'api',
      role: 'api',
    });
    expect((await post(url, paid('p1', 'o-1'))).status).toBe(202);
    expect(await rows(db.driver)).toMatchObject([{ status: 'pending', lease_owner: null }]);
    expect(rec.committed.some((c) => leasedIn(c) > 0)).toBe(false);
  });
});
