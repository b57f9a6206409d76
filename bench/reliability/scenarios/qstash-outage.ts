import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ServerType, serve } from '@hono/node-server';
import { Client } from '@upstash/qstash';
import Database from 'libsql';
import { defineSubscription } from '../../../src/core/subscription.ts';
import { OrderPaidV1, orderConverters } from '../../../src/example/orders.ts';
import { createLibsqlInbox, createWebhookApp, defineHandler } from '../../../src/handler/index.ts';
import { createQStashTransport } from '../../../src/transports/qstash-transport.ts';
import { startQStashDouble } from '../../../test/support/qstash-double.ts';
import { createTestMesh } from '../../../test/support/test-mesh.ts';
import { orderPaid } from '../fixture.ts';
import { n, type ScenarioResult } from '../report.ts';

// Scenario 4: the QStash transport (what a Worker runs) publishing to the QStash double, which
// refuses every publish for 30 simulated minutes — alternately answering 500 and dropping the
// connection — while events keep coming in. The mesh, the double and the consuming service share
// one manual clock, so the outage, the publish back-off (1 s doubling to 5 min) and QStash's own
// retry schedule run in simulated time. Then the double recovers: everything must be published,
// delivered, and handled once. The API runs in process over a real libSQL file and is served on
// loopback, so the double's signed callbacks reach `/v1/qstash/callback` as QStash's would.

const TOKEN = 'qstash-reliability-token-0123456789';
const KEY = 'sig_qstash_current_0123456789abcdef';
const NEXT_KEY = 'sig_qstash_next_0123456789abcdef';
const OUTAGE_MS = 30 * 60_000;
const STEP_MS = 15_000;
/** Handler runs that fail before their effect: QStash retries them, by callback and schedule. */
const FAIL_RATE = 0.1;

export async function runQStashOutage(options: { quick: boolean }): Promise<ScenarioResult> {
  const started = performance.now();
  const total = options.quick ? 240 : 1_200;
  const closers: (() => Promise<void> | void)[] = [];
  const notes: string[] = [];
  try {
    // The consuming service, on the mesh's clock (its signature checks read it).
    let meshRef: Awaited<ReturnType<typeof createTestMesh>> | undefined;
    const clock = { now: () => meshRef!.clock.now() };
    const effectsDir = mkdtempSync(join(tmpdir(), 'hookmesh-reliability-qstash-'));
    closers.push(() => rmSync(effectsDir, { recursive: true, force: true }));
    const effects = new Database(join(effectsDir, 'effects.db'));
    effects.exec('CREATE TABLE effects (event_id TEXT NOT NULL)');
    closers.push(() => {
      effects.close();
    });
    const insert = effects.prepare('INSERT INTO effects (event_id) VALUES (?)');
    let seed = 4;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    let failedRuns = 0;
    const handler = defineHandler(OrderPaidV1, (event) => {
      if (random() < FAIL_RATE) {
        failedRuns++;
        throw new Error('injected failure before the effect');
      }
      insert.run([event.id]);
    });
    const inbox = createLibsqlInbox({ url: `file:${join(effectsDir, 'inbox.db')}` });
    closers.push(() => inbox.close());
    let webhooks: ReturnType<typeof createWebhookApp> | undefined;
    const service = await listen((req) => webhooks!.fetch(req));
    closers.push(service.close);
    webhooks = createWebhookApp({
      handlers: [handler],
      signingKeys: { current: KEY, next: NEXT_KEY },
      inbox,
      publicUrl: service.url,
      clock,
    });

    // The mesh's API on loopback; the callback URL is known once it listens.
    const api = await listen((req) => meshRef!.app.fetch(req));
    closers.push(api.close);
    const callbackUrl = `${api.url}/v1/qstash/callback`;
    const mesh = await createTestMesh({
      definitions: {
        converters: orderConverters,
        subscriptions: [
          defineSubscription(OrderPaidV1, `${service.url}/webhooks/order.paid.v1`, {
            id: 'qstash-sub',
            retries: 5,
          }),
        ],
      },
      qstash: { signingKeys: { current: KEY, next: NEXT_KEY }, callbackUrl },
    });
    meshRef = mesh;
    closers.push(() => mesh.dispose());
    const q = await startQStashDouble({
      token: TOKEN,
      currentSigningKey: KEY,
      nextSigningKey: NEXT_KEY,
      clock: mesh.clock,
    });
    closers.push(() => q.close());
    const publishErrors: unknown[] = [];
    const transport = createQStashTransport({
      queue: mesh.publish,
      client: new Client({ token: TOKEN, baseUrl: q.url, retry: false }),
      callbackUrl,
      clock: mesh.clock,
      owner: 'reliability-sweeper',
      onError: (e) => publishErrors.push(e),
    });

    // @upstash/qstash writes every failed publish to console.error: counted here, not printed.
    const consoleError = console.error;
    let sdkErrorLines = 0;
    console.error = (...args: unknown[]) => {
      if (typeof args[0] === 'string' && args[0].startsWith('[Upstash QStash]')) sdkErrorLines++;
      else consoleError(...args);
    };
    closers.push(() => {
      console.error = consoleError;
    });

    // 30 simulated minutes of outage; events arrive all along; a sweep every 15 s.
    const steps = OUTAGE_MS / STEP_MS;
    const acked = new Set<string>();
    let postedDuringOutage = 0;
    let publishedDuringOutage = 0;
    for (let step = 0; step < steps; step++) {
      q.setDown(true, Math.floor(step / 20) % 2 === 0 ? 'error' : 'reset');
      const events = Array.from(
        { length: Math.floor(((step + 1) * total) / steps) - Math.floor((step * total) / steps) },
        (_, i) => orderPaid(`qstash-${step}-${i}`),
      );
      if (events.length > 0) {
        const res = await mesh.post(events);
        if (res.status === 202) for (const e of events) acked.add(e.id);
        postedDuringOutage += events.length;
      }
      publishedDuringOutage += (await transport.publishDue()).published;
      mesh.clock.advance(STEP_MS);
    }
    const outageCalls = { ...q.calls };
    const pendingAtRecovery = await countStatus(mesh, 'pending');

    // Recovery: sweeps go on; the double delivers, retries and calls back on the same clock.
    q.setDown(false);
    const recoveredAt = mesh.clock.now();
    let delivered = 0;
    let allPublishedMs: number | null = null;
    for (let step = 0; step < 2_000; step++) {
      await transport.publishDue();
      if (allPublishedMs === null && (await countStatus(mesh, 'pending')) === 0) {
        allPublishedMs = mesh.clock.now() - recoveredAt;
      }
      await q.deliverDue();
      delivered = await countStatus(mesh, 'delivered');
      if (delivered === acked.size) break;
      const next = q.nextDueAt();
      const now = mesh.clock.now();
      mesh.clock.set(Math.max(now + 1_000, Math.min(now + STEP_MS, next ?? now + STEP_MS)));
    }
    const recoveryMs = mesh.clock.now() - recoveredAt;
    const row = effects
      .prepare('SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM effects')
      .get([]) as {
      n: number;
      d: number;
    };
    const userMessages = q.messages.filter((m) => m.kind === 'message');
    const statuses = await countAll(mesh);
    const undelivered = acked.size - delivered;
    const duplicates = Number(row.n) - Number(row.d);
    notes.push(
      `${n(postedDuringOutage)} events posted during the outage, all acknowledged: ${acked.size === postedDuringOutage}; ${publishedDuringOutage} published meanwhile; ${n(pendingAtRecovery)} pending at recovery`,
      `the outage refused ${n(outageCalls.rejected)} publish requests in ${steps} sweeps (a batch that gets no answer at all is retried message by message; each delivery backs off 1 s doubling to 5 min; @upstash/qstash logged ${n(sdkErrorLines)} error lines)`,
      `after recovery: all published within ${allPublishedMs === null ? '?' : (allPublishedMs / 60_000).toFixed(1)} simulated minutes (the longest publish back-off is 5), all delivered within ${(recoveryMs / 60_000).toFixed(1)} simulated minutes; deliveries ${JSON.stringify(statuses)}; ${n(userMessages.length)} QStash messages for ${n(acked.size)} deliveries; ${failedRuns} handler runs failed and were retried by QStash`,
    );
    return {
      scenario: '4. QStash refusing publishes',
      load: `${n(total)} events over 30 simulated min`,
      faults: `30 simulated min of publish outage (500 / reset)`,
      badInputs: '—',
      lost: undelivered + (postedDuringOutage - acked.size) + (acked.size - Number(row.d)),
      duplicates,
      pass:
        acked.size === total &&
        publishedDuringOutage === 0 &&
        allPublishedMs !== null &&
        undelivered === 0 &&
        Number(row.d) === total &&
        duplicates === 0 &&
        userMessages.length === total,
      seconds: (performance.now() - started) / 1000,
      notes,
    };
  } finally {
    for (const close of closers.reverse()) await close();
  }
}

async function countStatus(
  mesh: Awaited<ReturnType<typeof createTestMesh>>,
  status: string,
): Promise<number> {
  const rows = await mesh.db.driver.query('SELECT count(*) AS n FROM deliveries WHERE status = ?', [status]);
  return Number(rows[0]!.n);
}

async function countAll(mesh: Awaited<ReturnType<typeof createTestMesh>>): Promise<Record<string, number>> {
  const rows = await mesh.db.driver.query('SELECT status, count(*) AS n FROM deliveries GROUP BY status');
  return Object.fromEntries(rows.map((r) => [String(r.status), Number(r.n)]));
}

/** Serves `fetch` on a free loopback port. */
async function listen(
  fetch: (req: Request) => Response | Promise<Response>,
): Promise<{ url: string; close: () => Promise<void> }> {
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
