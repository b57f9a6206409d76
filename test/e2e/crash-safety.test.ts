import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@libsql/client';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, freePort, type Proc, startProcess, waitForOutput } from '../support/processes.ts';

// Real processes, real SIGKILL: the mesh is killed while it delivers, restarted on the same
// database file, and the handler service (another process, with its own inbox) counts how often
// its handler really ran.

const PRODUCER = 'crash-producer-token-0123456789';
const ADMIN = 'crash-admin-token-0123456789';
const KEY = 'crash-signing-key-0123456789';
const EVENTS = 1000;

const procs: Proc[] = [];
let dir: string;
afterEach(async () => {
  for (const p of procs.splice(0)) await p.kill();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function meshEnv(port: number, extra: Record<string, string> = {}) {
  return {
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: `file:${join(dir, 'mesh.db')}`,
    HOOKMESH_PRODUCER_TOKENS: `crash:${PRODUCER}`,
    HOOKMESH_ADMIN_TOKEN: ADMIN,
    QSTASH_CURRENT_SIGNING_KEY: KEY,
    // A crashed holder's leases lapse quickly, so the restarted mesh takes them over in the test's time.
    HOOKMESH_LEASE_MS: '3000',
    HOOKMESH_ATTEMPT_TIMEOUT_MS: '2000',
    ...extra,
  };
}

async function startMesh(port: number, extra: Record<string, string> = {}) {
  const proc = startProcess('src/example/node-main.ts', meshEnv(port, extra));
  procs.push(proc);
  await waitForOutput(proc, /hookmesh listening/);
  return proc;
}

async function startHandlerService(delayMs: number) {
  const proc = startProcess('test/support/handler-service.ts', {
    HANDLER_DB: join(dir, 'handler.db'),
    HANDLER_DELAY_MS: String(delayMs),
    QSTASH_CURRENT_SIGNING_KEY: KEY,
  });
  procs.push(proc);
  const [, url] = await waitForOutput(proc, /listening (http:\/\/\S+)/);
  return url!;
}

async function stats(serviceUrl: string) {
  return (await (await fetch(`${serviceUrl}/stats`)).json()) as {
    effects: number;
    distinctEffects: number;
    requests: number;
  };
}

async function subscribe(meshUrl: string, serviceUrl: string) {
  const res = await fetch(`${meshUrl}/v1/subscriptions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'order.paid.v1', url: `${serviceUrl}/webhooks/order.paid.v1` }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

async function postEvents(meshUrl: string) {
  for (let batch = 0; batch < EVENTS / 100; batch++) {
    const events = Array.from({ length: 100 }, (_, i) => ({
      id: `paid-${batch}-${i}`,
      type: 'OrderPaid',
      data: { orderId: `o-${batch}-${i}`, amount: 10, paidAt: '2026-11-30T12:00:00Z' },
    }));
    const res = await fetch(`${meshUrl}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${PRODUCER}`, 'content-type': 'application/json' },
      body: JSON.stringify(events),
    });
    expect(res.status).toBe(202);
  }
}

async function deliveryCounts(subscriptionId: string) {
  const client = createClient({ url: `file:${join(dir, 'mesh.db')}` });
  try {
    const rows = await client.execute({
      sql: `SELECT status, count(*) AS n FROM deliveries WHERE subscription_ref = (SELECT ref FROM subscription_refs WHERE id = ?) GROUP BY status`,
      args: [subscriptionId],
    });
    const attempts = await client.execute({
      sql: `SELECT count(*) AS n FROM attempt_log a JOIN deliveries d ON d.id = a.delivery_id
            WHERE d.subscription_ref = (SELECT ref FROM subscription_refs WHERE id = ?)`,
      args: [subscriptionId],
    });
    return {
      byStatus: Object.fromEntries(rows.rows.map((r) => [String(r.status), Number(r.n)])),
      attempts: Number(attempts.rows[0]!.n),
    };
  } finally {
    client.close();
  }
}

describe('crash safety with real processes', () => {
  it('SIGKILL while delivering 1,000 events, restart: every event delivered, the handler ran exactly 1,000 times', async () => {
    dir = mkdtempSync(join(tmpdir(), 'hookmesh-crash-'));
    const serviceUrl = await startHandlerService(20);
    const port = await freePort();
    const meshUrl = `http://127.0.0.1:${port}`;
    const first = await startMesh(port);
    const subscriptionId = await subscribe(meshUrl, serviceUrl);
    await postEvents(meshUrl);

    // Kill it mid-flight: some delivered, many not yet.
    await eventually(
      async () => ((await stats(serviceUrl)).effects >= 100 ? true : undefined),
      30_000,
      '100 effects',
    );
    await first.kill('SIGKILL');
    const atCrash = await stats(serviceUrl);
    expect(atCrash.effects).toBeLessThan(EVENTS);

    await startMesh(port);
    const final = await eventually(
      async () => {
        const counts = await deliveryCounts(subscriptionId);
        return counts.byStatus.delivered === EVENTS ? counts : undefined;
      },
      60_000,
      'every delivery delivered',
    );
    expect(final.byStatus).toEqual({ delivered: EVENTS });
    const after = await stats(serviceUrl);
    expect(after.effects).toBe(EVENTS);
    expect(after.distinctEffects).toBe(EVENTS);
    // Requests the crashed mesh sent but never recorded were sent again; the inbox absorbed them.
    expect(after.requests).toBeGreaterThanOrEqual(EVENTS);
    console.info(
      `crash: ${atCrash.effects} effects at the kill; after restart ${after.requests} requests, ${after.effects} effects`,
    );
  }, 120_000);

  it('two mesh processes on one database deliver 1,000 events with no attempt sent by both', async () => {
    dir = mkdtempSync(join(tmpdir(), 'hookmesh-two-'));
    const serviceUrl = await startHandlerService(0);
    const [portA, portB] = [await freePort(), await freePort()];
    await startMesh(portA, { HOOKMESH_LEASE_MS: '30000', HOOKMESH_ATTEMPT_TIMEOUT_MS: '15000' });
    await startMesh(portB, {
      HOOKMESH_LEASE_MS: '30000',
      HOOKMESH_ATTEMPT_TIMEOUT_MS: '15000',
      HOOKMESH_ROLE: 'dispatcher',
    });
    const meshUrl = `http://127.0.0.1:${portA}`;
    const subscriptionId = await subscribe(meshUrl, serviceUrl);
    await postEvents(meshUrl);
    const final = await eventually(
      async () => {
        const counts = await deliveryCounts(subscriptionId);
        return counts.byStatus.delivered === EVENTS ? counts : undefined;
      },
      60_000,
      'every delivery delivered',
    );
    expect(final.attempts).toBe(EVENTS);
    const seen = await stats(serviceUrl);
    expect(seen.requests).toBe(EVENTS);
    expect(seen.effects).toBe(EVENTS);
    expect(seen.distinctEffects).toBe(EVENTS);
  }, 120_000);
});
