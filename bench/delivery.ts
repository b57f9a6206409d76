// npm run bench:delivery — the delivery side of the mesh, each figure next to a reference measured
// in the same run: (1) dispatcher deliveries/s vs raw undici req/s to the same loopback receiver,
// (2) end-to-end latency from POST /v1/events to the receiver, (3) the handler side's webhook route
// (signature + schema + durable inbox) vs a bare Hono route. Processes under test run on core 0,
// the receiver and wrk on core 1 (when taskset is available). Each figure is the best of
// BENCH_RUNS interleaved runs, with the spread printed as the noise. Each dispatcher run also says
// how much of its life young-generation collections took (bench/lib/gc-preload.mjs), and warns
// past 6 %: objects kept past two of them slow the dispatcher by a sixth.
//
// Env (defaults in brackets): BENCH_RUNS [3]; BENCH_DURATION [4 s] and BENCH_WARMUP [1 s] of the
// raw loop and wrk (the mesh's deliveries, too, are counted from BENCH_WARMUP after the first);
// BENCH_DELIVERIES [60000] preloaded per mesh run; BENCH_CONCURRENCY [64] of the raw loop and of
// the bench's subscription;
// BENCH_CONNECTIONS [50] of wrk; BENCH_KILL_EVENTS [2000] events of the kill check (part 4: the
// dispatcher SIGKILLed half-way, then every accepted delivery counted, restarted, all delivered); BENCH_LATENCY_EVENTS [500] after BENCH_LATENCY_WARMUP [50];
// BENCH_LATENCY_GAP_MS [10] idle before each POST, so each event meets an idle mesh as a lone
// event would (0 = back to back); BENCH_PARTS [1,2,3]; BENCH_INBOX [file] (file | client |
// memory, see bench/delivery-webhook-server.ts); BENCH_QUIET_WAIT [5 s] longest wait for a lull
// on a shared machine before each run (0 = none); BENCH_CPU_PROF [unset] a directory for V8 CPU
// profiles of the dispatcher and the handler servers; BENCH_MESH_ENTRY [unset] one mesh entry for
// every part (part 1 otherwise runs two meshes each run: the figure's, bench/delivery-mesh-entry.ts,
// whose only subscription is the bench's — as many in flight as the raw loop —, and `npm start`'s
// example app, src/example/node-main.ts, whose own order.paid.v1 subscription, also pointed at the
// receiver, allows 16 in flight and runs alone once the bench's is done; parts 2 and 4 run the
// example app); BENCH_RAW_SEND
// [pool] the raw loop's request (`sender`, `request`: the mesh's send path, see
// bench/delivery-raw-client.ts — for splitting a delivery's cost, not for the ratio);
// BENCH_COMPILED [unset] 1 = part 1's mesh and part 3's servers compiled by esbuild and run on plain Node (profiles
// then name lines; summarise one with `tsx bench/cpu-profile-summary.ts <file>`).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBenchContext } from './lib/bench-context.ts';
import { waitForQuiet } from './lib/cpu.ts';
import { type HandlerRouteRun, runHandlerRoute } from './lib/delivery-handler-route.ts';
import { type KillCheck, runKillCheck } from './lib/delivery-kill-check.ts';
import { type LatencyRun, runLatency } from './lib/delivery-latency.ts';
import {
  type DeliveryResults,
  formatMicros,
  formatProcessesCpu,
  formatWrkCpu,
  formatYoungGc,
  ms,
  printSummary,
  wrkErrors,
  youngGcPercent,
} from './lib/delivery-report.ts';
import {
  APP_ENTRY,
  BENCH_ENTRY,
  cpuMicros,
  type DispatchRun,
  ENTRY_OVERRIDE,
  MESH_ENTRY,
  type RawRun,
  runDispatch,
  runRaw,
} from './lib/delivery-throughput.ts';
import { closeClients } from './lib/mesh-client.ts';
import { canPin, nonNegativeInt, positiveInt } from './lib/options.ts';
import type { ServerProcess } from './lib/server.ts';

/** Percent of one core used by others below which a run may start. */
const QUIET_PERCENT = 25;
/** A dispatcher whose young-generation collections take more of its life than this is warned about. */
const YOUNG_GC_WARNING_PERCENT = 6;
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const runs = positiveInt('BENCH_RUNS', 3);
const duration = positiveInt('BENCH_DURATION', 4);
const warmup = positiveInt('BENCH_WARMUP', 1);
const connections = positiveInt('BENCH_CONNECTIONS', 50);
const concurrency = positiveInt('BENCH_CONCURRENCY', 64);
const deliveries = positiveInt('BENCH_DELIVERIES', 60_000);
const latencyEvents = positiveInt('BENCH_LATENCY_EVENTS', 500);
const latencyWarmup = positiveInt('BENCH_LATENCY_WARMUP', 50);
const latencyGap = nonNegativeInt('BENCH_LATENCY_GAP_MS', 10);
const quietWait = nonNegativeInt('BENCH_QUIET_WAIT', 5);
const killEvents = positiveInt('BENCH_KILL_EVENTS', 2_000);
const rawSend = process.env.BENCH_RAW_SEND || 'pool';
const parts = new Set((process.env.BENCH_PARTS || '1,2,3,4').split(',').map((p) => p.trim()));
const cores = availableParallelism();
const nonce = Math.random().toString(36).slice(2, 8);
const ctx = createBenchContext(root, cores, canPin(cores));

async function main(): Promise<number> {
  console.log('hookmesh delivery bench');
  console.log(
    ctx.pinned
      ? 'pinned: mesh / handler server / raw client on core 0; receiver and wrk on core 1'
      : 'UNPINNED: taskset or a second core is missing, processes share cores (noisier figures)',
  );
  console.log(`${runs} interleaved runs per figure, best kept; temp dir ${ctx.dir}`);
  console.log(`source: ${describeSource()}\n`);
  if (!existsSync(resolve(root, MESH_ENTRY))) {
    console.log(`SKIPPED: ${MESH_ENTRY} does not exist`);
    return 1;
  }

  const results: DeliveryResults = {
    raw: [],
    dispatch: [],
    app: [],
    latency: [],
    hono: [],
    webhook: [],
    kill: [],
    warnings: [],
    connections,
    latencyGapMs: latencyGap,
  };
  if (parts.has('1') || parts.has('2') || parts.has('4')) {
    const sink = await ctx.start({ name: 'sink', script: 'bench/delivery-sink.ts', env: {}, core: 1 });
    try {
      for (let run = 1; run <= runs; run++) {
        if (parts.has('1')) await throughputRun(sink, run, results);
        if (parts.has('2')) await latencyRun(sink, run, results);
      }
      if (parts.has('4')) await killRun(sink, results);
    } finally {
      await ctx.stop(sink);
    }
  }
  if (parts.has('3')) {
    for (let run = 1; run <= runs; run++) {
      for (const kind of ['hono', 'webhook'] as const) await handlerRun(kind, run, results);
    }
  }
  await closeClients();
  return printSummary(results);
}

async function throughputRun(sink: ServerProcess, run: number, results: DeliveryResults): Promise<void> {
  await lull(`raw run ${run}`);
  const r: RawRun = await runRaw(ctx, sink, { warmupS: warmup, durationS: duration, concurrency });
  results.raw.push(r);
  const failed = r.failed === 0 ? '' : ` (${r.failed} failed)`;
  console.log(
    `[1] run ${run} raw undici${rawSend === 'pool' ? '' : ` (${rawSend})`}: ${r.perSecond.toFixed(0)} req/s${failed}  ${formatProcessesCpu(r.cpu, 'client', 'sink')}` +
      formatMicros(cpuMicros(r), 'client CPU', 'request'),
  );
  // The figure: a mesh whose only subscription is the bench's (the raw loop's work); then, for
  // context, `npm start`'s app with its own subscription beside it (unless one entry is forced).
  const meshes: [string, DispatchRun[], string][] =
    ENTRY_OVERRIDE === null
      ? [
          [BENCH_ENTRY, results.dispatch, 'mesh:      '],
          [APP_ENTRY, results.app, 'mesh (app):'],
        ]
      : [[ENTRY_OVERRIDE, results.dispatch, 'mesh:      ']];
  for (const [entry, list, label] of meshes) {
    await lull(`${label.trim()} run ${run}`);
    // The example app makes two deliveries per event (ours and its own subscription's).
    const events = entry === APP_ENTRY ? Math.ceil(deliveries / 2) : deliveries;
    const d: DispatchRun = await runDispatch(ctx, sink, { entry, events, run, concurrency, warmupS: warmup });
    list.push(d);
    console.log(
      `[1] run ${run} ${label} ${d.perSecond.toFixed(0)} deliveries/s (${(d.perSecond * d.seconds).toFixed(0)} of ${d.deliveries} ` +
        `in the ${d.seconds.toFixed(2)} s after a ${warmup} s warm-up; ` +
        `sink saw ${d.sinkPerSecond.toFixed(0)}/s; preload ${d.preloadPerSecond.toFixed(0)} events/s)  ` +
        formatProcessesCpu(d.cpu, 'mesh', 'sink') +
        formatMicros(cpuMicros(d), 'mesh CPU', 'delivery') +
        formatYoungGc(d.gc),
    );
    if (d.gc !== null && youngGcPercent(d.gc) > YOUNG_GC_WARNING_PERCENT) {
      results.warnings.push(
        `${label.trim()} run ${run}: young-generation collections took ${youngGcPercent(d.gc).toFixed(1)} % of the dispatcher's life ` +
          `(2-3 % when objects die young; 8-9 % when the undici sender's Set kept every attempt past two of them)`,
      );
    }
    const delivered = d.statuses.delivered ?? 0;
    if (delivered !== d.deliveries || d.attempts !== d.deliveries) {
      results.warnings.push(
        `${label.trim()} run ${run}: ${delivered} of ${d.deliveries} delivered in ${d.attempts} attempts (${JSON.stringify(d.statuses)})`,
      );
    }
  }
}

/** After the throughput runs: the dispatcher SIGKILLed mid-way, then a count (see delivery-kill-check.ts). */
async function killRun(sink: ServerProcess, results: DeliveryResults): Promise<void> {
  await lull('kill check');
  const k: KillCheck = await runKillCheck(ctx, sink, { events: killEvents, concurrency });
  results.kill.push(k);
  console.log(
    `[4] kill check: ${k.deliveries} deliveries; at the SIGKILL ${k.atKill.rows} rows, ${k.atKill.delivered} delivered, ` +
      `${k.atKill.seen} seen by the sink (${JSON.stringify(k.atKill.statuses)}); after a restart ` +
      `${k.after.delivered} delivered, ${k.after.seen} distinct seen in ${k.after.requests} requests — ` +
      (k.problems.length === 0 ? 'nothing lost' : k.problems.join('; ')),
  );
  for (const problem of k.problems) results.warnings.push(`kill check: ${problem}`);
}

async function latencyRun(sink: ServerProcess, run: number, results: DeliveryResults): Promise<void> {
  await lull(`latency run ${run}`);
  const l: LatencyRun = await runLatency(ctx, sink, {
    warmup: latencyWarmup,
    events: latencyEvents,
    run,
    gapMs: latencyGap,
  });
  results.latency.push(l);
  console.log(
    `[2] run ${run} e2e p50 ${ms(l.e2e.p50)} p99 ${ms(l.e2e.p99)} max ${ms(l.e2e.max)}; ` +
      `POST p50 ${ms(l.post.p50)} p99 ${ms(l.post.p99)}; ${l.beforeAnswer}/${l.samples} arrived before the 202; ` +
      `${l.deliveriesPerEvent.toFixed(1)} sink POSTs per event  ` +
      formatProcessesCpu(l.cpu, 'mesh', 'sink'),
  );
}

async function handlerRun(kind: 'hono' | 'webhook', run: number, results: DeliveryResults): Promise<void> {
  await lull(`${kind} run ${run}`);
  const r: HandlerRouteRun = await runHandlerRoute(ctx, kind, {
    warmupS: warmup,
    durationS: duration,
    connections,
    run,
    nonce,
  });
  (kind === 'hono' ? results.hono : results.webhook).push(r);
  const m = r.measured;
  const cpuUs = cpuPerRequest(r);
  const inbox = r.inboxDone === null ? '' : `; inbox rows done ${r.inboxDone} / 200s seen ${r.answered200}`;
  console.log(
    `[3] run ${run} ${kind.padEnd(7)} ${m.okPerSecond.toFixed(0)} req/s, p50 ${ms(m.p50Ms)} p99 ${ms(m.p99Ms)}, ` +
      `errors ${wrkErrors(r)}${inbox}  ${formatWrkCpu(r.cpu)}` +
      (cpuUs === null ? '' : `, server CPU ${cpuUs.toFixed(0)} µs/request`),
  );
  // wrk stops counting with up to `connections` requests in flight (twice: warm-up, measured); the
  // server still handles those, so the inbox may hold that many more rows than wrk saw answered.
  const extra = r.inboxDone === null ? 0 : r.inboxDone - r.answered200;
  if (extra < 0 || extra > 2 * connections) {
    results.warnings.push(`handler run ${run}: ${r.inboxDone} inbox rows done, ${r.answered200} 200s seen`);
  }
}

/**
 * The server's CPU time (all its threads) per request answered: on a shared machine the
 * throughput is partly the scheduler's, CPU per request mostly the code's own. (A durable route
 * also waits on fsync, which costs it wall time, not CPU: compare like with like.)
 */
function cpuPerRequest(r: HandlerRouteRun): number | null {
  if (r.cpu === null || r.measured.requests === 0) return null;
  return ((r.cpu.server / 100) * r.measured.seconds * 1e6) / r.measured.requests;
}

/** Waits for other processes to quieten down (up to BENCH_QUIET_WAIT s); says so when they did not. */
async function lull(label: string): Promise<void> {
  if (quietWait === 0) return;
  const load = await waitForQuiet({
    pids: [],
    cores,
    thresholdPercent: QUIET_PERCENT,
    maxMs: quietWait * 1000,
  });
  if (load !== null && load >= QUIET_PERCENT) {
    console.log(
      `    (other processes still used ${load.toFixed(0)}% of a core after ${quietWait} s; starting ${label} anyway)`,
    );
  }
}

/** The commit measured, and whether src/ had uncommitted changes (others may be editing it). */
function describeSource(): string {
  const git = (...args: string[]) => spawnSync('git', args, { cwd: root, encoding: 'utf8' }).stdout.trim();
  const head = git('rev-parse', '--short', 'HEAD') || 'unknown commit';
  const dirty = git('status', '--porcelain', '--', 'src').split('\n').filter(Boolean).length;
  return dirty === 0 ? head : `${head} + ${dirty} uncommitted file(s) in src/`;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
