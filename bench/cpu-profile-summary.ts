// Where a server's time went, from a V8 CPU profile (BENCH_CPU_PROF): self time summed by function
// (or by script with `url`), over the busiest `window` seconds of the profile — the measured wrk
// run, not the start-up, the warm-up's gaps or the token minting the server idles through. Give
// `requests` (what wrk answered in that window, e.g. req/s × window) to print µs per request.
// Profiles of tsx-run servers put a whole module on one line: run bench:delivery with
// BENCH_COMPILED=1 for line numbers that mean something.
// Usage: tsx bench/cpu-profile-summary.ts <file.cpuprofile> [fn|url|line] [top 40] [window 3.5] [requests]
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  positionTicks?: { line: number; ticks: number }[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, mode = 'fn', topArg = '40', windowArg = '3.5', requestsArg = '0'] = process.argv.slice(2);
if (file === undefined) throw new Error('usage: cpu-profile-summary.ts <file.cpuprofile> [fn|url|line]');
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const frameOf = (sample: number) => nodes.get(sample)!.callFrame;
/** A sample's duration is the delta before the next sample. */
const durationOf = (i: number) => profile.timeDeltas[i + 1] ?? 0;

const at: number[] = [];
let clock = 0;
for (const delta of profile.timeDeltas) {
  clock += delta;
  at.push(clock);
}

/** The start of the `window` with the least idle time: the server at its busiest. */
function busiestWindow(windowUs: number): { first: number; idleUs: number } {
  let best = { first: 0, idleUs: Number.POSITIVE_INFINITY };
  let idleUs = 0;
  let end = 0;
  for (let first = 0; first < at.length; first++) {
    while (end < at.length && at[end]! - at[first]! < windowUs) {
      if (frameOf(profile.samples[end]!).functionName === '(idle)') idleUs += durationOf(end);
      end++;
    }
    if (end >= at.length) break;
    if (idleUs < best.idleUs) best = { first, idleUs };
    if (frameOf(profile.samples[first]!).functionName === '(idle)') idleUs -= durationOf(first);
  }
  return best;
}

const windowUs = Number(windowArg) * 1e6;
const { first, idleUs } = busiestWindow(windowUs);
const shares = new Map<string, number>();
let totalUs = 0;
for (let i = first; i < at.length && at[i]! - at[first]! < windowUs; i++) {
  const frame = frameOf(profile.samples[i]!);
  const url = frame.url
    .replace(/.*node_modules\//, '')
    .replace(/^file:\/\/.*?\/(src|bench|\.bench-build)\//, '$1/');
  const key =
    mode === 'url'
      ? url || `(${frame.functionName})`
      : `${frame.functionName || '(anonymous)'} ${url}:${frame.lineNumber + 1}`;
  shares.set(key, (shares.get(key) ?? 0) + durationOf(i));
  totalUs += durationOf(i);
}

const requests = Number(requestsArg);
for (const [key, us] of [...shares].sort((a, b) => b[1] - a[1]).slice(0, Number(topArg))) {
  const perRequest = requests > 0 ? `  ${(us / requests).toFixed(1).padStart(6)} µs/req` : '';
  console.log(`${((100 * us) / totalUs).toFixed(1).padStart(5)}%${perRequest}  ${key}`);
}
console.log(`window ${(totalUs / 1e6).toFixed(2)} s, idle ${((100 * idleUs) / totalUs).toFixed(1)}%`);

if (mode === 'line') {
  // Ticks by source line within each function (V8's positionTicks), for the hottest functions.
  const lines = new Map<string, number>();
  for (const node of profile.nodes) {
    for (const tick of node.positionTicks ?? []) {
      const key = `${node.callFrame.functionName || '(anonymous)'} ${node.callFrame.url.replace(/.*\//, '')}:${tick.line}`;
      lines.set(key, (lines.get(key) ?? 0) + tick.ticks);
    }
  }
  console.log('\nticks by line (whole profile):');
  for (const [key, ticks] of [...lines].sort((a, b) => b[1] - a[1]).slice(0, Number(topArg))) {
    console.log(`${String(ticks).padStart(6)}  ${key}`);
  }
}
