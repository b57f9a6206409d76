import Database from 'libsql';
import { audit, deliveryStatus } from '../audit.ts';
import { createCluster, sleep, subscribe, waitFor } from '../cluster.ts';
import { handlerDbPath, meshDbPath, orderPaid, PAID_TYPE } from '../fixture.ts';
import { type PostOutcome, postOnce } from '../producer.ts';
import { n, type ScenarioResult } from '../report.ts';

// Scenario 3: while producers post steadily, another writer opens the mesh's database file and
// holds `BEGIN IMMEDIATE` (SQLite's write lock) for 10 s. DESIGN.md: the API answers 503 or 429
// (with Retry-After) — never a 500, never a request left hanging — nothing it acknowledged is lost,
// and it resumes by itself once the lock goes. Run against both Node topologies: one process
// (`HOOKMESH_ROLE=all`, what `npm start` runs) and an api process beside a dispatcher process.

const CLIENTS = 16;
/** An answer later than this is one the mesh's own client (`hookmesh/client`, 10 s) gave up on. */
const BOUND_MS = 10_000;

interface Sample extends PostOutcome {
  readonly id: string;
  readonly at: number;
}

interface LockRun {
  readonly topology: string;
  readonly posts: number;
  readonly overlapping: Record<string, number>;
  /** Answers that are neither 2xx, 4xx nor 503, and requests that got no answer. */
  readonly bad: number;
  readonly firstBad: string | null;
  readonly slowestMs: number;
  readonly overBound: number;
  readonly slowestHealthMs: number;
  readonly resumedAfterMs: number | null;
  readonly acked: number;
  readonly lost: number;
  readonly duplicates: number;
  readonly partial: number;
  readonly drained: boolean;
  readonly errorLog: string | null;
}

export async function runDatabaseLock(options: { quick: boolean }): Promise<ScenarioResult> {
  const started = performance.now();
  // The lock stays 10 s in a quick run too: a shorter one ends inside the store's 10 s busy
  // timeout and hides what a real outage does. Quick runs one topology instead of two.
  const lockMs = 10_000;
  const runs = options.quick
    ? [await lockRun('all', lockMs)]
    : [await lockRun('all', lockMs), await lockRun('api', lockMs)];
  const notes: string[] = [];
  for (const r of runs) {
    notes.push(
      `${r.topology}: ${n(r.posts)} POSTs; requests overlapping the lock were answered ${JSON.stringify(r.overlapping)}; slowest POST ${(r.slowestMs / 1000).toFixed(1)} s (${r.overBound} past ${BOUND_MS / 1000} s), slowest GET /healthz ${(r.slowestHealthMs / 1000).toFixed(1)} s; ` +
        (r.resumedAfterMs === null
          ? 'did not resume'
          : `resumed ${(r.resumedAfterMs / 1000).toFixed(2)} s after the unlock`) +
        `; ${n(r.acked)} acknowledged, ${r.lost} lost, ${r.duplicates} duplicate effects`,
    );
    if (r.bad > 0)
      notes.push(`FINDING (${r.topology}): ${r.bad} requests answered 500 or not at all — ${r.firstBad}`);
    if (r.errorLog !== null) notes.push(`${r.topology}: mesh log: ${r.errorLog}`);
    if (!r.drained)
      notes.push(`${r.topology}: timed out waiting for the acknowledged events to be delivered`);
  }
  const lost = runs.reduce((s, r) => s + r.lost, 0);
  const duplicates = runs.reduce((s, r) => s + r.duplicates, 0);
  return {
    scenario: '3. database locked',
    load: `${CLIENTS} producers, ${n(runs.reduce((s, r) => s + r.posts, 0))} POSTs, ${runs.length} topolog${runs.length === 1 ? 'y' : 'ies'}`,
    faults: `write lock held ${(lockMs / 1000).toFixed(0)} s by another connection, ×${runs.length}`,
    badInputs: '—',
    lost,
    duplicates,
    pass: runs.every(
      (r) =>
        r.bad === 0 &&
        r.overBound === 0 &&
        r.resumedAfterMs !== null &&
        r.lost === 0 &&
        r.duplicates === 0 &&
        r.partial === 0 &&
        r.drained,
    ),
    seconds: (performance.now() - started) / 1000,
    notes,
  };
}

async function lockRun(role: 'all' | 'api', lockMs: number): Promise<LockRun> {
  const cluster = createCluster(`lock-${role}`);
  try {
    const service = await cluster.startHandlerService();
    const mesh = await cluster.startMesh({ role });
    if (role === 'api') await cluster.startMesh({ role: 'dispatcher' });
    const subscriptionId = await subscribe(mesh.url, {
      type: PAID_TYPE,
      url: service.hookUrl,
      retries: 10,
      retryDelay: '200',
    });

    const t0 = performance.now();
    const samples: Sample[] = [];
    const health: Sample[] = [];
    let stop = false;
    const clients = Array.from({ length: CLIENTS }, async (_, c) => {
      for (let i = 0; !stop; i++) {
        const id = `lock-${c}-${i}`;
        const at = performance.now() - t0;
        const outcome = await postOnce(mesh.url, orderPaid(id), 60_000);
        samples.push({ id, at, ...outcome });
        if (outcome.status !== 202 && outcome.status !== 200) await sleep(100);
      }
    });
    const prober = (async () => {
      while (!stop) {
        const at = performance.now() - t0;
        const begun = performance.now();
        let status: PostOutcome['status'];
        try {
          const res = await fetch(`${mesh.url}/healthz`, { signal: AbortSignal.timeout(60_000) });
          await res.arrayBuffer();
          status = res.status;
        } catch (error) {
          status = (error as Error).name === 'TimeoutError' ? 'timeout' : 'network';
        }
        health.push({ id: 'healthz', at, status, ms: performance.now() - begun });
        await sleep(250);
      }
    })();

    await sleep(3_000);
    // Another writer: a connection of its own to the file, holding the write lock.
    const other = new Database(meshDbPath(cluster.dir), { timeout: 5_000 });
    other.exec('BEGIN IMMEDIATE');
    const lockedAt = performance.now() - t0;
    await sleep(lockMs);
    other.exec('ROLLBACK');
    other.close();
    const unlockedAt = performance.now() - t0;

    const resumed = await waitFor(
      () => samples.find((s) => s.at >= unlockedAt && (s.status === 202 || s.status === 200)),
      60_000,
      100,
    );
    await sleep(2_000);
    stop = true;
    await Promise.all([...clients, prober]);

    const acked = samples.filter((s) => s.status === 202 || s.status === 200);
    const overlapping: Record<string, number> = {};
    for (const s of samples.filter((x) => x.at + x.ms >= lockedAt && x.at <= unlockedAt)) {
      const key = s.error ? `${s.status} ${s.error}` : String(s.status);
      overlapping[key] = (overlapping[key] ?? 0) + 1;
    }
    const bad = samples.filter((s) => typeof s.status !== 'number' || (s.status >= 500 && s.status !== 503));
    const first = bad[0];
    const drained = await waitFor(
      () => {
        const status = deliveryStatus(meshDbPath(cluster.dir), subscriptionId);
        return (status.delivered ?? 0) >= acked.length ? status : undefined;
      },
      120_000,
      500,
    );
    const result = audit({
      meshDb: meshDbPath(cluster.dir),
      handlerDb: handlerDbPath(cluster.dir),
      subscriptionId,
      acked: acked.map((s) => s.id),
    });
    const errorLines = mesh.proc
      .output()
      .split('\n')
      .filter((l) => /"level":"error"/.test(l));
    return {
      topology: role === 'all' ? 'HOOKMESH_ROLE=all' : 'HOOKMESH_ROLE=api + a dispatcher process',
      posts: samples.length,
      overlapping,
      bad: bad.length,
      firstBad: first
        ? `first: ${first.status}${first.error ? ` ${first.error}` : ''} after ${(first.ms / 1000).toFixed(1)} s for a request sent ${Math.max(0, (first.at - lockedAt) / 1000).toFixed(2)} s into the lock`
        : null,
      slowestMs: Math.max(...samples.map((s) => s.ms)),
      overBound: samples.filter((s) => s.ms > BOUND_MS).length,
      slowestHealthMs: Math.max(...health.map((s) => s.ms)),
      resumedAfterMs: resumed ? resumed.at - unlockedAt : null,
      acked: acked.length,
      lost: result.ackedMissing + result.undelivered,
      duplicates: result.duplicates,
      partial: result.partial,
      drained: drained !== undefined,
      errorLog:
        errorLines.length === 0
          ? null
          : `${errorLines.length} error lines, first ${errorLines[0]!.slice(0, 240)}`,
    };
  } finally {
    await cluster.close();
  }
}
