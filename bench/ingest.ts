// npm run bench:ingest — durable ingest throughput and p99 of POST /v1/events, next to a bare Hono
// baseline measured in the same run. Server on core 0, wrk on core 1 (when taskset is available).
// Env: BENCH_DURATION, BENCH_WARMUP (seconds), BENCH_CONNECTIONS, BENCH_RUNS (rounds; the best quiet
// run of each server is compared and the spread printed), BENCH_ONLY=mesh|baseline.
// BENCH_PROFILE=<dir> runs the mesh under `node --cpu-prof` (V8's sampling profiler: its figures
// are then a little lower), writes its profiles there and prints the functions with the most self
// time; a profiled mesh is stopped with SIGTERM (a killed process writes no profile), so its
// durability check is skipped.
// BENCH_COMPILED=1 runs the baseline and the mesh compiled by esbuild on plain Node (as deployed,
// without tsx's loader): profiles then name functions and lines (`tsx bench/cpu-profile-summary.ts`).
// `--filtered` (or BENCH_FILTERED=<count>, default 100) also compares, in each round, two meshes with
// the example's converters and no code-declared subscription: one with a plain subscription on
// order.created.v1, one with that many filtered subscriptions on it instead, each matching about
// 1 % of the posted events — both write about one delivery per event (printed from the files), so
// the ratio is what filtering costs: goal within 15 % (issue 10).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from '@libsql/client';
import { compileForNode } from './lib/compile.ts';
import { type CpuShares, cpuShares, snapshotCpu } from './lib/cpu.ts';
import { checkDatabase } from './lib/db-check.ts';
import {
  freePort,
  killServerNow,
  type ServerProcess,
  startServer,
  stopServer,
  tail,
  waitUntilReady,
} from './lib/server.ts';
import { runWrk, socketErrorCount, type WrkResult } from './lib/wrk.ts';

const GOAL_RATIO = 0.4;
const GOAL_P99_MS = 25;
/** Filtered subscriptions may cost ingest at most this share of its plain figure (issue 10). */
const GOAL_FILTERED_RATIO = 0.85;
/** Percent of one core used by other processes (tick-sampled, so only roughly) that makes figures suspect. */
const OTHER_CPU_WARNING = 20;

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const script = join(root, 'bench/post-event.lua');
const meshEntry = 'src/example/node-main.ts';
/** The example's converters without its code-declared subscriptions: the filtered comparison's mesh. */
const bareMeshEntry = 'bench/delivery-mesh-entry.ts';
const duration = positiveInt('BENCH_DURATION', 10);
const warmup = positiveInt('BENCH_WARMUP', 2);
const connections = positiveInt('BENCH_CONNECTIONS', 50);
/** Rounds of baseline then mesh; the best of each is compared (others' load only slows runs down). */
const rounds = positiveInt('BENCH_RUNS', 1);
/** `mesh` or `baseline` runs only that server (no ratio then). */
const only = process.env.BENCH_ONLY ?? '';
if (!['', 'mesh', 'baseline'].includes(only))
  throw new Error(`BENCH_ONLY must be mesh or baseline, got ${only}`);
/** Filtered subscriptions to add in the `mesh-filtered` run; 0 = no such run. */
const filtered = process.argv.includes('--filtered')
  ? positiveInt('BENCH_FILTERED', 100)
  : nonNegativeEnv('BENCH_FILTERED', 0);
const adminToken = 'bench-admin-0123456789abcdef-0123456789';
/** Where the profiled mesh writes its CPU profiles; empty: no profile. */
const profileDir = process.env.BENCH_PROFILE ? resolve(process.env.BENCH_PROFILE) : '';
const cores = availableParallelism();
const pinned = canPin();
const nonce = randomBytes(4).toString('hex');
/** Both servers compiled to JavaScript and run on plain Node (BENCH_COMPILED=1), else under tsx. */
const compiled = process.env.BENCH_COMPILED === '1';

const dir = mkdtempSync(join(tmpdir(), 'hookmesh-bench-'));
const live = new Set<ServerProcess>();

// Servers run in their own process groups, so a Ctrl-C does not reach them: kill them here.
process.on('exit', () => {
  for (const server of live) killServerNow(server);
  rmSync(dir, { recursive: true, force: true });
});
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

interface Run {
  name: string;
  warm: WrkResult;
  measured: WrkResult;
  cpu: CpuShares | null;
}

async function bench(
  name: string,
  args: string[],
  env: Record<string, string>,
  prepare?: (url: string) => Promise<void>,
): Promise<Run & { server: ServerProcess }> {
  const server = startServer({
    name,
    args,
    env,
    port: await freePort(),
    cwd: root,
    cpus: pinned ? '0' : null,
    logFile: join(dir, `${name}.log`),
  });
  live.add(server);
  await waitUntilReady(server);
  if (prepare) await prepare(server.url);
  const wrk = { url: `${server.url}/v1/events`, script, connections, cpus: pinned ? '1' : null };
  process.stdout.write(`${name}: warming up ${warmup} s, measuring ${duration} s…\n`);
  const warm = await runWrk({ ...wrk, durationSeconds: warmup, nonce: `${nonce}${name[0]}w` });
  const pid = server.child.pid ?? 0;
  const before = snapshotCpu(pid, cores);
  const measured = await runWrk({ ...wrk, durationSeconds: duration, nonce: `${nonce}${name[0]}m` });
  const after = snapshotCpu(pid, cores);
  const cpu = before === null || after === null ? null : cpuShares(before, after);
  return { name, warm, measured, cpu, server };
}

async function stop(server: ServerProcess, signal: NodeJS.Signals): Promise<void> {
  await stopServer(server, signal);
  live.delete(server);
}

async function main(): Promise<number> {
  const fsType = spawnSync('stat', ['-f', '-c', '%T', dir], { encoding: 'utf8' }).stdout.trim() || '?';
  console.log(`hookmesh ingest bench: POST /v1/events, ~523 B JSON, unique ids, wrk -t1 -c${connections}`);
  console.log(
    `measured ${duration} s after a ${warmup} s warm-up per server, ${rounds} round(s); db in ${dir} (${fsType})` +
      (compiled ? '; both servers compiled (esbuild, plain Node)' : ''),
  );
  console.log(
    pinned
      ? 'pinned: server on core 0, wrk on core 1'
      : 'UNPINNED: taskset or a second core is missing, server and wrk share cores (noisier figures)',
  );

  const baselines: Run[] = [];
  const meshes: Run[] = [];
  const plainMeshes: Run[] = [];
  const filteredMeshes: Run[] = [];
  const deliveriesPerEvent = new Map<string, number | null>();
  let code = 0;
  for (let round = 1; round <= rounds; round++) {
    const suffix = rounds > 1 ? `#${round}` : '';
    if (only !== 'mesh') {
      const baseline = await bench(`baseline${suffix}`, await nodeArgs('bench/baseline-server.ts'), {
        NODE_ENV: 'production',
      });
      await stop(baseline.server, 'SIGTERM');
      baselines.push(baseline);
    }
    if (only === 'baseline') continue;
    if (!existsSync(join(root, meshEntry))) {
      printTable(baselines);
      console.log(`\nmesh: SKIPPED, ${meshEntry} does not exist yet`);
      return 1;
    }
    const dbUrl = `file:${join(dir, `bench-${round}.db`)}`;
    let mesh: Run & { server: ServerProcess };
    try {
      const profile = profileDir ? [`--cpu-prof`, `--cpu-prof-dir=${join(profileDir, `mesh${round}`)}`] : [];
      mesh = await bench(`mesh${suffix}`, [...profile, ...(await nodeArgs(meshEntry))], meshEnv(dbUrl));
    } catch (error) {
      printTable([...baselines, ...meshes]);
      console.log(`\nmesh: FAILED: ${error instanceof Error ? error.message : String(error)}`);
      return 1;
    }
    // kill -9, as a crash would: whatever was acknowledged must already be committed.
    await stop(mesh.server, profileDir ? 'SIGTERM' : 'SIGKILL');
    meshes.push(mesh);
    if (errorCount(mesh.measured) > 0)
      console.log(`\n${mesh.name} log (tail):\n${tail(mesh.server.logFile).trimEnd()}`);
    if (profileDir) printProfile(join(profileDir, `mesh${round}`));
    else if ((await printDurability(mesh, dbUrl)) !== 0) code = 1;
    if (filtered > 0) {
      for (const [name, runs, prepare] of [
        [`mesh-1-plain${suffix}`, plainMeshes, (url: string) => createPlainSubscription(url)],
        [
          `mesh-${filtered}-filtered${suffix}`,
          filteredMeshes,
          (url: string) => createFilteredSubscriptions(url, filtered),
        ],
      ] as const) {
        const url = `file:${join(dir, `bench-${name.replace('#', '-')}.db`)}`;
        const run = await bench(name, await nodeArgs(bareMeshEntry), meshEnv(url), prepare);
        await stop(run.server, 'SIGKILL');
        runs.push(run);
        deliveriesPerEvent.set(name, await countDeliveriesPerEvent(url));
      }
    }
  }

  printTable([...baselines, ...meshes, ...plainMeshes, ...filteredMeshes]);
  const baseline = best(baselines);
  const mesh = best(meshes);
  if (rounds > 1) {
    for (const [name, all] of [
      ['baseline', baselines],
      ['mesh', meshes],
    ] as const) {
      if (all.length > 0) console.log(`${name}: ${spread(all)}`);
    }
  }
  const meshPlain = best(plainMeshes);
  const meshFiltered = best(filteredMeshes);
  if (meshPlain !== null && meshFiltered !== null) {
    const ratio = meshFiltered.measured.okPerSecond / meshPlain.measured.okPerSecond;
    const perEvent = [...deliveriesPerEvent]
      .map(([name, n]) => `${name} ${n === null ? '?' : n.toFixed(2)}`)
      .join(', ');
    console.log(
      `\nfiltered: ${filtered} filtered subscriptions (each ~1 % of events): ` +
        `${meshFiltered.measured.okPerSecond.toFixed(0)} req/s vs ${meshPlain.measured.okPerSecond.toFixed(0)} req/s ` +
        `with one plain subscription instead (deliveries per event: ${perEvent})`,
    );
    if (rounds > 1) console.log(`plain: ${spread(plainMeshes)}; filtered: ${spread(filteredMeshes)}`);
    console.log(
      `ratio (best filtered / best plain): ${ratio.toFixed(2)}; goal >= ${GOAL_FILTERED_RATIO.toFixed(2)}: ` +
        `${ratio >= GOAL_FILTERED_RATIO ? 'met' : 'not met'}` +
        (isBusy(meshPlain) || isBusy(meshFiltered) ? ' (SUSPECT: other processes were busy)' : ''),
    );
  }
  if (baseline === null || mesh === null) return code;

  const ratio = mesh.measured.okPerSecond / baseline.measured.okPerSecond;
  const errors = sum([...baselines, ...meshes].map((r) => errorCount(r.measured)));
  const verdict = (met: boolean) => (errors > 0 ? 'not met (the run had errors)' : met ? 'met' : 'not met');
  const which = rounds > 1 ? ` (best ${mesh.name} / best ${baseline.name})` : '';
  console.log(`\nratio (mesh / baseline)${which}: ${ratio.toFixed(2)}`);
  if (isBusy(mesh) || isBusy(baseline)) {
    console.log(
      'SUSPECT: other processes were busy during the runs compared; rerun when the machine is idle',
    );
  }
  console.log(`goal ratio >= ${GOAL_RATIO.toFixed(2)}: ${verdict(ratio >= GOAL_RATIO)}`);
  console.log(
    `goal mesh p99 <= ${GOAL_P99_MS} ms: ${verdict(mesh.measured.p99Ms <= GOAL_P99_MS)} (${mesh.measured.p99Ms.toFixed(2)} ms in ${mesh.name})`,
  );
  return code;
}

/**
 * The run with the most 2xx per second (other processes only ever slow a run down), among the
 * quiet runs when there are any: a baseline slowed by others would flatter the ratio.
 */
function best(runs: Run[]): Run | null {
  const quiet = runs.filter((run) => !isBusy(run));
  return (quiet.length > 0 ? quiet : runs).reduce<Run | null>(
    (a, b) => (a === null || b.measured.okPerSecond > a.measured.okPerSecond ? b : a),
    null,
  );
}

function isBusy(run: Run): boolean {
  return (run.cpu?.other ?? 0) > OTHER_CPU_WARNING;
}

function spread(runs: Run[]): string {
  const rates = runs.map((r) => r.measured.okPerSecond).sort((a, b) => a - b);
  const median = rates[Math.floor(rates.length / 2)]!;
  return `req/s min ${rates[0]!.toFixed(0)}, median ${median.toFixed(0)}, max ${rates.at(-1)!.toFixed(0)}`;
}

async function printDurability(mesh: Run, dbUrl: string): Promise<number> {
  // Before the check opens the file: its connection, the last to close, checkpoints the log away.
  const wal = fileBytes(`${dbUrl.slice('file:'.length)}-wal`);
  const db = await checkDatabase(dbUrl);
  const runs = [mesh.warm, mesh.measured];
  const accepted = sum(runs.map((r) => r.statuses.s202 + r.statuses.s200));
  const replays = sum(runs.map((r) => r.statuses.s200));
  console.log(`\ndurability of ${mesh.name} (killed with SIGKILL, then the db file read):`);
  console.log(`  2xx seen by wrk, warm-up + measured: ${accepted} (of which 200 replays: ${replays})`);
  console.log(`  rows in domain_events:               ${db.domainEvents ?? 'unknown'}`);
  let lost = false;
  if (db.domainEvents !== null) {
    lost = db.domainEvents < accepted;
    console.log(
      lost
        ? `  LOST: ${accepted - db.domainEvents} acknowledged events are not in the database`
        : '  ok: every acknowledged event is in the database',
    );
  }
  console.log(`  journal_mode: ${db.journalMode ?? 'unknown'} (stored in the file)`);
  // What the checkpoints left: the log is restarted (journal_size_limit trims it) once copied.
  console.log(
    `  write-ahead log at the kill: ${wal === null ? 'none' : `${(wal / 2 ** 20).toFixed(1)} MiB`}`,
  );
  // PRAGMA synchronous is per connection and not stored in the file, so this cannot show the mesh's.
  console.log(
    `  synchronous:  ${db.synchronous ?? 'unknown'} (default of a fresh connection, not the mesh's)`,
  );
  for (const error of db.errors) console.log(`  query failed: ${error}`);
  return lost ? 1 : 0;
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
}

/**
 * The functions with the most self time in the largest profile of `dir` (the main thread's; tsx's
 * loader thread writes a small one), warm-up and start included. Locations are of the code tsx
 * runs (one line per module): columns, not lines, tell functions apart.
 */
function printProfile(dir: string, top = 25): void {
  mkdirSync(dir, { recursive: true });
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(dir, f))
    .sort((a, b) => statSync(b).size - statSync(a).size);
  if (files.length === 0) {
    console.log(`\nno CPU profile in ${dir}`);
    return;
  }
  const profile = JSON.parse(readFileSync(files[0]!, 'utf8')) as {
    nodes: ProfileNode[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const { functionName, url, lineNumber, columnNumber } = byId.get(id)!.callFrame;
    const where = url.replace(/^.*\/(node_modules|src)\//, '$1/');
    const key = `${functionName || '(anonymous)'} ${where}${where ? `:${lineNumber + 1}:${columnNumber + 1}` : ''}`;
    const dt = profile.timeDeltas[i] ?? 0;
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  });
  console.log(`\nself time, ${files[0]} (${(total / 1e6).toFixed(1)} s sampled):`);
  for (const [key, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`  ${((100 * us) / total).toFixed(1).padStart(5)} %  ${key}`);
  }
}

function printTable(runs: Run[]): void {
  const rows = [
    [
      'name',
      'req/s (2xx)',
      'p50',
      'p99',
      'non-2xx',
      'socket errors',
      'cpu % server/wrk/other',
      'server cpu µs/req',
    ],
    ...runs.map(({ name, measured: m, cpu }) => [
      name,
      m.okPerSecond.toFixed(0),
      `${m.p50Ms.toFixed(2)} ms`,
      `${m.p99Ms.toFixed(2)} ms`,
      String(m.non2xx),
      formatSocketErrors(m),
      cpu === null ? '?' : [cpu.server, cpu.wrk, cpu.other].map((x) => x.toFixed(0)).join('/'),
      // CPU time per answered request: what other processes' load disturbs least.
      cpu === null || m.okPerSecond === 0 ? '?' : ((cpu.server * 10_000) / m.okPerSecond).toFixed(0),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const line = (row: string[]) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ');
  console.log(`\n${rows.map((row) => line(row).trimEnd()).join('\n')}`);
  const busy = runs.filter(isBusy);
  for (const run of busy) {
    console.log(`WARNING: other processes used ${run.cpu!.other.toFixed(0)}% of a core during ${run.name}`);
  }
}

function formatSocketErrors(result: WrkResult): string {
  if (socketErrorCount(result) === 0) return '0';
  const { connect, read, write, timeout } = result.socketErrors;
  return `connect ${connect}, read ${read}, write ${write}, timeout ${timeout}`;
}

function errorCount(result: WrkResult): number {
  return result.non2xx + socketErrorCount(result) + result.statuses.other;
}

function fileBytes(path: string): number | null {
  try {
    return statSync(path).size;
  } catch {
    return null;
  }
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0)
    throw new Error(`${name} must be a positive integer, got ${raw}`);
  return value;
}

/** The compiled entries by output file, each built once per bench. */
const builds = new Map<string, Promise<string>>();

/**
 * How Node runs a server's entry: under tsx, or (BENCH_COMPILED=1) compiled once into
 * `.bench-build/ingest/`, two levels below the root as `src/example/` is, so the mesh finds
 * `migrations/` and the packages as from its source.
 */
async function nodeArgs(entry: string): Promise<string[]> {
  if (!compiled) return ['--import', 'tsx', entry];
  const outfile = join(root, '.bench-build', 'ingest', entry.replace(/^.*\//, '').replace(/\.ts$/, '.mjs'));
  if (!builds.has(outfile)) builds.set(outfile, compileForNode(join(root, entry), outfile));
  return [await builds.get(outfile)!];
}

/** The mesh's environment: the api role alone (no dispatcher), production settings. */
function meshEnv(databaseUrl: string): Record<string, string> {
  return {
    HOOKMESH_PRODUCER_TOKENS: 'bench:bench-token-0123456789abcdef-0123456789',
    HOOKMESH_ADMIN_TOKEN: adminToken,
    HOOKMESH_ROLE: 'api',
    NODE_ENV: 'production',
    // Production refuses to start without one; the api role never signs anything with it.
    QSTASH_CURRENT_SIGNING_KEY: 'bench-signing-key-0123456789abcdef',
    DATABASE_URL: databaseUrl,
  };
}

/** Deliveries written per domain event in a mesh's file (after it was killed), or null. */
async function countDeliveriesPerEvent(url: string): Promise<number | null> {
  const client = createClient({ url });
  try {
    const { rows } = await client.execute(
      'SELECT (SELECT count(*) FROM deliveries) AS deliveries, (SELECT count(*) FROM domain_events) AS events',
    );
    const events = Number(rows[0]?.events ?? 0);
    return events === 0 ? null : Number(rows[0]?.deliveries ?? 0) / events;
  } catch {
    return null;
  } finally {
    client.close();
  }
}

/** One unfiltered subscription to order.created.v1 through the admin API. */
async function createPlainSubscription(url: string): Promise<void> {
  await postSubscription(url, { type: 'order.created.v1', url: 'https://plain.example.com/hooks' });
}

async function postSubscription(url: string, body: object): Promise<void> {
  const res = await fetch(`${url}/v1/subscriptions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 201) throw new Error(`creating a subscription: ${res.status} ${await res.text()}`);
}

/**
 * Creates `count` subscriptions to order.created.v1 through the admin API, each filtered to ~1 % of
 * the bench's events: post-event.lua cycles `customerId` through c-0 … c-9972, and filter i takes
 * 100 of those (c-100i … c-100i+99) — every event thus matches one filtered subscription.
 */
async function createFilteredSubscriptions(url: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const customers = Array.from({ length: 100 }, (_, j) => `c-${(i * 100 + j) % 9973}`);
    await postSubscription(url, {
      type: 'order.created.v1',
      url: `https://filtered-${i}.example.com/hooks`,
      filter: { currency: 'EUR', customerId: { $in: customers } },
    });
  }
}

function nonNegativeEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be an integer >= 0, got ${raw}`);
  return value;
}

function canPin(): boolean {
  if (cores < 2) return false;
  return spawnSync('taskset', ['-c', '0', 'true']).status === 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
