// npm run bench:operator — the operator's surface on a big store (issue 9): with 1,000,000
// deliveries in a libSQL file, how long the dashboard's pages, GET /metrics and GET /v1/deliveries
// take, one request at a time over a keep-alive connection, next to GET /healthz (the framework's
// floor) measured in the same rounds. Goal: the overview and /metrics answer in <= 250 ms (judged
// on p95). A report, not a test: exits 0 when a goal is missed, 1 only when the bench itself broke.
//
// The store: 500,000 domain events × 1 integration event × 2 subscriptions (bench/lib/
// operator-history.ts tells its week), filled once and cached under the system temp dir, keyed by
// the migrations; each run serves a copy. The mesh: `serveMesh` in a child process
// (bench/lib/operator-mesh-entry.ts), HOOKMESH_ROLE=api, on core 0; this harness on core 1.
//
// Flags: --fresh (fill the cache again). Env (defaults in brackets): BENCH_ROUNDS [30] timed rounds
// after BENCH_WARMUP [3]; BENCH_EVENTS [500000] domain events (deliveries = 2×); BENCH_ROUTE_BUDGET
// [30 s] of timed requests per route, after which that route stops being sampled;
// BENCH_QUIET_WAIT [30 s] longest wait for a lull on a shared machine before the timed rounds.
import { spawnSync } from 'node:child_process';
import { constants, copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ProcessesShares, processesShares, snapshotProcesses, waitForQuiet } from './lib/cpu.ts';
import { closeClient, signIn, timedGet } from './lib/operator-client.ts';
import { ensureFilledStore } from './lib/operator-fill.ts';
import { operatorMeshEnv } from './lib/operator-fixture.ts';
import { printReport, type RouteResult } from './lib/operator-report.ts';
import { operatorRoutes } from './lib/operator-routes.ts';
import { readStoreFacts } from './lib/operator-store-facts.ts';
import { canPin, nonNegativeInt, positiveInt } from './lib/options.ts';
import {
  freePort,
  killServerNow,
  type ServerProcess,
  startServer,
  stopServer,
  tail,
  waitUntilReady,
} from './lib/server.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const rounds = positiveInt('BENCH_ROUNDS', 30);
const warmup = positiveInt('BENCH_WARMUP', 3);
const events = positiveInt('BENCH_EVENTS', 500_000);
const budgetMs = positiveInt('BENCH_ROUTE_BUDGET', 30) * 1000;
const quietWait = nonNegativeInt('BENCH_QUIET_WAIT', 30);
const fresh = process.argv.includes('--fresh');
const cores = availableParallelism();
const pinned = canPin(cores);

const dir = mkdtempSync(join(tmpdir(), 'hookmesh-bench-operator-run-'));
let server: ServerProcess | null = null;
process.on('exit', () => {
  if (server !== null) killServerNow(server);
  rmSync(dir, { recursive: true, force: true });
});
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

async function main(): Promise<number> {
  console.log('hookmesh operator bench: dashboard pages, /metrics and /v1/deliveries on a big store');
  if (pinned) spawnSync('taskset', ['-apc', '1', String(process.pid)], { stdio: 'ignore' });
  console.log(
    pinned
      ? 'pinned: mesh on core 0, this harness on core 1'
      : 'UNPINNED: taskset or a second core is missing, mesh and harness share cores (noisier figures)',
  );

  console.log(
    `store: ${2 * events} deliveries (${events} domain events × 1 integration event × 2 subscriptions)`,
  );
  const store = await ensureFilledStore({ events, fresh, log: (line) => console.log(line) });
  console.log(
    store.reused
      ? `  reused the cached file ${store.file} (${mb(store.bytes)}; --fresh fills it again)`
      : `  filled ${store.file} in ${store.fillSeconds!.toFixed(1)} s (${mb(store.bytes)})`,
  );
  const file = join(dir, 'hookmesh.db');
  const copyStarted = performance.now();
  copyFileSync(store.file, file, constants.COPYFILE_FICLONE);
  console.log(
    `  served from a copy in ${dir} (copied in ${((performance.now() - copyStarted) / 1000).toFixed(1)} s)`,
  );
  const facts = readStoreFacts(file);
  const statuses = Object.entries(facts.byStatus)
    .sort(([, a], [, b]) => b - a)
    .map(([status, n]) => `${status} ${n.toLocaleString('en')}`)
    .join(', ');
  console.log(
    `  ${facts.deliveries.toLocaleString('en')} deliveries (${statuses}), ` +
      `${facts.attempts.toLocaleString('en')} attempts, ${facts.domainEvents.toLocaleString('en')} domain events; ` +
      `newest accepted ${ago(facts.newestAt)}`,
  );

  server = startServer({
    name: 'mesh',
    args: ['--import', 'tsx', 'bench/lib/operator-mesh-entry.ts'],
    env: { ...operatorMeshEnv(), DATABASE_URL: `file:${file}` },
    port: await freePort(),
    cwd: root,
    cpus: pinned ? '0' : null,
    logFile: join(dir, 'mesh.log'),
  });
  const startedAt = performance.now();
  await waitUntilReady(server, 120_000);
  console.log(`mesh: ready in ${((performance.now() - startedAt) / 1000).toFixed(1)} s at ${server.url}`);

  let measured: Awaited<ReturnType<typeof measure>>;
  try {
    measured = await measure(server, facts);
  } catch (error) {
    console.log(`\nmesh log (tail):\n${tail(server.logFile).trimEnd()}`);
    throw error;
  }
  await stopServer(server);
  server = null;
  await closeClient();
  const { results, cpu } = measured;
  printReport(results, cpu, { rounds, warmup, budgetMs });
  const storeBytes = statSync(file).size;
  if (storeBytes !== store.bytes)
    console.log(`note: the served copy grew to ${mb(storeBytes)} during the run`);
  return results.some((r) => r.error !== null) ? 1 : 0;
}

async function measure(
  mesh: ServerProcess,
  facts: ReturnType<typeof readStoreFacts>,
): Promise<{ results: RouteResult[]; cpu: ProcessesShares | null }> {
  const cookie = await signIn(mesh.url);
  const routes = operatorRoutes(facts);
  const results: RouteResult[] = routes.map((route) => ({
    route,
    first: null,
    samples: [],
    bytes: 0,
    spentMs: 0,
    error: null,
  }));
  const call = async (result: RouteResult) => {
    const got = await timedGet(`${mesh.url}${result.route.path}`, result.route.credential, cookie);
    const problem = got.status === 200 ? result.route.check(got.body) : `answered ${got.status}`;
    if (problem !== null) {
      result.error = `${problem}: ${got.body.slice(0, 200).replace(/\s+/g, ' ')}`;
      throw new Error(`${result.route.name} (${result.route.path}) ${result.error}`);
    }
    result.bytes = got.bytes;
    return got.ms;
  };

  // Warm-up rounds, the very first request of each route (cold caches) kept apart.
  for (let round = 0; round < warmup; round++) {
    for (const result of results) {
      const ms = await call(result);
      if (round === 0) result.first = ms;
    }
  }
  const pid = mesh.child.pid ?? 0;
  if (quietWait > 0) {
    const load = await waitForQuiet({ pids: [pid], cores, thresholdPercent: 25, maxMs: quietWait * 1000 });
    if (load !== null && load >= 25) {
      console.log(`no lull within ${quietWait} s: others use ${load.toFixed(0)}% of a core; timing anyway`);
    }
  }
  process.stdout.write(`timing ${rounds} rounds of ${results.length} routes`);
  const before = snapshotProcesses([pid], cores);
  for (let round = 0; round < rounds; round++) {
    // Each round starts one route later, so no route always follows the same one.
    for (let k = 0; k < results.length; k++) {
      const result = results[(round + k) % results.length]!;
      if (result.spentMs > budgetMs) continue;
      const ms = await call(result);
      result.samples.push(ms);
      result.spentMs += ms;
    }
    if ((round + 1) % 10 === 0) process.stdout.write('.');
  }
  const after = snapshotProcesses([pid], cores);
  process.stdout.write('\n');
  return { results, cpu: before === null || after === null ? null : processesShares(before, after) };
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
}

function ago(at: number): string {
  const minutes = (Date.now() - at) / 60_000;
  return minutes < 120 ? `${minutes.toFixed(0)} min ago` : `${(minutes / 60).toFixed(1)} h ago`;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
