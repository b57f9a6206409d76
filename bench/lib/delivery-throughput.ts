import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import { type Client, createClient } from '@libsql/client';
import { type BenchContext, cpuProfileOptions, withServerLog } from './bench-context.ts';
import { compileForNode } from './compile.ts';
import { type ProcessesShares, processesShares, snapshotProcesses } from './cpu.ts';
import { meshEnv, orderPaidEvent, PAID_TYPE } from './delivery-fixture.ts';
import { createSubscription, now, postEvents, resetSink, sinkStats } from './mesh-client.ts';
import type { ServerProcess } from './server.ts';

// Part 1 of bench:delivery: how many deliveries per second the mesh's dispatcher gets through,
// next to what raw undici gets from the same loopback receiver.

/** The mesh as `npm start` runs it: the example app, with its code-declared subscriptions. */
export const APP_ENTRY = 'src/example/node-main.ts';
/**
 * The mesh of `npm start` through its public options with none of the example's subscriptions:
 * part 1's figure, whose only subscription is the bench's, as many in flight as the raw loop keeps.
 */
export const BENCH_ENTRY = 'bench/delivery-mesh-entry.ts';
/** BENCH_MESH_ENTRY: one entry for every part, for experiments (part 1 then runs it alone). */
export const ENTRY_OVERRIDE = process.env.BENCH_MESH_ENTRY || null;
/** The latency run's and the kill check's mesh: `npm start`'s app unless overridden. */
export const MESH_ENTRY = ENTRY_OVERRIDE ?? APP_ENTRY;

const compiledMeshes = new Map<string, Promise<string>>();

/**
 * Part 1's mesh script for `entry`: under tsx, or with BENCH_COMPILED=1 compiled once by esbuild
 * and run on plain Node, as deployed — a CPU profile then names each function's lines (under tsx a
 * module is one line). Written two levels below the root, as `src/example/` is, so the mesh finds
 * `migrations/` and the packages as from its source.
 */
export function meshScript(ctx: BenchContext, entry: string): Promise<string> {
  if (process.env.BENCH_COMPILED !== '1') return Promise.resolve(entry);
  let compiled = compiledMeshes.get(entry);
  if (compiled === undefined) {
    const name = `${basename(entry, '.ts')}.mjs`;
    compiled = compileForNode(join(ctx.root, entry), join(ctx.root, '.bench-build', 'delivery', name));
    compiledMeshes.set(entry, compiled);
  }
  return compiled;
}

export interface RawRun {
  perSecond: number;
  ok: number;
  failed: number;
  /** client, sink */
  cpu: ProcessesShares | null;
}

export interface DispatchRun {
  events: number;
  /** Every delivery the preload created: ours, and the example's `order.paid.v1` subscription's when it runs. */
  deliveries: number;
  /** Those delivered after the warm-up, counted from its end to the last commit seen. */
  perSecond: number;
  /** Requests per second at the sink, first to last (excludes the tail of recording attempts). */
  sinkPerSecond: number;
  seconds: number;
  preloadPerSecond: number;
  statuses: Record<string, number>;
  attempts: number;
  /** mesh (dispatcher), sink */
  cpu: ProcessesShares | null;
  /** V8's young-generation collections in the dispatcher over its life (gc-preload.mjs), or null if it wrote none. */
  gc: GcShares | null;
}

/** What gc-preload.mjs writes: the process's life, and its young-generation collections' count and time. */
export interface GcShares {
  lifeMs: number;
  young: { count: number; ms: number };
}

/** The preload that writes a server's `GcShares` to HOOKMESH_BENCH_GC_FILE as it exits. */
export const GC_PRELOAD = join(import.meta.dirname, 'gc-preload.mjs');

/** A dispatcher's `GcShares`, as its preload wrote them at exit; null when it did not (killed). */
function readGcShares(file: string): GcShares | null {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as GcShares) : null;
}

/** CPU time per request or delivery of the process measured first (client, mesh), in µs. */
export function cpuMicros(run: { perSecond: number; cpu: ProcessesShares | null }): number | null {
  const share = run.cpu?.processes[0];
  if (share === null || share === undefined || run.perSecond <= 0) return null;
  return ((share / 100) * 1e6) / run.perSecond;
}

/** Raw undici from core 0 to the sink on core 1, `concurrency` requests in flight. */
export async function runRaw(
  ctx: BenchContext,
  sink: ServerProcess,
  options: { warmupS: number; durationS: number; concurrency: number },
): Promise<RawRun> {
  const child = ctx.spawnPiped(
    'bench/delivery-raw-client.ts',
    {
      TARGET_URL: `${sink.url}/hook`,
      CONCURRENCY: String(options.concurrency),
      WARMUP_MS: String(options.warmupS * 1000),
      DURATION_MS: String(options.durationS * 1000),
    },
    0,
  );
  const pids = [child.pid ?? 0, sink.child.pid ?? 0];
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`the raw client exited with ${code} before its result`))),
  );
  const lines = createInterface({ input: child.stdout! });
  const result = (async () => {
    let before: ReturnType<typeof snapshotProcesses> = null;
    for await (const line of lines) {
      if (line === 'measuring') before = snapshotProcesses(pids, ctx.cores);
      if (line.startsWith('result ')) {
        const after = snapshotProcesses(pids, ctx.cores);
        const parsed = JSON.parse(line.slice('result '.length)) as {
          ok: number;
          failed: number;
          seconds: number;
        };
        return {
          perSecond: parsed.ok / parsed.seconds,
          ok: parsed.ok,
          failed: parsed.failed,
          cpu: before === null || after === null ? null : processesShares(before, after),
        };
      }
    }
    throw new Error('the raw client closed its output before its result');
  })();
  try {
    return await Promise.race([result, exited]);
  } finally {
    exited.catch(() => {});
    if (child.exitCode === null && child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
  }
}

/**
 * Preloads the outbox through the API (HOOKMESH_ROLE=api, so nothing is delivered yet), then starts
 * HOOKMESH_ROLE=dispatcher on core 0 and times until every delivery is `delivered`.
 */
export async function runDispatch(
  ctx: BenchContext,
  sink: ServerProcess,
  options: { entry: string; events: number; run: number; concurrency: number; warmupS: number },
): Promise<DispatchRun> {
  const dbUrl = `file:${ctx.dir}/dispatch-${options.run}-${basename(options.entry, '.ts')}.db`;
  const env = { ...meshEnv(sink.url), DATABASE_URL: dbUrl };

  const api = await ctx.start({
    name: 'mesh-api',
    script: await meshScript(ctx, options.entry),
    env: { ...env, HOOKMESH_ROLE: 'api' },
    core: 0,
  });
  let preloadPerSecond: number;
  try {
    preloadPerSecond = await withServerLog(api, async () => {
      // As many in flight as the raw loop keeps (a subscription's default is 16): the same work.
      await createSubscription(api.url, PAID_TYPE, `${sink.url}/hook`, {
        maxConcurrency: options.concurrency,
      });
      const started = now();
      await preload(api.url, options.events, `d${options.run}`);
      return options.events / ((now() - started) / 1000);
    });
  } finally {
    await ctx.stop(api);
  }

  const db = createClient({ url: dbUrl });
  try {
    const deliveries = await count(db, 'SELECT count(*) FROM deliveries');
    await resetSink(sink.url);
    const gcFile = join(ctx.dir, `gc-dispatch-${options.run}-${basename(options.entry, '.ts')}.json`);
    const dispatcher = await ctx.start({
      name: 'mesh-dispatcher',
      script: await meshScript(ctx, options.entry),
      env: { ...env, HOOKMESH_ROLE: 'dispatcher', HOOKMESH_BENCH_GC_FILE: gcFile },
      core: 0,
      ready: false,
      nodeOptions: ['--import', GC_PRELOAD, ...cpuProfileOptions('dispatcher')],
    });
    let measured: Omit<DispatchRun, 'events' | 'deliveries' | 'preloadPerSecond' | 'gc'>;
    try {
      measured = await withServerLog(dispatcher, () =>
        measureDispatch(ctx, { sink, dispatcher, db, deliveries, warmupS: options.warmupS }),
      );
    } finally {
      // SIGTERM: the mesh closes and exits, and its preload writes the collections' figures.
      await ctx.stop(dispatcher);
    }
    return { events: options.events, deliveries, preloadPerSecond, ...measured, gc: readGcShares(gcFile) };
  } finally {
    db.close();
  }
}

/**
 * From `warmupS` after the dispatcher's first request at the sink (the raw loop's warm-up: the JIT
 * and the connections warm in both) until the database shows every delivery `delivered` (the
 * sink's count gates the costlier database polling).
 */
async function measureDispatch(
  ctx: BenchContext,
  run: { sink: ServerProcess; dispatcher: ServerProcess; db: Client; deliveries: number; warmupS: number },
): Promise<Omit<DispatchRun, 'events' | 'deliveries' | 'preloadPerSecond' | 'gc'>> {
  const { sink, dispatcher, db, deliveries } = run;
  const pids = [dispatcher.child.pid ?? 0, sink.child.pid ?? 0];
  const deadline = Date.now() + 60_000 + deliveries * 5;
  const alive = () => {
    if (dispatcher.child.exitCode !== null) throw new Error('the dispatcher exited');
    if (Date.now() > deadline) throw new Error('the deliveries did not finish in time');
  };
  while ((await sinkStats(sink.url)).count === 0) {
    alive();
    await sleep(5);
  }
  await sleep(run.warmupS * 1000);
  const warm = await sinkStats(sink.url);
  const warmAt = now();
  const before = snapshotProcesses(pids, ctx.cores);
  if (warm.count >= deliveries) throw new Error('the warm-up took every delivery: raise BENCH_DELIVERIES');
  while ((await sinkStats(sink.url)).count < deliveries) {
    alive();
    await sleep(20);
  }
  while ((await count(db, "SELECT count(*) FROM deliveries WHERE status = 'delivered'")) < deliveries) {
    alive();
    await sleep(5);
  }
  const finished = now();
  const after = snapshotProcesses(pids, ctx.cores);
  const stats = await sinkStats(sink.url);
  const statuses: Record<string, number> = {};
  const byStatus = await db.execute('SELECT status, count(*) AS n FROM deliveries GROUP BY status');
  for (const row of byStatus.rows) statuses[String(row.status)] = Number(row.n);
  const seconds = (finished - warmAt) / 1000;
  return {
    perSecond: (deliveries - warm.count) / seconds,
    sinkPerSecond: (stats.count - warm.count) / ((stats.last - warmAt) / 1000),
    seconds,
    statuses,
    attempts: await count(db, 'SELECT count(*) FROM attempt_log'),
    cpu: before === null || after === null ? null : processesShares(before, after),
  };
}

/** `events` OrderPaid events in arrays of 100, a few requests in flight (ids tagged with `tag`). */
export async function preload(meshUrl: string, events: number, tag: string): Promise<void> {
  const batch = 100;
  let next = 0;
  const worker = async () => {
    while (next < events) {
      const start = next;
      next = Math.min(events, next + batch);
      const body = [];
      for (let n = start; n < next; n++) body.push(orderPaidEvent(`evt-${tag}-${n}`, n));
      await postEvents(meshUrl, body);
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
}

async function count(db: Client, sql: string): Promise<number> {
  return Number((await db.execute(sql)).rows[0]![0]);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
