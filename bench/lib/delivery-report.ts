import type { CpuShares, ProcessesShares } from './cpu.ts';
import { describeInbox, type HandlerRouteRun } from './delivery-handler-route.ts';
import type { KillCheck } from './delivery-kill-check.ts';
import type { LatencyRun } from './delivery-latency.ts';
import { cpuMicros, type DispatchRun, type GcShares, type RawRun } from './delivery-throughput.ts';
import { kilo, spread } from './stats.ts';
import { socketErrorCount } from './wrk.ts';

// What bench:delivery prints at the end: the table of figures against their goals, the noise
// between runs, and the warnings that make a figure suspect.

export const GOAL_DELIVERY_RATIO = 0.4;
export const GOAL_E2E_P50_MS = 5;
export const GOAL_HANDLER_RATIO = 0.5;
/** Percent of one core used by other processes (tick-sampled, so only roughly) that makes figures suspect. */
const OTHER_CPU_WARNING = 20;

export interface DeliveryResults {
  raw: RawRun[];
  /** Part 1's figure: a mesh whose only subscription is the bench's. */
  dispatch: DispatchRun[];
  /** Part 1's context: `npm start`'s example app, its own subscription beside the bench's. */
  app: DispatchRun[];
  latency: LatencyRun[];
  hono: HandlerRouteRun[];
  webhook: HandlerRouteRun[];
  /** Part 4: SIGKILL then count. */
  kill: KillCheck[];
  /** Correctness problems seen during the runs (lost deliveries, inbox mismatches). */
  warnings: string[];
  connections: number;
  /** Idle time before each latency POST. */
  latencyGapMs: number;
}

/** Prints the summary; returns the exit code (missed goals are findings, not failures). */
export function printSummary(results: DeliveryResults): number {
  const { raw, dispatch, latency, hono, webhook, warnings } = results;
  const rows: string[][] = [['figure', 'mesh', 'reference', 'ratio', 'goal', 'result']];
  let goals = 0;
  let met = 0;
  const verdict = (ok: boolean, clean: boolean) => {
    goals++;
    if (ok && clean) met++;
    const word = ok ? 'met' : 'NOT MET';
    return clean ? word : `${word} (run had errors)`;
  };

  if (dispatch.length > 0 && raw.length > 0) {
    const mesh = Math.max(...dispatch.map((d) => d.perSecond));
    const reference = Math.max(...raw.map((r) => r.perSecond));
    const ratio = mesh / reference;
    const clean =
      raw.every((r) => r.failed === 0) && dispatch.every((d) => d.statuses.delivered === d.deliveries);
    rows.push([
      'delivery throughput (best; one subscription, 64 in flight like the raw loop)',
      `${kilo(mesh)} deliveries/s`,
      `${kilo(reference)} req/s raw undici`,
      ratio.toFixed(2),
      `>= ${GOAL_DELIVERY_RATIO.toFixed(2)}`,
      verdict(ratio >= GOAL_DELIVERY_RATIO, clean),
    ]);
  }
  if (latency.length > 0) {
    const best = latency.reduce((a, b) => (b.e2e.p50 < a.e2e.p50 ? b : a));
    rows.push([
      `end-to-end latency (best p50 run, ${results.latencyGapMs} ms idle before each POST)`,
      `p50 ${ms(best.e2e.p50)}, p99 ${ms(best.e2e.p99)}`,
      `the POST alone: p50 ${ms(best.post.p50)}, p99 ${ms(best.post.p99)}`,
      '',
      `p50 <= ${GOAL_E2E_P50_MS} ms`,
      verdict(best.e2e.p50 <= GOAL_E2E_P50_MS, true),
    ]);
  }
  if (webhook.length > 0 && hono.length > 0) {
    const mesh = Math.max(...webhook.map((r) => r.measured.okPerSecond));
    const reference = Math.max(...hono.map((r) => r.measured.okPerSecond));
    const ratio = mesh / reference;
    const clean = [...webhook, ...hono].every((r) => wrkErrors(r) === 0);
    rows.push([
      `handler route, wrk -c${results.connections} (best)`,
      `${kilo(mesh)} req/s webhook app + ${describeInbox()}`,
      `${kilo(reference)} req/s bare Hono`,
      ratio.toFixed(2),
      `>= ${GOAL_HANDLER_RATIO.toFixed(2)}`,
      verdict(ratio >= GOAL_HANDLER_RATIO, clean),
    ]);
  }
  printTable(rows);
  console.log(`\ngoals met: ${met} of ${goals}`);
  for (const k of results.kill) {
    console.log(
      `kill check (SIGKILL half-way, then a count): ${k.problems.length === 0 ? 'nothing lost' : 'LOST OR MISSING'} — ` +
        `${k.deliveries} deliveries accepted, ${k.atKill.rows} in the file at the kill (${k.atKill.delivered} recorded ` +
        `delivered, all among the ${k.atKill.seen} the sink saw), ${k.after.delivered} delivered after a restart`,
    );
  }

  const others = [
    ...raw.map((r) => r.cpu?.other),
    ...dispatch.map((d) => d.cpu?.other),
    ...results.app.map((d) => d.cpu?.other),
    ...latency.map((l) => l.cpu?.other),
    ...[...hono, ...webhook].map((r) => r.cpu?.other),
  ];
  const busy = others.filter((other) => (other ?? 0) > OTHER_CPU_WARNING).length;
  console.log(
    `\nnoise: worst–best of the runs (${busy} of ${others.length} runs had other processes above ${OTHER_CPU_WARNING}% of a core)`,
  );
  const noise: [string, number[], (n: number) => string, string][] = [
    ['raw undici', raw.map((r) => r.perSecond), kilo, 'req/s'],
    ['mesh deliveries', dispatch.map((d) => d.perSecond), kilo, '/s'],
    ['mesh (app)', results.app.map((d) => d.perSecond), kilo, '/s'],
    ['e2e p50', latency.map((l) => l.e2e.p50), (n) => n.toFixed(2), 'ms'],
    ['bare Hono', hono.map((r) => r.measured.okPerSecond), kilo, 'req/s'],
    ['webhook app', webhook.map((r) => r.measured.okPerSecond), kilo, 'req/s'],
  ];
  for (const [name, values, format, unit] of noise) {
    if (values.length > 0) console.log(`  ${name.padEnd(16)} ${spread(values, format)} ${unit}`);
  }
  // Each pair ran back to back, so its ratio is less exposed to a burst of other work than the
  // ratio of the two bests.
  const paired = (mesh: number[], reference: number[]) =>
    mesh.map((m, i) => (reference[i] ? (m / reference[i]).toFixed(2) : '?')).join(', ');
  if (dispatch.length > 0 && raw.length > 0) {
    console.log(
      `  delivery ratio per run (mesh/raw, back to back): ${paired(
        dispatch.map((d) => d.perSecond),
        raw.map((r) => r.perSecond),
      )}`,
    );
  }
  if (results.app.length > 0 && raw.length > 0) {
    console.log(
      `  npm start's app, ratio per run (mesh/raw): ${paired(
        results.app.map((d) => d.perSecond),
        raw.map((r) => r.perSecond),
      )}`,
    );
  }
  if (dispatch.length > 0 && raw.length > 0) {
    const micros = (runs: (RawRun | DispatchRun)[]) =>
      Math.min(...runs.map(cpuMicros).filter((x): x is number => x !== null));
    const client = micros(raw);
    const mesh = micros(dispatch);
    if (Number.isFinite(client) && Number.isFinite(mesh)) {
      // On a shared machine the throughput ratio is partly the scheduler's; CPU per item is mostly
      // the code's own (the mesh's also waits on fsync, which costs no CPU: see the throughput ratio).
      console.log(
        `  delivery CPU per item (best run): raw client ${client.toFixed(0)} µs/request, mesh ` +
          `${mesh.toFixed(0)} µs/delivery → CPU ratio ${(client / mesh).toFixed(2)}`,
      );
    }
  }
  if (webhook.length > 0 && hono.length > 0) {
    const okPerSecond = (runs: HandlerRouteRun[]) => runs.map((r) => r.measured.okPerSecond);
    console.log(
      `  handler ratio per run (webhook/Hono, back to back): ${paired(okPerSecond(webhook), okPerSecond(hono))}`,
    );
  }

  if (results.app.length > 0) {
    console.log(
      "\nnote: the figure's mesh has one subscription, the bench's, allowed as many attempts in flight as the " +
        "raw loop keeps (BENCH_CONCURRENCY). The app row is `npm start`'s example app: each OrderPaid makes two " +
        "deliveries, the bench's and the app's own code-declared order.paid.v1 subscription's (pointed at the same " +
        "receiver through HOOKMESH_PUBLIC_URL, at the default max_concurrency 16) — which outlasts the bench's and " +
        'then runs alone with 16 in flight.',
    );
  }
  if (busy > 0) {
    console.log(
      `WARNING: other processes were busy during ${busy} runs (see "other" per run): figures may be low`,
    );
  }
  for (const warning of warnings) console.log(`WARNING: ${warning}`);
  return warnings.length > 0 ? 1 : 0;
}

export function formatProcessesCpu(shares: ProcessesShares | null, first: string, second: string): string {
  if (shares === null) return '';
  const [a, b] = shares.processes.map((p) => (p === null ? '?' : p.toFixed(0)));
  return `cpu % ${first}/${second}/harness/other ${a}/${b}/${shares.harness.toFixed(0)}/${shares.other.toFixed(0)}`;
}

/** `, <label> 123 µs/<unit>`, or nothing when the CPU could not be sampled. */
export function formatMicros(micros: number | null, label: string, unit: string): string {
  return micros === null ? '' : `, ${label} ${micros.toFixed(0)} µs/${unit}`;
}

/**
 * `, young GC 2.6 % of its life (89 × 1.1 ms)`: the share of a process's life its young-generation
 * collections took, or nothing when its preload wrote no figures.
 */
export function formatYoungGc(gc: GcShares | null): string {
  if (gc === null || gc.lifeMs <= 0) return '';
  const average = gc.young.count === 0 ? 0 : gc.young.ms / gc.young.count;
  return `, young GC ${youngGcPercent(gc).toFixed(1)} % of its life (${gc.young.count} × ${average.toFixed(1)} ms)`;
}

/** The young-generation collections' share of a process's life, in percent. */
export function youngGcPercent(gc: GcShares): number {
  return (gc.young.ms / gc.lifeMs) * 100;
}

export function formatWrkCpu(shares: CpuShares | null): string {
  if (shares === null) return '';
  return `cpu % server/wrk/other ${[shares.server, shares.wrk, shares.other].map((x) => x.toFixed(0)).join('/')}`;
}

export function wrkErrors(run: HandlerRouteRun): number {
  const m = run.measured;
  return m.non2xx + m.statuses.other + socketErrorCount(m);
}

export function ms(value: number): string {
  return `${value.toFixed(2)} ms`;
}

function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const line = (row: string[]) =>
    row
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  console.log(`\n${rows.map(line).join('\n')}`);
}
