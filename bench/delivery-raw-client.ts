// The raw reference of bench:delivery: the fastest plain undici loop this machine runs — a
// keep-alive `Pool` bound to the receiver's origin, `Pool.request` with a path (no URL parsing, no
// agent lookup), no per-request AbortSignal — CONCURRENCY loops POSTing one delivery-shaped
// request (same headers and body sizes as a real delivery, signed once) as fast as the receiver
// answers. Deliberately not the mesh's send path: a reference slowed the same way as the mesh
// would hide the cost the ratio should show (TOOLCHAIN.md, "Figures").
// BENCH_RAW_SEND (default `pool`) swaps the loop's request for the mesh's own, to split what a
// delivery costs between the bytes and our code: `sender` sends the same signed request through
// the mesh's sender (createUndiciSender), `request` also builds each request as the dispatcher
// does (signDeliveryRequest with the node signer, synchronous, then toSignedDeliveryRequest: a fresh
// signature and header object per request, no promise in between).
// Only `pool` is the ratio's reference.
// Prints `measuring` when the measured window opens and `result <json>` when it closes, then
// stays alive until signalled, so the harness can sample its CPU time over exactly that window.
import { Pool } from 'undici';
import { signDeliveryRequest, toSignedDeliveryRequest } from '../src/core/delivery-request.ts';
import { signQStashJwtNode } from '../src/transports/node-signer.ts';
import { createUndiciSender } from '../src/transports/undici-sender.ts';
import {
  orderPaidBody,
  PAID_TYPE,
  PRODUCER_NAME,
  SIGNING_KEY,
  sampleDelivery,
} from './lib/delivery-fixture.ts';

const target = required('TARGET_URL');
const concurrency = Number(process.env.CONCURRENCY ?? 64);
const warmupMs = Number(process.env.WARMUP_MS ?? 1000);
const durationMs = Number(process.env.DURATION_MS ?? 5000);

const url = new URL(target);
const pool = new Pool(url.origin, { keepAliveTimeout: 30_000, connections: concurrency, pipelining: 1 });
const delivery = await sampleDelivery(target);
const path = url.pathname + url.search;
const mode = process.env.BENCH_RAW_SEND || 'pool';
if (mode !== 'pool' && mode !== 'sender' && mode !== 'request') throw new Error(`BENCH_RAW_SEND=${mode}?`);
const sender =
  mode === 'pool' ? null : createUndiciSender({ allowPrivateNetwork: true, connections: concurrency });
let sent = 0;

/** One POST as `mode` sends it; its status. */
async function post(): Promise<number> {
  if (mode === 'pool') {
    const response = await pool.request({
      path,
      method: 'POST',
      headers: delivery.headers,
      body: delivery.body,
    });
    await response.body.text();
    return response.statusCode;
  }
  let request = delivery;
  if (mode === 'request') {
    const input = {
      url: target,
      event: {
        id: '0199c0de-1234-7abc-8def-0123456789ab',
        type: PAID_TYPE,
        source: `/producers/${PRODUCER_NAME}`,
        time: new Date().toISOString(),
        data: orderPaidBody(sent++),
      },
      traceparent: null,
      retried: 0,
      messageId: `msg_${'0123456789abcdef'.repeat(2)}_0`,
      signingKey: SIGNING_KEY,
      nowMs: Date.now(),
      sign: signQStashJwtNode,
    };
    const signature = signDeliveryRequest(input);
    request = toSignedDeliveryRequest(input, typeof signature === 'string' ? signature : await signature);
  }
  return (await sender!(request, { trusted: true, timeoutMs: 15_000 })).status;
}

let counting = false;
let ok = 0;
let failed = 0;
let stop = false;

async function loop(): Promise<void> {
  while (!stop) {
    try {
      const status = await post();
      if (counting) {
        if (status >= 200 && status < 300) ok++;
        else failed++;
      }
    } catch {
      if (counting) failed++;
    }
  }
}

const loops = Array.from({ length: concurrency }, () => loop());
await sleep(warmupMs);
const cpuBefore = process.cpuUsage();
const started = performance.now();
counting = true;
console.log('measuring');
await sleep(durationMs);
counting = false;
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
stop = true;
console.log(
  `result ${JSON.stringify({ ok, failed, seconds, cpuPercent: (cpu.user + cpu.system) / 10_000 / seconds })}`,
);
await Promise.allSettled(loops);
await pool.close();
await sender?.close();
// Stay until the harness has sampled /proc; never outlive it by much.
setTimeout(() => process.exit(0), 30_000);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0));

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
