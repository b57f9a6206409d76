// The raw reference of bench:delivery: undici `request` over a keep-alive Agent (the call and
// agent settings the mesh's sender uses), CONCURRENCY loops POSTing one delivery-shaped request
// (same headers and body sizes as a real delivery, signed once) as fast as the receiver answers.
// Prints `measuring` when the measured window opens and `result <json>` when it closes, then
// stays alive until signalled, so the harness can sample its CPU time over exactly that window.
import { Agent, request } from 'undici';
import { sampleDelivery } from './lib/delivery-fixture.ts';

const target = required('TARGET_URL');
const concurrency = Number(process.env.CONCURRENCY ?? 64);
const warmupMs = Number(process.env.WARMUP_MS ?? 1000);
const durationMs = Number(process.env.DURATION_MS ?? 5000);

const agent = new Agent({ keepAliveTimeout: 30_000, connections: 128, pipelining: 1 });
const delivery = await sampleDelivery(target);
const url = new URL(target);

let counting = false;
let ok = 0;
let failed = 0;
let stop = false;

async function loop(): Promise<void> {
  while (!stop) {
    try {
      const response = await request(url, {
        method: 'POST',
        headers: delivery.headers,
        body: delivery.body,
        dispatcher: agent,
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
await agent.close();
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
