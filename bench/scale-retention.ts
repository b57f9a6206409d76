// bench:scale's purge: the mesh's own retention job (runRetentionPass over the SQL retention
// store, as `serveMesh` runs it every hour) in a process of its own on the same file, pass after
// pass until nothing older than RETENTION_BEFORE (epoch ms) is left, pausing between batches as
// the local mesh does. One JSON line per pass. A
// pass that fails (the write lock busy past the driver's wait, under heavy ingest) is reported
// and tried again, as the mesh's job would try again an hour later.
// Env for bench:scale's --purge-variants: RETENTION_BATCH (events per batch), RETENTION_SHARE (the
// write lock's share, `pauseForLockShare`), RETENTION_CHECKPOINT. SIGUSR1 holds the job at its
// next pause between batches (it prints `held`), SIGUSR2 lets it go on: bench:scale
// --purge alternates ingest slices with and without the purge, and SIGTERM stops it part way. The
// result line tells how long batches held the write lock (p50, p99, max ms), the seconds the job
// was held off and its CPU (µs).
import {
  LOCAL_RETENTION_BATCH,
  pauseForLockShare,
  RETENTION_LOCK_SHARE,
  runRetentionPass,
} from '../src/core/retention.ts';
import { type LibsqlDatabase, openLibsql } from '../src/store/libsql-store.ts';
import { createSqlRetention } from '../src/store/sql-retention.ts';

const MAX_FAILURES = 100;
const url = process.env.DATABASE_URL ?? '';
const before = Number(process.env.RETENTION_BEFORE);
// As the local mesh runs it (local-mesh.ts), unless told; a pass examines 100,000 events whatever
// the batch.
const batch = process.env.RETENTION_BATCH ? Number(process.env.RETENTION_BATCH) : LOCAL_RETENTION_BATCH;
const pause = pauseForLockShare(
  process.env.RETENTION_SHARE ? Number(process.env.RETENTION_SHARE) : RETENTION_LOCK_SHARE,
);
const started = performance.now();
let failures = 0;

async function retrying<T>(what: string, work: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await work();
    } catch (error) {
      if (++failures > MAX_FAILURES) throw error;
      console.log(
        `failed ${JSON.stringify({ what, error: error instanceof Error ? error.message : String(error) })}`,
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

const database: LibsqlDatabase = await retrying('open', () => openLibsql({ url }));
const retention = createSqlRetention(database.driver);
const cpuAtOpen = process.cpuUsage();
let hold: { resolve: () => void; promise: Promise<void> } | null = null;
let heldMs = 0;
process.on('SIGUSR1', () => {
  if (hold !== null) return;
  let resolve = () => {};
  const promise = new Promise<void>((ok) => {
    resolve = ok;
  });
  hold = { resolve, promise };
});
// Stopped part way (bench:scale bounds a round): the batches so far are committed, a batch in
// flight is not (its transaction runs within one turn of the event loop).
process.on('SIGTERM', () => {
  finish();
  process.exit(0);
});
process.on('SIGUSR2', () => {
  hold?.resolve();
  hold = null;
});
console.log('ready');
const batchMs: number[] = [];
const checkpoint = process.env.RETENTION_CHECKPOINT === '1';
async function between(ms: number): Promise<void> {
  batchMs.push(ms);
  // RETENTION_CHECKPOINT=1: this process copies the log back after each batch, so a neighbour's
  // commit seldom crosses the auto-checkpoint threshold and does it on its own time.
  if (checkpoint) await database.driver.query('PRAGMA wal_checkpoint(PASSIVE)');
  await pause(ms);
  if (hold === null) return;
  console.log('held');
  const at = performance.now();
  // A pending promise alone does not keep a process alive: a timer does, while held.
  const alive = setInterval(() => {}, 1_000);
  await hold.promise;
  clearInterval(alive);
  heldMs += performance.now() - at;
}
let events = 0;
for (let pass = 1; ; pass++) {
  const at = performance.now();
  const removed = await retrying('pass', () => runRetentionPass(retention, { before, between, batch }));
  events += removed.events;
  console.log(`pass ${JSON.stringify({ pass, ...removed, seconds: (performance.now() - at) / 1000 })}`);
  if (removed.done) break;
}
finish();

/** The result line (bench:scale reads it), also when told to stop part way (SIGTERM). */
function finish(): void {
  const cpu = process.cpuUsage(cpuAtOpen);
  console.log(
    `result ${JSON.stringify({
      events,
      failures,
      seconds: (performance.now() - started) / 1000,
      heldSeconds: heldMs / 1000,
      batchMs: percentiles(batchMs),
      cpuUs: cpu.user + cpu.system,
    })}`,
  );
  database.client.close();
}

function percentiles(xs: number[]): { p50: number; p99: number; max: number } {
  const sorted = [...xs].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? 0 };
}
