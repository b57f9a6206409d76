// The raw reference of bench:delivery: the fastest plain undici loop this machine runs — a
// keep-alive `Pool` bound to the receiver's origin, `Pool.request` with a path (no URL parsing, no
// agent lookup), no per-request AbortSignal — CONCURRENCY loops POSTing one delivery-shaped
// request (same headers and body sizes as a real delivery, signed once) as fast as the receiver
// answers. Deliberately not the mesh's send path: a reference slowed the same way as the mesh
// would hide the cost the ratio should show (TOOLCHAIN.md, "Figures").
// Prints `measuring` when the measured window opens and `result <json>` when it closes, then
// stays alive until signalled, so the harness can sample its CPU time over exactly that window.
import { Pool } from 'undici';
import { sampleDelivery } from './lib/delivery-fixture.ts';

const target = required('TARGET_URL');
const concurrency = Number(process.env.CONCURRENCY ?? 64);
const warmupMs = Number(process.env.WARMUP_MS ?? 1000);
const durationMs = Number(process.env.DURATION_MS ?? 5000);

const url = new URL(target);
const pool = new Pool(url.origin, { keepAliveTimeout: 30_000, connections: concurrency, pipelining: 1 });
const delivery = await sampleDelivery(target);
const path = url.pathname + url.search;

let counting = false;
let ok = 0;
let failed = 0;
let stop = false;

async function loop(): Promise<void> {
  while (!stop) {
    try {
      const response = await pool.request({
        path,
        method: 'POST',
        headers: delivery.headers,
        body: delivery.body,
      });
      await response.body.text();
      if (counting) {
        if (response.statusCode >= 200 && response.statusCode < 300) ok++;
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
