import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { audit, deliveryStatus } from '../audit.ts';
import { createCluster, type MeshProc, sleep, subscribe, waitFor } from '../cluster.ts';
import { handlerDbPath, meshDbPath, PAID_TYPE, PRODUCER_TOKEN } from '../fixture.ts';
import { n, type ScenarioResult } from '../report.ts';

// Scenario 6: wrk holds 50 connections of POST /v1/events (unique ids) against one mesh process
// while the consuming service answers about 30 % of deliveries with 500 — half of them failing
// before the handler's effect, half after it (an answer lost on the way back). In the middle the
// mesh is SIGKILLed and restarted on the same port and database, as a supervisor would. Every id
// wrk saw acknowledged must be stored; the stored events beyond those are the ones the kill cut
// off between commit and answer (at most one per connection). After draining, every stored event
// is delivered and the handler ran once per event.

const CONNECTIONS = 50;
const FAIL_BEFORE = 0.15;
const FAIL_AFTER = 0.15;

export async function runLoadAndKill(options: { quick: boolean }): Promise<ScenarioResult> {
  const started = performance.now();
  const seconds = options.quick ? 4 : 10;
  const cluster = createCluster('wrk');
  const notes: string[] = [];
  try {
    const service = await cluster.startHandlerService({
      HANDLER_FAIL_BEFORE: String(FAIL_BEFORE),
      HANDLER_FAIL_AFTER: String(FAIL_AFTER),
      HANDLER_SEED: '6',
    });
    let mesh: MeshProc = await cluster.startMesh({ role: 'all' });
    const port = mesh.port;
    const subscriptionId = await subscribe(mesh.url, {
      type: PAID_TYPE,
      url: service.hookUrl,
      retries: 20,
      retryDelay: 'min(2000, 50 * pow(2, retried))',
    });

    const ackedFile = join(cluster.dir, 'acked');
    const wrk = runWrk(mesh.url, seconds, ackedFile);
    await sleep((seconds * 1000) / 2);
    const killedAtMs = Date.now();
    await mesh.proc.kill('SIGKILL');
    const killedAt = performance.now();
    mesh = await cluster.startMesh({ role: 'all', port });
    const downMs = performance.now() - killedAt;
    const report = await wrk;
    const wrkEndedAtMs = Date.now();

    const acked = new Set(
      (existsSync(`${ackedFile}.0`) ? readFileSync(`${ackedFile}.0`, 'utf8') : '')
        .split('\n')
        .filter(Boolean),
    );
    const stored = countStored(meshDbPath(cluster.dir));
    const ackedRequests = Number(/reliability-statuses 2xx=(\d+)/.exec(report)?.[1] ?? -1);
    const other = Number(/reliability-statuses 2xx=\d+ other=(\d+)/.exec(report)?.[1] ?? -1);
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(report)?.[1] ?? 0);
    const socketErrors = /Socket errors:.*/.exec(report)?.[0] ?? 'Socket errors: none';

    const drainStarted = performance.now();
    const drained = await waitFor(
      () => {
        const status = deliveryStatus(meshDbPath(cluster.dir), subscriptionId);
        return (status.delivered ?? 0) >= stored ? status : undefined;
      },
      300_000,
      1_000,
    );
    const drainSeconds = (performance.now() - drainStarted) / 1000;
    const auditStarted = performance.now();
    const result = audit({
      meshDb: meshDbPath(cluster.dir),
      handlerDb: handlerDbPath(cluster.dir),
      subscriptionId,
      acked,
    });
    const auditSeconds = (performance.now() - auditStarted) / 1000;
    const stats = await service.stats();
    // Stored without an acknowledgement: cut off by the kill (committed, answer never sent), or
    // still in flight when wrk stopped counting. Anything else would be a write nobody asked for.
    const unacked = unacknowledgedTimes(meshDbPath(cluster.dir), acked);
    const atKill = unacked.filter((t) => t <= killedAtMs + 50).length;
    const atEnd = unacked.filter((t) => t > killedAtMs + 50 && t >= wrkEndedAtMs - 2_000).length;
    const unexplained = unacked.length - atKill - atEnd;
    notes.push(
      `wrk ${CONNECTIONS} connections for ${seconds} s: ${n(ackedRequests)} acknowledged (${rps.toFixed(0)} req/s overall), ${n(other)} other answers; ${socketErrors}`,
      `SIGKILL at ${seconds / 2} s; the restarted mesh listened again after ${(downMs / 1000).toFixed(1)} s`,
      `acknowledged ${n(acked.size)}, stored ${n(stored)}: ${result.ackedMissing} acknowledged but missing; ${unacked.length} stored without an acknowledgement = ${atKill} committed when the kill cut their answers off + ${atEnd} in flight when wrk stopped counting + ${unexplained} otherwise (at most one per connection each time)`,
      `drained in ${drainSeconds.toFixed(0)} s after wrk ended (audit ${auditSeconds.toFixed(1)} s)`,
      `the service answered ${JSON.stringify(stats.statuses)} (${n(stats.failedBefore)} failed before the effect, ${n(stats.failedAfter)} after it); ${n(result.effects)} effects for ${n(stored)} stored events; deliveries ${JSON.stringify(result.byStatus)}`,
    );
    if (!drained) notes.push('timed out waiting for every stored event to be delivered');
    const lost = result.ackedMissing + result.undelivered;
    return {
      scenario: '6. wrk load, flaky handler, kill -9',
      load: `wrk ${CONNECTIONS} conns ${seconds} s, ${n(ackedRequests)} acked`,
      faults: `SIGKILL of the mesh, ${n(stats.failedBefore + stats.failedAfter)} handler 500s`,
      badInputs: '—',
      lost,
      duplicates: result.duplicates,
      pass:
        ackedRequests === acked.size &&
        result.ackedMissing === 0 &&
        atKill <= CONNECTIONS &&
        atEnd <= CONNECTIONS &&
        unexplained === 0 &&
        lost === 0 &&
        result.duplicates === 0 &&
        result.partial === 0 &&
        result.strays === 0 &&
        drained !== undefined,
      seconds: (performance.now() - started) / 1000,
      notes,
    };
  } finally {
    await cluster.close();
  }
}

function countStored(meshDb: string): number {
  const db = new Database(meshDb, { timeout: 10_000 });
  try {
    return Number((db.prepare('SELECT count(*) AS n FROM domain_events').get([]) as { n: number }).n);
  } finally {
    db.close();
  }
}

/** When each stored event that wrk never saw acknowledged was received (ms since the epoch). */
function unacknowledgedTimes(meshDb: string, acked: ReadonlySet<string>): number[] {
  const db = new Database(meshDb, { timeout: 10_000 });
  try {
    const rows = db.prepare('SELECT id, received_at FROM domain_events').all([]) as {
      id: string;
      received_at: number;
    }[];
    return rows.filter((r) => !acked.has(r.id)).map((r) => Number(r.received_at));
  } finally {
    db.close();
  }
}

/** Runs wrk with post-acked.lua; resolves with its report (wrk exits 0 even with socket errors). */
function runWrk(url: string, seconds: number, ackedFile: string): Promise<string> {
  const args = [
    '-t1',
    `-c${CONNECTIONS}`,
    `-d${seconds}s`,
    '--timeout',
    '10s',
    '-s',
    'bench/reliability/post-acked.lua',
    url,
    '--',
    String(Date.now()),
    PRODUCER_TOKEN,
    ackedFile,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`wrk exited ${code}: ${out}`)),
    );
  });
}
