// Preloaded into a bench's server (`node --import`, plain JavaScript so that compiled servers,
// which run without tsx, load it too): how much of the process's life V8's young-generation
// collections took, written as JSON to HOOKMESH_BENCH_GC_FILE as the process exits. When objects
// that should die young are kept past two of them (as the undici sender's `Set` of attempts once
// did, 2026-12-05), scavenges take 8-9 % of the dispatcher's life instead of 2-3 %.
import { writeFileSync } from 'node:fs';
import { constants, PerformanceObserver, performance } from 'node:perf_hooks';

const file = process.env.HOOKMESH_BENCH_GC_FILE;
if (file) {
  const started = performance.now();
  const young = { count: 0, ms: 0 };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (entry.detail?.kind !== constants.NODE_PERFORMANCE_GC_MINOR) continue;
      young.count++;
      young.ms += entry.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  process.on('exit', () => {
    writeFileSync(file, JSON.stringify({ lifeMs: performance.now() - started, young }));
  });
}
