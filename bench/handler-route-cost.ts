// Work per request of the handler route, free of the machine's load: drives the webhook app (or
// the bare Hono baseline) in process through `app.fetch` with `n` signed deliveries, 50 at a time,
// after a warm-up, and prints the CPU time it took. Each batch's requests (their tokens minted,
// their `Request`s built) are made before its clock starts: the figure is the app's work and the
// reading of its answers, not the driver's (`none` shows what is left of the driver's own share). Run it under `valgrind --tool=callgrind` twice
// with different `n` and subtract to get instructions per request (what bench:delivery's figure
// cannot give on a shared machine), or under `node --cpu-prof` for where the time goes.
// Usage: tsx bench/handler-route-cost.ts <none|hono|memory|libsql|file|inbox> <node|web> <n> [warm-up n]
// (`libsql`: createLibsqlInbox(client); `file`: createLibsqlInbox({ url: 'file:…' }), on Node its
// own connection with its statements prepared once; `inbox`: that file inbox alone, no HTTP, driven
// as the route drives it — token and claim, then complete — with BENCH_LANES [20] events in flight,
// about the group the route's commits gather under wrk -c50: the storage share of a request, with
// the wall time its commits hold the event loop. BENCH_WORK_US [0] adds that much CPU work per
// event on the event loop, the route's own work around the inbox (verifying, parsing, answering:
// about 150 µs): then the wall time per event shows whether the inbox's fsync overlaps that work
// or holds the loop on top of it. Pin it to one core (`taskset -c 0`) as the route's server is.)
// (bundle it first with esbuild for valgrind: tsx's loader costs more than the route.)
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@libsql/client';
import { Hono } from 'hono';
import { OrderPaidV1 } from '../src/example/orders.ts';
import { createWebhookApp as createWebCryptoApp } from '../src/handler/index.ts';
import {
  createLibsqlInbox,
  createMemoryInbox,
  createWebhookApp,
  defineHandler,
} from '../src/handler/node.ts';
import { signQStashJwtNode } from '../src/transports/node-signer.ts';
import { orderPaidBody, PAID_TYPE, SIGNING_KEY } from './lib/delivery-fixture.ts';

const [kind = 'memory', crypto = 'node', nArg = '2000', warmArg = '2000'] = process.argv.slice(2);
const n = Number(nArg);
const warm = Number(warmArg);
const CONCURRENCY = 50;
const publicUrl = 'http://127.0.0.1:8791';
const url = `${publicUrl}/webhooks/${PAID_TYPE}`;
const body = orderPaidBody(1);

async function makeApp(): Promise<{ fetch: (r: Request) => Response | Promise<Response> }> {
  if (kind === 'none') {
    // The driver's own share (minting, Request, reading the body), to subtract from the others.
    return {
      fetch: async (r: Request) => {
        await r.arrayBuffer();
        return new Response('{"status":"handled"}', { status: 200 });
      },
    };
  }
  if (kind === 'hono') {
    return new Hono().post('/webhooks/:type', async (c) => {
      await c.req.json();
      return c.json({ status: 'handled' }, 200);
    });
  }
  let inbox = createMemoryInbox();
  if (kind === 'file') {
    const file = join(tmpdir(), `route-cost-${process.pid}.db`);
    rmSync(file, { force: true });
    inbox = createLibsqlInbox({ url: `file:${file}` });
  }
  if (kind === 'libsql') {
    const file = join(tmpdir(), `route-cost-${process.pid}.db`);
    rmSync(file, { force: true });
    const client = createClient({ url: `file:${file}` });
    await client.execute('PRAGMA journal_mode = WAL');
    await client.execute('PRAGMA synchronous = FULL');
    inbox = createLibsqlInbox(client);
  }
  const create = crypto === 'web' ? createWebCryptoApp : createWebhookApp;
  return create({
    handlers: [defineHandler(OrderPaidV1, () => {})],
    signingKeys: { current: SIGNING_KEY },
    publicUrl,
    inbox,
  });
}

let seq = 0;
function request(): Request {
  const id = `evt-${process.pid}-${seq++}`;
  return new Request(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      'ce-specversion': '1.0',
      'ce-id': id,
      'ce-type': PAID_TYPE,
      'ce-source': '/producers/bench',
      'ce-time': '2026-11-30T10:00:00.000Z',
      'upstash-signature': signQStashJwtNode({ key: SIGNING_KEY, url, body, nowMs: Date.now() }),
      'upstash-message-id': `msg_${id}`,
      'upstash-retried': '0',
    },
    body,
  });
}

/** The CPU time, in µs, spent answering `count` requests (their making excluded). */
async function drive(app: Awaited<ReturnType<typeof makeApp>>, count: number): Promise<number> {
  let micros = 0;
  for (let done = 0; done < count; done += CONCURRENCY) {
    const batch = Array.from({ length: Math.min(CONCURRENCY, count - done) }, request);
    const before = process.cpuUsage();
    const responses = await Promise.all(batch.map((r) => app.fetch(r)));
    for (const response of responses) {
      if (response.status !== 200) throw new Error(`${response.status} ${await response.text()}`);
      await response.arrayBuffer();
    }
    const used = process.cpuUsage(before);
    micros += used.user + used.system;
  }
  return micros;
}

/** `inbox`: the file inbox alone, `lanes` events in flight; CPU and wall µs per event. */
async function driveInbox(count: number, lanes: number): Promise<{ cpu: number; wall: number }> {
  const file = join(tmpdir(), `route-cost-inbox-${process.pid}.db`);
  rmSync(file, { force: true });
  const inbox = createLibsqlInbox({ url: `file:${file}` });
  const workUs = Number(process.env.BENCH_WORK_US ?? 0);
  const one = async () => {
    spin(workUs);
    const nowMs = Date.now();
    const key = { handler: OrderPaidV1.type, eventId: `evt-${process.pid}-${seq++}` };
    const jti = `jwt_${randomUUID()}`;
    const admitted = await inbox.recordTokenAndClaim?.({
      ...key,
      jti,
      expiresAtMs: nowMs + 305_000,
      nowMs,
      leaseMs: 60_000,
    });
    if (admitted?.claim !== 'claimed') throw new Error(`not claimed: ${JSON.stringify(admitted)}`);
    await inbox.complete({ ...key, nowMs: Date.now() });
  };
  const run = async (events: number) => {
    let started = 0;
    const lane = async () => {
      while (started < events) {
        started++;
        await one();
      }
    };
    const before = process.cpuUsage();
    const at = performance.now();
    await Promise.all(Array.from({ length: lanes }, lane));
    const used = process.cpuUsage(before);
    return { cpu: (used.user + used.system) / events, wall: ((performance.now() - at) * 1000) / events };
  };
  await run(warm);
  const measured = await run(count);
  await inbox.close();
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
  return measured;
}

/** Holds the event loop for `us` µs of CPU work, as a request's own code would. */
function spin(us: number): void {
  if (us <= 0) return;
  const until = performance.now() + us / 1000;
  while (performance.now() < until) {
    // busy: the route's work, not the inbox's
  }
}

if (kind === 'inbox') {
  const lanes = Number(process.env.BENCH_LANES ?? 20);
  const { cpu, wall } = await driveInbox(n, lanes);
  console.log(
    `inbox (file, ${lanes} in flight, ${process.env.BENCH_WORK_US ?? 0} µs work each): ${n} events, ` +
      `${cpu.toFixed(1)} µs CPU, ${wall.toFixed(1)} µs wall each`,
  );
  process.exit(0);
}

const app = await makeApp();
await drive(app, warm);
const micros = await drive(app, n);
console.log(`${kind}/${crypto}: ${n} requests, ${(micros / Math.max(n, 1)).toFixed(1)} µs CPU each`);
