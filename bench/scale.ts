// npm run bench:scale — how cost grows with the work (issues 11 and 12). The same ingest and
// delivery measurements on an empty store and on one holding 1,000,000 delivered deliveries (and
// 10,000 dead), each ratio against the goal (within 10 %; ingest in rounds of alternating order,
// with the mesh's reads and writes per request); bytes per event, per table and index; ingest
// beside the real retention job through a fixed slice of its purge of those 1,000,000 events (its
// rate, and the whole purge projected from it); how long a 10 GB D1 database lasts at 100
// events/s; the mesh's resident memory through a delivery run.
//
// Options: --quick (a 20,000-event store, short runs: a smoke test of about a minute),
// --minutes=N (the delivery run whose memory is sampled; 1 by default, 5 for the full run),
// --fresh (fill the full store again instead of copying the one cached by an earlier run),
// --purge (only the purge figure, on a 200,000-event store: ingest p99 before, during and after
// the retention job purges it, the ratio and its verdict; a few minutes),
// --purge-variants=A,B,… (with --purge: one measurement per variant, each on a fresh copy of the
// store, for an A/B inside one run; a variant is `key=value` pairs joined by `+`, passed to
// bench/scale-retention.ts as RETENTION_<KEY> — e.g. `batch=500,batch=200`),
// --purge-rounds=N (with --purge: rounds per variant, each on a fresh copy, latencies pooled; 3),
// --rounds=N (delivery and ingest on the empty and the full store, N rounds each; 3, quick 2),
// --purge-seconds=N (step 3: how long the retention job runs beside ingest; 75, quick 15).
// Env: BENCH_DURATION [10 s] and BENCH_WARMUP [2 s] of each wrk run, BENCH_CONNECTIONS [50],
// BENCH_EVENTS [10000] preloaded for the delivery measurement.

import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Database from 'libsql';
import { LOCAL_RETENTION_BATCH, RETENTION_LOCK_SHARE } from '../src/core/retention.ts';
import { createBenchContext, withServerLog } from './lib/bench-context.ts';
import { compileForNode } from './lib/compile.ts';
import { snapshotCpu } from './lib/cpu.ts';
import { meshEnv } from './lib/delivery-fixture.ts';
import { closeClients, createSubscription, postEvents, resetSink, sinkStats } from './lib/mesh-client.ts';
import { canPin, positiveInt } from './lib/options.ts';
import { fillStore } from './lib/scale-fill.ts';
import { type ServerProcess, waitUntilReady } from './lib/server.ts';
import { formatStoreBytes, measureContentBytes, measureStoreBytes } from './lib/store-bytes.ts';
import { storeCacheKey } from './lib/store-cache-key.ts';
import { runWrk, type WrkResult } from './lib/wrk.ts';

const GOAL_RATIO = 0.9;
const GOAL_RSS_MIB = 200;
/** Growth of the mean RSS from the second fifth of the run to the last that still counts as flat. */
const FLAT_MIB = 10;
const DAY = 86_400_000;
const D1_LIMIT_BYTES = 10e9;
const RATE = 100;
const RETENTION_DAYS = 7;
/** One retention pass purges at most this many events (runRetentionPass: RETENTION_PASS_EVENTS). */
const EVENTS_PER_PASS = 100_000;
/**
 * Step 3's wrk slices (s): the job runs through one, is held off between two batches through the
 * next, and so on, for `--purge-seconds` of the job running. The whole million at the local mesh's
 * pacing (~334–574 events/s beside saturating ingest) takes 30–50 minutes: the bench measures a
 * slice of it and projects the rest.
 */
const PURGE_SLICE_SECONDS = 5;

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const fresh = args.includes('--fresh');
const purgeOnly = args.includes('--purge');
const variantsArg = args.find((a) => a.startsWith('--purge-variants='));
const purgeVariants = variantsArg ? variantsArg.slice('--purge-variants='.length).split(',') : [''];
const roundsArg = args.find((a) => a.startsWith('--purge-rounds='));
const purgeRounds = roundsArg ? Number(roundsArg.slice('--purge-rounds='.length)) : 3;
if (!Number.isInteger(purgeRounds) || purgeRounds <= 0)
  throw new Error('--purge-rounds must be a positive integer');
const minutesArg = args.find((a) => a.startsWith('--minutes='));
const rssSeconds = minutesArg
  ? Math.round(Number(minutesArg.slice('--minutes='.length)) * 60)
  : quick
    ? 15
    : 60;
if (!Number.isFinite(rssSeconds) || rssSeconds <= 0) throw new Error(`--minutes must be a positive number`);
const delivered = quick ? 20_000 : purgeOnly ? 200_000 : 1_000_000;
const dead = quick ? 200 : purgeOnly ? 2_000 : 10_000;
const duration = positiveInt('BENCH_DURATION', quick ? 3 : 10);
const warmup = positiveInt('BENCH_WARMUP', quick ? 1 : 2);
const connections = positiveInt('BENCH_CONNECTIONS', 50);
const events = positiveInt('BENCH_EVENTS', quick ? 2_000 : 10_000);
const storeRoundsArg = args.find((a) => a.startsWith('--rounds='));
const rounds = storeRoundsArg ? Number(storeRoundsArg.slice('--rounds='.length)) : quick ? 2 : 3;
if (!Number.isInteger(rounds) || rounds <= 0) throw new Error('--rounds must be a positive integer');
const purgeSecondsArg = args.find((a) => a.startsWith('--purge-seconds='));
const purgeSeconds = purgeSecondsArg
  ? Number(purgeSecondsArg.slice('--purge-seconds='.length))
  : quick
    ? 15
    : 75;
if (!Number.isFinite(purgeSeconds) || purgeSeconds <= 0)
  throw new Error('--purge-seconds must be a positive number');

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MESH = 'bench/delivery-mesh-entry.ts';
const TYPE = 'order.created.v1';
const cores = availableParallelism();
const ctx = createBenchContext(root, cores, canPin(cores));
const nonce = Math.random().toString(36).slice(2, 8);
let serial = 0;

interface DeliveryRun {
  perSecond: number;
  deliveries: number;
  seconds: number;
}

async function main(): Promise<number> {
  console.log(
    `hookmesh scale bench${quick ? ' (--quick: a small store, short runs — a smoke test, not the figures)' : ''}`,
  );
  console.log(
    `${ctx.pinned ? 'pinned: mesh on core 0, sink and wrk on core 1' : 'UNPINNED (noisier figures)'}; temp dir ${ctx.dir}`,
  );
  console.log(
    `full store: ${delivered.toLocaleString('en')} delivered + ${dead.toLocaleString('en')} dead deliveries`,
  );
  const sink = await ctx.start({ name: 'sink', script: 'bench/delivery-sink.ts', env: {}, core: 1 });
  ownPids.push(sink.child.pid ?? 0);
  try {
    return await run(sink);
  } finally {
    await ctx.stop(sink);
    await closeClients();
  }
}

const ratio = (value: number, baseline: number) => (baseline > 0 ? value / baseline : 0);
const verdict = (met: boolean) => (met ? 'MET' : 'NOT MET');

async function run(sink: ServerProcess): Promise<number> {
  if (purgeOnly) return await purgeFigure(sink);
  const emptyFile = join(ctx.dir, 'empty.db');
  const fullFile = join(ctx.dir, 'full.db');
  await prepare(sink, emptyFile);
  const fillTo = await fullStore(sink, fullFile);
  const full = measureStoreBytes(fullFile);
  console.log(
    `\nbytes per event, ${full.domainEvents.toLocaleString('en')} events (dbstat, pages per table and index):`,
  );
  for (const line of formatStoreBytes(full)) console.log(line);
  const perEvent = full.used / full.domainEvents;
  const content = measureContentBytes(fullFile);
  console.log(
    `  of which the producer's: ${content.domain.toFixed(0)} B (domain event data + metadata) and ` +
      `${content.integration.toFixed(0)} B (integration event data); the mesh's own: ` +
      `${(perEvent - content.domain - content.integration).toFixed(0)} B/event`,
  );

  console.log(
    `\n[1] delivery, ${rounds} rounds on the empty and the full store, the order alternating; a fresh copy of the empty store each round`,
  );
  const deliveries = await inRounds(
    emptyFile,
    (file) => deliver(sink, file),
    () => deliver(sink, fullFile),
    (run) => run.perSecond,
  );
  const emptyDelivery = poolDeliveries(deliveries.empty);
  const fullDelivery = poolDeliveries(deliveries.full);
  console.log(
    `\n[2] ingest, ${rounds} rounds on the empty and the full store, the order alternating; a fresh copy of the empty store each round`,
  );
  const ingests = await inRounds(
    emptyFile,
    (file) => ingest(sink, file, 'empty'),
    () => ingest(sink, fullFile, 'full'),
    (run) => run.okPerSecond,
  );
  const emptyIngest = pool(ingests.empty);
  const fullIngest = pool(ingests.full);

  const slice = PURGE_SLICE_SECONDS;
  const pairs = Math.max(1, Math.ceil(purgeSeconds / slice));
  console.log(
    `\n[3] ingest beside the retention job purging the full store: a fixed slice of the purge, ` +
      `${pairs} slices of ${slice} s with the job running, each followed by one with it held off between two batches ` +
      `(the job as the local mesh runs it: batches of ${LOCAL_RETENTION_BATCH}, at most ${RETENTION_LOCK_SHARE} of the write lock; then stopped)`,
  );
  // Counted in the file: a pass that fails part way keeps the batches it committed.
  const filledLeft = () => countOlder(fullFile, fillTo);
  const filledBefore = filledLeft();
  const purge = await alternatingPurge(fullFile, fillTo, {}, { slice, pairs });
  const purged = filledBefore - filledLeft();
  const purgeLeft = filledBefore - purged - dead;
  const fileAfterPurge = { bytes: statSync(fullFile).size, freePages: freelistCount(fullFile) };

  console.log(
    `\n[4] the mesh's memory through a ${rssSeconds} s delivery run (full store, events posted meanwhile; the mesh compiled to JavaScript, as deployed, not under tsx)`,
  );
  const rss = await sampleRss(sink, fullFile);

  // The summary.
  const rows: string[][] = [
    ['figure', 'empty store', 'full store', 'full / empty', `goal ≥ ${GOAL_RATIO}`],
    [
      'delivery (deliveries/s)',
      emptyDelivery.perSecond.toFixed(0),
      fullDelivery.perSecond.toFixed(0),
      ratio(fullDelivery.perSecond, emptyDelivery.perSecond).toFixed(2),
      verdict(ratio(fullDelivery.perSecond, emptyDelivery.perSecond) >= GOAL_RATIO),
    ],
    [
      'ingest (2xx/s)',
      emptyIngest.okPerSecond.toFixed(0),
      fullIngest.okPerSecond.toFixed(0),
      ratio(fullIngest.okPerSecond, emptyIngest.okPerSecond).toFixed(2),
      verdict(ratio(fullIngest.okPerSecond, emptyIngest.okPerSecond) >= GOAL_RATIO),
    ],
    [
      'ingest p99 (ms)',
      emptyIngest.p99Ms.toFixed(1),
      fullIngest.p99Ms.toFixed(1),
      ratio(fullIngest.p99Ms, emptyIngest.p99Ms).toFixed(2),
      `${verdict(fullIngest.p99Ms <= emptyIngest.p99Ms / GOAL_RATIO)} (≤ ${(1 / GOAL_RATIO).toFixed(2)})`,
    ],
  ];
  const perRound = (label: string, empty: number[], full: number[], ratios: number[]) => {
    const sorted = [...ratios].sort((a, b) => a - b);
    rows.push([
      label,
      empty.map((x) => x.toFixed(0)).join(' '),
      full.map((x) => x.toFixed(0)).join(' '),
      `${ratios.map((r) => r.toFixed(2)).join(' ')} (median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(2)})`,
      `${ratios.filter((r) => r >= GOAL_RATIO).length} of ${ratios.length} rounds MET`,
    ]);
  };
  perRound(
    'delivery, per round',
    deliveries.empty.map((r) => r.perSecond),
    deliveries.full.map((r) => r.perSecond),
    deliveries.ratios,
  );
  perRound(
    'ingest, per round (2xx/s)',
    ingests.empty.map((w) => w.okPerSecond),
    ingests.full.map((w) => w.okPerSecond),
    ingests.ratios,
  );
  rows.push([
    'ingest CPU (µs/request)',
    emptyIngest.cpuUsPerOp.toFixed(0),
    fullIngest.cpuUsPerOp.toFixed(0),
    ratio(fullIngest.cpuUsPerOp, emptyIngest.cpuUsPerOp).toFixed(2),
    '',
  ]);
  if (emptyIngest.io && fullIngest.io) {
    const e = emptyIngest.io;
    const f = fullIngest.io;
    rows.push(
      [
        'ingest reads (calls/request)',
        e.readCalls.toFixed(1),
        f.readCalls.toFixed(1),
        ratio(f.readCalls, e.readCalls).toFixed(2),
        '',
      ],
      [
        'ingest read (B/request)',
        e.readChars.toFixed(0),
        f.readChars.toFixed(0),
        ratio(f.readChars, e.readChars).toFixed(2),
        '',
      ],
      [
        'ingest written (KiB/request)',
        (e.writeBytes / 1024).toFixed(2),
        (f.writeBytes / 1024).toFixed(2),
        ratio(f.writeBytes, e.writeBytes).toFixed(2),
        '',
      ],
    );
  }
  console.log(
    `\nsummary (${rounds} rounds each, pooled: deliveries or requests over seconds, p99 of every request; noisy when others are busy)`,
  );
  printTable(rows);

  console.log(
    `\npurge of the full store by the retention job, a fixed slice (ingest under wrk meanwhile, ${connections} connections):`,
  );
  const running = purge.result.seconds - purge.result.heldSeconds;
  const purgeRate = purged / Math.max(1e-9, running);
  console.log(
    `  purged ${purged.toLocaleString('en')} events in ${running.toFixed(1)} s running (held off ${purge.result.heldSeconds.toFixed(1)} s more): ` +
      `${purgeRate.toFixed(0)} events/s; batches held the write lock p50 ${purge.result.batchMs.p50.toFixed(1)}, ` +
      `p99 ${purge.result.batchMs.p99.toFixed(1)}, max ${purge.result.batchMs.max.toFixed(1)} ms; ` +
      `${(purge.result.cpuUs / Math.max(1, purged)).toFixed(0)} µs of the job's CPU per event; ` +
      `${purge.result.failures} tries failed on a busy write lock and were repeated`,
  );
  const withPurge = pool(purge.on);
  const withoutPurge = pool(purge.off);
  const quiet = purge.off
    .map((w, i) => [w, purge.on[i]] as const)
    .filter((pair): pair is readonly [Measured, Measured] => pair[1] !== undefined)
    .filter(([w, p]) => isQuiet(w) && isQuiet(p));
  console.log(
    `  ingest with the purge ${withPurge.okPerSecond.toFixed(0)}/s p50 ${withPurge.p50Ms.toFixed(1)} ms p99 ${withPurge.p99Ms.toFixed(1)} ms ` +
      `(${purge.on.length} slices pooled, ${withPurge.cpuUsPerOp.toFixed(0)} µs CPU each); without it, the slices between ` +
      `(same mesh, same minutes): ${withoutPurge.okPerSecond.toFixed(0)}/s p50 ${withoutPurge.p50Ms.toFixed(1)} ms p99 ${withoutPurge.p99Ms.toFixed(1)} ms ` +
      `(${purge.off.length} slices, ${withoutPurge.cpuUsPerOp.toFixed(0)} µs CPU each)`,
  );
  const purgeThroughput = ratio(withPurge.okPerSecond, withoutPurge.okPerSecond);
  const purgeP99 = ratio(withPurge.p99Ms, withoutPurge.p99Ms);
  console.log(
    `  with / without: throughput ${purgeThroughput.toFixed(2)} (goal ≥ ${GOAL_RATIO}: ${verdict(purgeThroughput >= GOAL_RATIO)}), ` +
      `p99 ${purgeP99.toFixed(2)} (goal ≤ ${(1 / GOAL_RATIO).toFixed(2)}: ${verdict(purgeP99 <= 1 / GOAL_RATIO)})` +
      (quiet.length === 0
        ? '; no pair of slices without other work on the machine'
        : `; over the ${quiet.length} of ${purge.off.length} pairs other processes left alone (< ${QUIET_OTHER_PCT} % of a core): ` +
          `throughput ${ratio(pool(quiet.map(([, p]) => p)).okPerSecond, pool(quiet.map(([w]) => w)).okPerSecond).toFixed(2)}, ` +
          `p99 ${pooledRatio(
            quiet.map(([w]) => w),
            quiet.map(([, p]) => p),
          ).toFixed(2)}`),
  );
  const beforeThroughput = ratio(withPurge.okPerSecond, fullIngest.okPerSecond);
  const beforeP99 = ratio(withPurge.p99Ms, fullIngest.p99Ms);
  console.log(
    `  with the purge / [2]'s full store without it (other meshes, minutes earlier): throughput ${beforeThroughput.toFixed(2)} ` +
      `(${verdict(beforeThroughput >= GOAL_RATIO)}), p99 ${beforeP99.toFixed(2)} (${verdict(beforeP99 <= 1 / GOAL_RATIO)})`,
  );
  const hours = (n: number) => {
    const seconds = n / Math.max(1e-9, purgeRate);
    return seconds < 3600 ? `${(seconds / 60).toFixed(0)} min` : `${(seconds / 3600).toFixed(1)} h`;
  };
  console.log(
    `  at ${purgeRate.toFixed(0)} events/s beside saturating ingest, the whole backlog of ${delivered.toLocaleString('en')} settled events ` +
      `takes ${hours(delivered)} (${purgeLeft.toLocaleString('en')} left after this slice: ${hours(purgeLeft)}), plus a second between ` +
      `passes of ${EVENTS_PER_PASS.toLocaleString('en')} and each pass's reclaim of the freed pages, which this slice (part of one pass) does not reach`,
  );
  console.log(
    `  file: ${mib(fileAfterPurge.bytes)}, ${fileAfterPurge.freePages.toLocaleString('en')} free pages (what the purge freed less what ingest beside it reused; a pass hands them back at its end, ≤ 256 MiB); ` +
      `the later step runs on the store as this slice left it: ${(filledBefore - purged).toLocaleString('en')} filled events`,
  );

  console.log('\nbytes per event and the D1 limit:');
  const daily = perEvent * RATE * 86_400;
  console.log(
    `  ${perEvent.toFixed(0)} B/event measured (tables + indexes, one subscription, delivered with one attempt; the file ${mib(full.file)})`,
  );
  console.log(
    `  at ${RATE} events/s: ${(daily / 1e9).toFixed(2)} GB a day; a 10 GB D1 database is full after ${(D1_LIMIT_BYTES / daily).toFixed(1)} days without retention`,
  );
  const steady = daily * RETENTION_DAYS;
  console.log(
    `  with the default retention (${RETENTION_DAYS} days) the store holds ${RETENTION_DAYS} days of events: ${(steady / 1e9).toFixed(1)} GB — ` +
      (steady <= D1_LIMIT_BYTES
        ? 'bounded, and within 10 GB'
        : `bounded, but over 10 GB: the database is full after ${(D1_LIMIT_BYTES / daily).toFixed(1)} days, before retention purges anything; at this rate 10 GB needs HOOKMESH_RETENTION_DAYS ≤ ${(D1_LIMIT_BYTES / daily).toFixed(1)} (or fewer bytes per event)`),
  );
  const perHour = RATE * 3600;
  console.log(
    `  the hourly retention pass purges ≤ ${EVENTS_PER_PASS.toLocaleString('en')} events; ${perHour.toLocaleString('en')} arrive per hour at ${RATE}/s: ` +
      (perHour <= EVENTS_PER_PASS
        ? 'it keeps up'
        : 'passes then run back to back (a second apart) until the backlog is gone, so the store stays bounded'),
  );

  console.log('\nresident memory of the mesh (role all) through the delivery run:');
  const rssMax = Math.max(...rss.samples);
  console.log(
    `  ${rss.samples.length} samples, ${rss.delivered.toLocaleString('en')} deliveries made, ${rss.posted.toLocaleString('en')} events posted: ` +
      `min ${rss.samples.length ? Math.min(...rss.samples).toFixed(0) : '?'} MiB, max ${rssMax.toFixed(0)} MiB; ` +
      `mean of the 2nd fifth ${rss.early.toFixed(0)} MiB, of the last ${rss.late.toFixed(0)} MiB`,
  );
  console.log(`  goal < ${GOAL_RSS_MIB} MiB: ${verdict(rssMax < GOAL_RSS_MIB)}`);
  console.log(
    `  goal flat (last fifth ≤ 2nd fifth + ${FLAT_MIB} MiB): ${verdict(rss.late - rss.early <= FLAT_MIB)}`,
  );
  return 0;
}

/**
 * The full store at `file`: filled now, or copied from the cache of an earlier run (younger than
 * 12 hours, same size and migrations; `--fresh` refills) with its subscription pointed at this
 * run's sink. Returns the newest filled acceptance time (what the purge takes).
 */
async function fullStore(sink: ServerProcess, file: string): Promise<number> {
  const key = storeCacheKey([delivered, dead]);
  const cacheDir = join(tmpdir(), 'hookmesh-bench-scale');
  const cached = join(cacheDir, `full-${delivered}-${key}.db`);
  const meta = `${cached}.json`;
  if (
    !fresh &&
    existsSync(cached) &&
    existsSync(meta) &&
    Date.now() - statSync(cached).mtimeMs < 12 * 3_600_000
  ) {
    copyFileSync(cached, file);
    const db = new Database(file);
    db.prepare('UPDATE subscriptions SET url = ?').run([`${sink.url}/hook`]);
    // The subscription's trigger interned the new URL (0008): pending deliveries take its endpoint.
    db.prepare(
      "UPDATE deliveries SET endpoint_id = (SELECT endpoint_id FROM subscriptions LIMIT 1) WHERE status = 'pending'",
    ).run([]);
    db.close();
    flushDirtyPages();
    console.log(`\nfull store copied from ${cached} (--fresh fills a new one)`);
    return (JSON.parse(readFileSync(meta, 'utf8')) as { fillTo: number }).fillTo;
  }
  await prepare(sink, file);
  const now = Date.now();
  // Settled between 6 days and 1 hour ago: inside the default retention window, so the mesh's own
  // hourly job (run 10 s after a start) leaves them to the purge measured below.
  const fillTo = now - 3_600_000;
  console.log('\nfilling the full store…');
  const seconds = fillStore({
    path: file,
    delivered,
    dead,
    from: now - 6 * DAY,
    to: fillTo,
    log: console.log,
  });
  console.log(`filled in ${seconds.toFixed(0)} s: ${mib(statSync(file).size)} file`);
  mkdirSync(cacheDir, { recursive: true });
  // Copied by another process: this one still holds a connection to the file (libsql-js closes a
  // connection only once its statements are collected), and closing a copy's descriptor here would
  // drop this process's POSIX locks on it — test/store/libsql-lock-loss.test.ts.
  execFileSync('cp', [file, cached]);
  writeFileSync(meta, JSON.stringify({ fillTo }));
  flushDirtyPages();
  return fillTo;
}

/**
 * Writes every dirty page out before a measurement: a store just copied or filled leaves hundreds
 * of MiB for the kernel's writeback, whose I/O would otherwise land on the measured commits'
 * fsyncs (the first `--purge` variant after a copy saw ingest p99 of 91–167 ms without any purge).
 */
function flushDirtyPages(): void {
  execFileSync('sync');
}

/** A migrated file with the bench's subscription (created through the API) and one sample event. */
async function prepare(sink: ServerProcess, file: string): Promise<void> {
  const api = await startMesh(file, 'api');
  try {
    await createSubscription(api.url, TYPE, `${sink.url}/hook`);
    await postEvents(api.url, [orderCreated('template-0', 0)]);
  } finally {
    await ctx.stop(api);
  }
}

/** Preloads `events` through the API, then times a dispatcher delivering them to the sink. */
async function deliver(sink: ServerProcess, file: string): Promise<DeliveryRun> {
  const api = await startMesh(file, 'api');
  try {
    const tag = `${nonce}-${++serial}`;
    for (let n = 0; n < events; n += 100) {
      const batch = [];
      for (let i = n; i < Math.min(events, n + 100); i++) batch.push(orderCreated(`d-${tag}-${i}`, i));
      await postEvents(api.url, batch);
    }
  } finally {
    await ctx.stop(api);
  }
  const open = openCount(file);
  await resetSink(sink.url);
  const dispatcher = await startMesh(file, 'dispatcher');
  try {
    const deadline = Date.now() + 120_000 + open * 5;
    // A stall comes back with the dispatcher's log: its errors say why (a stale cached store's
    // schema once failed every cycle, and the bench only saw the deadline pass).
    await withServerLog(dispatcher, async () => {
      while ((await sinkStats(sink.url)).count < open) {
        if (Date.now() > deadline || dispatcher.child.exitCode !== null)
          throw new Error('the deliveries did not finish');
        await sleep(20);
      }
      while (openCount(file) > 0) {
        if (Date.now() > deadline) throw new Error('the deliveries were not all recorded');
        await sleep(10);
      }
    });
    const finished = performance.timeOrigin + performance.now();
    const { first } = await sinkStats(sink.url);
    const seconds = (finished - first) / 1000;
    const result = { perSecond: open / seconds, deliveries: open, seconds };
    console.log(
      `  ${file.endsWith('full.db') ? 'full ' : 'empty'}: ${open} deliveries in ${seconds.toFixed(2)} s → ${result.perSecond.toFixed(0)}/s`,
    );
    return result;
  } finally {
    await ctx.stop(dispatcher);
  }
}

async function ingest(sink: ServerProcess, file: string, label: string): Promise<Measured> {
  const api = await startMesh(file, 'api');
  try {
    const result = await wrk(api, duration, true, true);
    console.log(
      `  ${label.padEnd(5)}: ${result.okPerSecond.toFixed(0)}/s p50 ${result.p50Ms.toFixed(1)} ms p99 ${result.p99Ms.toFixed(1)} ms (${result.cpuUsPerOp.toFixed(0)} µs CPU each${formatIo(result.io)})`,
    );
    return result;
  } finally {
    void sink;
    await ctx.stop(api);
  }
}

/**
 * One measurement on the empty and the full store in each of `rounds` rounds, empty first in odd
 * rounds and full first in even ones: a single pair measured full after empty, so whatever the
 * machine did over that minute (other helpers, writeback) fell on one side only (ingest 0.88, 0.97
 * and 0.8–1.2 in single runs; delivery 1,225 vs 3,209/s in one). Each empty round measures a fresh
 * copy of the empty store, or a round's events (~80,000 for ingest) would make the next round's
 * "empty" store a small full one; the full store keeps what each round adds (under 10 % of it).
 */
async function inRounds<T>(
  emptyFile: string,
  measureEmptyCopy: (file: string) => Promise<T>,
  measureFull: () => Promise<T>,
  figure: (run: T) => number,
): Promise<{ empty: T[]; full: T[]; ratios: number[] }> {
  const empty: T[] = [];
  const full: T[] = [];
  const ratios: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    // A new file each round (cp in another process, as `fullStore` copies): copied over the one a
    // round wrote, it would keep that file's inode, under this process's lingering read-only
    // connections and a stale `-shm` (one such round measured 7 requests/s, 1,140 reads each).
    const measureEmpty = async () => {
      const copy = join(ctx.dir, `empty-round-${++serial}.db`);
      execFileSync('cp', [emptyFile, copy]);
      // The log too, if the last mesh left one: the copy is then the same database.
      if (existsSync(`${emptyFile}-wal`)) execFileSync('cp', [`${emptyFile}-wal`, `${copy}-wal`]);
      flushDirtyPages();
      try {
        return await measureEmptyCopy(copy);
      } finally {
        for (const suffix of ['', '-wal', '-shm']) rmSync(`${copy}${suffix}`, { force: true });
      }
    };
    console.log(`  round ${round} of ${rounds}`);
    const first = round % 2 === 1 ? await measureEmpty() : await measureFull();
    const second = round % 2 === 1 ? await measureFull() : await measureEmpty();
    const [e, f] = round % 2 === 1 ? [first, second] : [second, first];
    empty.push(e);
    full.push(f);
    ratios.push(figure(e) > 0 ? figure(f) / figure(e) : 0);
  }
  return { empty, full, ratios };
}

/** Delivery runs as one: deliveries over their seconds together. */
function poolDeliveries(runs: readonly DeliveryRun[]): DeliveryRun {
  const deliveries = runs.reduce((sum, r) => sum + r.deliveries, 0);
  const seconds = runs.reduce((sum, r) => sum + r.seconds, 0);
  return { perSecond: deliveries / Math.max(1e-9, seconds), deliveries, seconds };
}

/**
 * Runs of one kind as one: requests per second over their seconds together, p50 and p99 of every
 * request (their histograms pooled), CPU and I/O per request weighted by requests.
 */
function pool(runs: readonly Measured[]): Measured & { rounds: readonly Measured[] } {
  const ok = (w: Measured) => w.okPerSecond * w.seconds;
  const requests = runs.reduce((sum, w) => sum + ok(w), 0);
  const seconds = runs.reduce((sum, w) => sum + w.seconds, 0);
  const weighted = (value: (w: Measured) => number) =>
    runs.reduce((sum, w) => sum + value(w) * ok(w), 0) / Math.max(1, requests);
  const withIo = runs.every((w) => w.io !== undefined);
  return {
    ...runs[0]!,
    seconds,
    okPerSecond: requests / Math.max(1e-9, seconds),
    p50Ms: pooled(runs, 0.5),
    p99Ms: pooled(runs, 0.99),
    cpuUsPerOp: weighted((w) => w.cpuUsPerOp),
    ...(withIo
      ? {
          io: {
            readChars: weighted((w) => w.io!.readChars),
            readCalls: weighted((w) => w.io!.readCalls),
            writeBytes: weighted((w) => w.io!.writeBytes),
          },
        }
      : {}),
    rounds: runs,
  };
}

/** A mesh with role all on the full store while a producer posts 200 events/s; VmRSS once a second. */
async function sampleRss(
  sink: ServerProcess,
  file: string,
): Promise<{ samples: number[]; early: number; late: number; delivered: number; posted: number }> {
  await resetSink(sink.url);
  const mesh = await startMesh(file, 'all', await compiledMesh());
  const samples: number[] = [];
  let posted = 0;
  try {
    const end = Date.now() + rssSeconds * 1000;
    let nextSample = Date.now();
    for (let n = 0; Date.now() < end; n++) {
      const batch = [];
      for (let i = 0; i < 20; i++) batch.push(orderCreated(`r-${nonce}-${n}-${i}`, i));
      await postEvents(mesh.url, batch);
      posted += batch.length;
      if (Date.now() >= nextSample) {
        samples.push(rssMib(mesh.child.pid ?? 0));
        nextSample += 1000;
      }
      await sleep(100);
    }
  } finally {
    await ctx.stop(mesh);
  }
  const fifth = Math.max(1, Math.floor(samples.length / 5));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  return {
    samples,
    early: mean(samples.slice(fifth, 2 * fifth)),
    late: mean(samples.slice(-fifth)),
    delivered: (await sinkStats(sink.url)).count,
    posted,
  };
}

async function startMesh(
  file: string,
  role: 'api' | 'dispatcher' | 'all',
  script = MESH,
): Promise<ServerProcess> {
  const server = await ctx.start({
    name: `mesh-${role}`,
    script,
    // HOOKMESH_PUBLIC_URL is only where the example's own subscriptions would post; this mesh has none.
    env: { ...meshEnv('http://127.0.0.1:9'), DATABASE_URL: `file:${file}`, HOOKMESH_ROLE: role },
    core: 0,
    ready: false,
  });
  // A start on a busy shared machine (tsx compiling the sources) can take longer than the usual 30 s.
  await waitUntilReady(server, 120_000);
  return server;
}

/**
 * A wrk run and the CPU the mesh spent per request answered < 400 meanwhile (µs); with `histogram`,
 * its latencies too (µs → count), to pool with other runs'.
 */
type Measured = WrkResult & {
  cpuUsPerOp: number;
  latencies: Map<number, number>;
  /** Percent of one core that went to processes of neither this bench nor the mesh (other work). */
  otherPct?: number;
  /** The mesh's I/O per request answered < 400 (/proc/<pid>/io; absent without /proc). */
  io?: IoPerOp;
};

/**
 * The mesh's I/O per request from /proc/<pid>/io, all threads (the checkpointer's too): `rchar` and
 * `syscr` count every read() and pread() — a page SQLite's own cache missed is a 4 KiB pread, served
 * by the kernel's cache — beside the HTTP request itself (the same on either store); `writeBytes`
 * is what reached the file system (WAL frames, checkpoints copying them into the database).
 */
interface IoPerOp {
  readChars: number;
  readCalls: number;
  writeBytes: number;
}

function ioCounters(pid: number): Record<string, number> | null {
  try {
    const counters: Record<string, number> = {};
    for (const line of readFileSync(`/proc/${pid}/io`, 'utf8').split('\n')) {
      const [key, value] = line.split(': ');
      if (key && value) counters[key] = Number(value);
    }
    return counters;
  } catch {
    return null;
  }
}

function ioPerOp(
  before: Record<string, number> | null,
  after: Record<string, number> | null,
  ops: number,
): IoPerOp | undefined {
  if (before === null || after === null || ops <= 0) return undefined;
  const per = (key: string) => ((after[key] ?? 0) - (before[key] ?? 0)) / ops;
  return { readChars: per('rchar'), readCalls: per('syscr'), writeBytes: per('write_bytes') };
}

function formatIo(io: IoPerOp | undefined): string {
  return io === undefined
    ? ''
    : `; per request ${io.readCalls.toFixed(1)} reads, ${io.readChars.toFixed(0)} B read, ${(io.writeBytes / 1024).toFixed(1)} KiB written`;
}

/** Other processes above this share of a core during either slice of a pair make it a noisy pair. */
const QUIET_OTHER_PCT = 20;

async function wrk(
  server: ServerProcess,
  seconds: number,
  warm = true,
  histogram = false,
): Promise<Measured> {
  const options = {
    url: `${server.url}/v1/events`,
    script: join(root, 'bench/post-event.lua'),
    connections,
    cpus: ctx.pinned ? '1' : null,
    scriptArgs: histogram ? ['histogram'] : [],
  };
  if (warm) await runWrk({ ...options, durationSeconds: warmup, nonce: `${nonce}w${++serial}` });
  const pid = server.child.pid ?? 0;
  const cpuBefore = cpuSeconds(pid);
  const machineBefore = snapshotCpu(pid, cores);
  const ownBefore = ownPids.map(cpuSeconds);
  const ioBefore = ioCounters(pid);
  const result = await runWrk({ ...options, durationSeconds: seconds, nonce: `${nonce}m${++serial}` });
  const ioAfter = ioCounters(pid);
  const machineAfter = snapshotCpu(pid, cores);
  const ownTicks = ownPids.reduce((sum, p, i) => sum + (cpuSeconds(p) - ownBefore[i]!) * 100, 0);
  const ok = result.okPerSecond * result.seconds;
  const io = ioPerOp(ioBefore, ioAfter, ok);
  return {
    ...result,
    cpuUsPerOp: ok > 0 ? ((cpuSeconds(pid) - cpuBefore) * 1e6) / ok : 0,
    latencies: latencyHistogram(result.raw),
    ...(io === undefined ? {} : { io }),
    ...(machineBefore && machineAfter
      ? { otherPct: otherPercent(machineBefore, machineAfter, ownTicks) }
      : {}),
  };
}

/** The bench's own processes besides the mesh and wrk (the sink, the retention job): not "other". */
const ownPids: number[] = [];

/**
 * Percent of one core used during a slice by processes that are neither the mesh, wrk (this
 * process's reaped children), this process, nor `ownTicks` (the sink, the retention job): another
 * helper's tests or builds on a shared machine, whose bursts make a slice's p99 meaningless.
 */
function otherPercent(
  before: NonNullable<ReturnType<typeof snapshotCpu>>,
  after: NonNullable<ReturnType<typeof snapshotCpu>>,
  ownTicks: number,
): number {
  const elapsed = after.total - before.total || 1;
  const known = after.server - before.server + (after.harness - before.harness) + ownTicks;
  return Math.max(0, (100 * (after.busy - before.busy - known)) / elapsed);
}

/** User + system CPU of a process so far (s), from /proc. */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after "pid (comm) ".
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/**
 * `--purge`: only the purge figure, `--purge-rounds` times per variant of the retention job, each
 * round on a fresh copy of the store. One mesh (role api) takes wrk's posts throughout; the job (its
 * own process, as in the full run) is let go and held off in turns, a slice of wrk each: ingest with
 * the purge against ingest without it, side by side in time, so what other work on the machine adds
 * falls on both. The p99 compared is of every request of a kind pooled (wrk's latencies, summed over
 * slices and rounds): a slice's own p99 is its second or third worst stall (50 connections stalled
 * together are 0.5 % of a 3 s slice), and the median of a handful of those swung 1.3–6.5× between
 * runs of one build.
 */
async function purgeFigure(sink: ServerProcess): Promise<number> {
  const rounds = purgeRounds;
  const summary: string[][] = [
    [
      'variant',
      'p99 without / with purge (pooled)',
      'ratio',
      'ratio per round',
      `ratio over quiet pairs (other < ${QUIET_OTHER_PCT} % of a core)`,
      'median pair ratio',
      'p50 without / with',
      'µs CPU/ingest without / with',
      'batch holds p50 / p99 / max',
      'purge (not held off)',
      'retention µs CPU/event',
      `goal ≤ ${(1 / GOAL_RATIO).toFixed(2)}`,
    ],
  ];
  for (const [index, variant] of purgeVariants.entries()) {
    const retentionEnv: Record<string, string> = {};
    for (const pair of variant.split('+').filter(Boolean)) {
      const [key, value] = pair.split('=');
      retentionEnv[key!.startsWith('x_') ? key!.toUpperCase() : `RETENTION_${key!.toUpperCase()}`] =
        value ?? '';
    }
    const label = variant || 'default';
    const off: Measured[] = [];
    const on: Measured[] = [];
    const perRound: string[] = [];
    // Each slice with the purge against the one without it right after: noise that comes and goes
    // over seconds (other work on the machine) falls on both of a pair.
    const pairRatios: number[] = [];
    // The pairs in which other processes stayed under QUIET_OTHER_PCT of a core in both slices.
    const quietOff: Measured[] = [];
    const quietOn: Measured[] = [];
    const holds: RetentionResult['batchMs'][] = [];
    let purged = 0;
    let purgeSeconds = 0;
    let cpuUs = 0;
    for (let round = 1; round <= rounds; round++) {
      const file = join(ctx.dir, `purge-${index}-${round}.db`);
      console.log(`\nvariant ${label}, round ${round} of ${rounds}`);
      const fillTo = await fullStore(sink, file);
      const filledBefore = countOlder(file, fillTo);
      const run = await alternatingPurge(file, fillTo, retentionEnv);
      const removed = filledBefore - countOlder(file, fillTo);
      purged += removed;
      purgeSeconds += run.result.seconds - run.result.heldSeconds;
      cpuUs += run.result.cpuUs;
      holds.push(run.result.batchMs);
      off.push(...run.off);
      on.push(...run.on);
      perRound.push(pooledRatio(run.off, run.on).toFixed(2));
      for (const [i, without] of run.off.entries()) {
        const withPurge = run.on[i];
        if (withPurge && without.p99Ms > 0) pairRatios.push(withPurge.p99Ms / without.p99Ms);
        if (withPurge && isQuiet(without) && isQuiet(withPurge)) {
          quietOff.push(without);
          quietOn.push(withPurge);
        }
      }
      console.log(
        `  round ${round}: p99 without ${pooled(run.off, 0.99).toFixed(1)} ms, with ${pooled(run.on, 0.99).toFixed(1)} ms ` +
          `(${run.off.length} / ${run.on.length} slices); batch holds p50 ${run.result.batchMs.p50.toFixed(1)}, ` +
          `p99 ${run.result.batchMs.p99.toFixed(1)} ms; ${removed.toLocaleString('en')} purged in ` +
          `${(run.result.seconds - run.result.heldSeconds).toFixed(1)} s not held off`,
      );
      rmSync(file, { force: true });
      rmSync(`${file}-wal`, { force: true });
      rmSync(`${file}-shm`, { force: true });
    }
    const cpu = (ws: Measured[]) =>
      ws.reduce((sum, w) => sum + w.cpuUsPerOp * w.okPerSecond * w.seconds, 0) /
      Math.max(
        1,
        ws.reduce((sum, w) => sum + w.okPerSecond * w.seconds, 0),
      );
    const ratio = pooledRatio(off, on);
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    summary.push([
      label,
      `${pooled(off, 0.99).toFixed(1)} / ${pooled(on, 0.99).toFixed(1)} ms (${off.length} / ${on.length} slices)`,
      ratio.toFixed(2),
      perRound.join(' '),
      quietOff.length === 0
        ? 'no quiet pair'
        : `${pooledRatio(quietOff, quietOn).toFixed(2)} (${quietOff.length} of ${off.length} pairs; ${pooled(quietOff, 0.99).toFixed(1)} / ${pooled(quietOn, 0.99).toFixed(1)} ms)`,
      median(pairRatios).toFixed(2),
      `${pooled(off, 0.5).toFixed(1)} / ${pooled(on, 0.5).toFixed(1)} ms`,
      `${cpu(off).toFixed(0)} / ${cpu(on).toFixed(0)}`,
      `${median(holds.map((h) => h.p50)).toFixed(1)} / ${median(holds.map((h) => h.p99)).toFixed(1)} / ${Math.max(...holds.map((h) => h.max)).toFixed(1)} ms`,
      `${(purged / Math.max(1, purgeSeconds)).toFixed(0)} events/s`,
      (cpuUs / Math.max(1, purged)).toFixed(0),
      off.length === 0 ? 'no slice without the purge: none' : ratio <= 1 / GOAL_RATIO ? 'MET' : 'NOT MET',
    ]);
  }
  console.log(
    `\npurge of ${delivered.toLocaleString('en')} delivered events while wrk posts (${connections} connections), ` +
      `${rounds} rounds per variant, ingest p99 of the requests in slices with the purge against those without it:`,
  );
  printTable(summary);
  return 0;
}

/** Whether other processes left a slice alone (unknown counts as quiet: no /proc to tell). */
function isQuiet(w: Measured): boolean {
  return (w.otherPct ?? 0) < QUIET_OTHER_PCT;
}

/** p99 with the purge over p99 without it, each of the slices' latencies pooled. */
function pooledRatio(off: readonly Measured[], on: readonly Measured[]): number {
  const without = pooled(off, 0.99);
  return without > 0 ? pooled(on, 0.99) / without : 0;
}

/** The `q` quantile (ms) of every request of `runs` together, from their latency histograms. */
function pooled(runs: readonly Measured[], q: number): number {
  const counts = new Map<number, number>();
  for (const run of runs) {
    for (const [us, count] of run.latencies) counts.set(us, (counts.get(us) ?? 0) + count);
  }
  const sorted = [...counts].sort((a, b) => a[0] - b[0]);
  const total = sorted.reduce((sum, [, count]) => sum + count, 0);
  let seen = 0;
  for (const [us, count] of sorted) {
    seen += count;
    if (seen >= q * total) return us / 1000;
  }
  return 0;
}

/** The latencies post-event.lua printed with `histogram` (µs → count), empty without. */
function latencyHistogram(raw: string): Map<number, number> {
  const line = /^bench-latency (.*)$/m.exec(raw)?.[1] ?? '';
  const counts = new Map<number, number>();
  for (const pair of line.split(',').filter(Boolean)) {
    const [us, count] = pair.split(':');
    counts.set(Number(us), Number(count));
  }
  return counts;
}

interface RetentionResult {
  seconds: number;
  heldSeconds: number;
  failures: number;
  /** The job's CPU (µs). */
  cpuUs: number;
  batchMs: { p50: number; p99: number; max: number };
}

async function alternatingPurge(
  file: string,
  before: number,
  retentionEnv: Record<string, string>,
  bounds: { slice: number; pairs: number } = {
    slice: positiveInt('BENCH_SLICE', 3),
    pairs: positiveInt('BENCH_PURGE_PAIRS', 10),
  },
): Promise<{ on: Measured[]; off: Measured[]; result: RetentionResult }> {
  const api = await startMesh(file, 'api');
  const child = ctx.spawnPiped(
    'bench/scale-retention.ts',
    { DATABASE_URL: `file:${file}`, RETENTION_BEFORE: String(before), ...retentionEnv },
    1,
  );
  ownPids.push(child.pid ?? 0);
  try {
    // A round ends with the purge or after `pairs` slices with it (and as many without), so a job
    // slowed to a small share of the lock still measures in a minute or so.
    const { slice, pairs } = bounds;
    let wake: () => void = () => {};
    const next = () =>
      new Promise<void>((resolve) => {
        wake = resolve;
      });
    let ready = false;
    let held = false;
    let result: RetentionResult | null = null;
    const lines = (async () => {
      for await (const line of createInterface({ input: child.stdout! })) {
        if (line === 'ready') ready = true;
        if (line === 'held') held = true;
        if (line.startsWith('failed ')) console.log(`  retention ${line}`);
        if (line.startsWith('result ')) result = JSON.parse(line.slice('result '.length)) as RetentionResult;
        wake();
      }
      wake();
    })();
    const off: Measured[] = [];
    const on: Measured[] = [];
    const report = (kind: string, w: Measured) =>
      console.log(
        `  ${kind}: ${w.okPerSecond.toFixed(0)}/s p99 ${w.p99Ms.toFixed(1)} ms, ${w.cpuUsPerOp.toFixed(0)} µs CPU each` +
          (w.otherPct === undefined ? '' : `, other processes ${w.otherPct.toFixed(0)} % of a core`),
      );
    // Warmed up first, and a first slice while the job starts — not counted: the job's start (tsx
    // on the receiver's core) and a cold page cache made it the slowest slice of every run.
    report('warm-up', await wrk(api, slice, true));
    while (!ready && result === null) await next();
    for (;;) {
      const w = await wrk(api, slice, false, true);
      // A slice the purge ended in counts only when it is the only one.
      if (result === null || on.length === 0) {
        on.push(w);
        report('with   ', w);
      }
      if (result !== null) break;
      held = false;
      child.kill('SIGUSR1');
      while (!held && result === null) await next();
      if (result !== null) break;
      const w2 = await wrk(api, slice, false, true);
      off.push(w2);
      report('without', w2);
      if (on.length >= pairs) {
        child.kill('SIGTERM');
        while (result === null) await next();
        break;
      }
      child.kill('SIGUSR2');
    }
    await lines;
    return { on, off, result: result! };
  } finally {
    ownPids.splice(ownPids.indexOf(child.pid ?? 0), 1);
    await ctx.stop(api);
  }
}

/**
 * The mesh entry compiled to one JavaScript file (esbuild; packages stay imports), for the memory
 * figure: a deployment runs compiled JavaScript, while tsx's loader thread alone adds ~37 MiB of
 * resident memory to a process (83 vs 120 MiB for an idle mesh, measured 2026-12-03). Written two
 * levels under the repository, so `../../migrations` and the packages resolve as from `src/runtime`.
 */
async function compiledMesh(): Promise<string> {
  return compileForNode(join(root, MESH), join(root, '.bench-build', 'scale', 'delivery-mesh-entry.mjs'));
}

/** Events accepted before `before` (the filled ones). */
function countOlder(file: string, before: number): number {
  const db = new Database(file, { readonly: true });
  try {
    return Number(
      (
        db.prepare('SELECT count(*) AS n FROM domain_events WHERE received_at < ?').get([before]) as {
          n: number;
        }
      ).n,
    );
  } finally {
    db.close();
  }
}

/** Pages on the file's freelist: what a retention pass's reclaim would hand back. */
function freelistCount(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return Number((db.prepare('PRAGMA freelist_count').get() as { freelist_count: number }).freelist_count);
  } finally {
    db.close();
  }
}

/** Deliveries not settled yet (pending, in flight, retrying): each a range of the partial due index. */
function openCount(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    const row = db
      .prepare(
        `SELECT (SELECT count(*) FROM deliveries WHERE status = 'pending') + (SELECT count(*) FROM deliveries
           WHERE status = 'in_flight') + (SELECT count(*) FROM deliveries WHERE status = 'retrying') AS n`,
      )
      .get() as { n: number };
    return Number(row.n);
  } finally {
    db.close();
  }
}

/** The example's OrderCreated, shaped as bench:ingest's wrk script posts it (metadata included). */
function orderCreated(id: string, n: number) {
  return {
    id,
    type: 'OrderCreated',
    data: { order: { id: `o-${n}`, customerId: `c-${n}`, total: 123.45, currency: 'EUR' } },
    occurredAt: '2026-11-30T10:00:00.000Z',
    metadata: {
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      correlationId: 'corr-7f3c2a9e-5d1b-4c8e-9a6f-2b7d4e1c8a30',
      producer: 'checkout-service',
      producerVersion: '3.14.2',
      region: 'eu-central-1',
      tenantId: 'tenant-4711',
      channel: 'web',
      userAgent: 'checkout-web/3.14.2 (Linux x86_64)',
      clientIp: '203.0.113.42',
    },
  };
}

function rssMib(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    return kb === undefined ? Number.NaN : Number(kb) / 1024;
  } catch {
    return Number.NaN;
  }
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  for (const row of rows)
    console.log(
      `  ${row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd()}`,
    );
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
