import type { ProcessesShares } from './cpu.ts';
import type { OperatorRoute } from './operator-routes.ts';
import { quantile } from './stats.ts';

// What bench:operator prints at the end: one row per route against the /healthz floor measured in
// the same rounds, the verdict on issue 9's goals, and the noise that makes figures suspect.

/** Percent of one core used by other processes (tick-sampled, so only roughly) that makes figures suspect. */
const OTHER_CPU_WARNING = 20;

export interface RouteResult {
  route: OperatorRoute;
  /** The first request of the run (cold caches), apart from the samples. */
  first: number | null;
  samples: number[];
  /** Size of the last answer's body. */
  bytes: number;
  spentMs: number;
  error: string | null;
}

export function printReport(
  results: readonly RouteResult[],
  cpu: ProcessesShares | null,
  options: { rounds: number; warmup: number; budgetMs: number },
): void {
  const floor = quantile(results.find((r) => r.route.baseline)?.samples ?? [], 0.5);
  const rows: string[][] = [
    ['route', 'n', 'first', 'p50', 'p95', 'max', 'p50 - floor', 'body', 'goal', 'result'],
  ];
  for (const r of results) {
    const p50 = quantile(r.samples, 0.5);
    const p95 = quantile(r.samples, 0.95);
    rows.push([
      r.route.name,
      String(r.samples.length),
      r.first === null ? '?' : ms(r.first),
      ms(p50),
      ms(p95),
      r.samples.length === 0 ? '?' : ms(Math.max(...r.samples)),
      r.route.baseline ? '(floor)' : ms(p50 - floor),
      kib(r.bytes),
      r.route.goalMs === null ? '' : `p95 <= ${r.route.goalMs} ms`,
      r.route.goalMs === null ? '' : p95 <= r.route.goalMs ? 'MET' : 'NOT MET',
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const right = new Set([1, 2, 3, 4, 5, 6, 7]);
  const line = (row: string[]) =>
    row.map((cell, i) => (right.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ');
  console.log(
    `\none request at a time, keep-alive; ${options.warmup} warm-up rounds (the first request of each route is "first"), ` +
      `then ${options.rounds} rounds; a route stops being sampled after ${options.budgetMs / 1000} s of requests`,
  );
  console.log(rows.map((row) => line(row).trimEnd()).join('\n'));

  console.log(
    '\ngoals (issue 9: with 1,000,000 deliveries stored, each answers in <= 250 ms; judged on p95):',
  );
  for (const r of results.filter((x) => x.route.goalMs !== null)) {
    const p95 = quantile(r.samples, 0.95);
    const met = p95 <= r.route.goalMs!;
    console.log(
      `  ${r.route.name.padEnd(10)} ${met ? 'MET' : 'NOT MET'}: p95 ${ms(p95)}, p50 ${ms(quantile(r.samples, 0.5))} (goal ${r.route.goalMs} ms)`,
    );
  }
  const slow = results.filter(
    (r) => r.route.goalMs === null && !r.route.baseline && quantile(r.samples, 0.95) > 250,
  );
  if (slow.length > 0) {
    console.log(
      `  over 250 ms at p95 without a goal of their own: ${slow.map((r) => r.route.name).join('; ')}`,
    );
  }
  if (cpu !== null) {
    const mesh = cpu.processes[0];
    console.log(
      `\nnoise: during the timed rounds the mesh used ${mesh === null || mesh === undefined ? '?' : mesh.toFixed(0)}% of a core, ` +
        `this harness ${cpu.harness.toFixed(0)}%, other processes ${cpu.other.toFixed(0)}%` +
        (cpu.other > OTHER_CPU_WARNING ? ' — SUSPECT: rerun on an idle machine' : ''),
    );
  }
  console.log(`spread: p50 → p95 → max per row; the floor (GET /healthz p50) is ${ms(floor)}`);
}

function ms(value: number): string {
  if (Number.isNaN(value)) return '?';
  return value >= 100 ? `${value.toFixed(0)} ms` : `${value.toFixed(1)} ms`;
}

function kib(bytes: number): string {
  return bytes >= 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${bytes} B`;
}
