import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { systemClock } from '../src/core/clock.ts';
import { COMPATIBILITY_DATE, migratePersistedD1 } from '../test/support/d1.ts';
import { startQStashDouble } from '../test/support/qstash-double.ts';
import { buildWorker } from '../worker/build.ts';

// The Worker's cold start (issue 12): over N fresh workerd isolates, the time of the first request
// — the one that composes the mesh — against a trivial Hono Worker of the same shape in the same
// miniflare, measured in the same run and interleaved round by round, so the figure is ours minus
// the platform's. Two first requests: `GET /healthz` and `POST /v1/events` (D1 migrated
// beforehand, as wrangler does; QStash is the loopback double).
//   npm run bench:worker              (ROUNDS=30 by default; ROUNDS=n to change)
//   WORKER_BUNDLE=old/worker.js npm run bench:worker   (an earlier build instead of building now)
//   COMPARE_BUNDLE=base/worker.js npm run bench:worker (a third variant, e.g. the base branch's
//   build, interleaved in the same rounds: base and branch compared on the same moments)
//   FIRST=post npm run bench:worker     (only one of the two first requests: healthz or post)
// Each round starts one workerd per variant (new Miniflare), which is the only way to be sure the
// isolate is fresh. What workerd's start costs (process, config, compiling and evaluating the
// module) is shown apart as `start`; `first` is the first request's round trip from Node, `warm`
// the same request once more in the same isolate. On a machine shared with other work the round
// trips swing by tens of milliseconds, so the verdict is on CPU time instead: what the workerd
// process (every thread: the Worker, miniflare's D1 beside it, the HTTP plumbing) spent between
// sending the request and reading the answer, from Linux's per-thread schedstat (nanoseconds).
// What the first request's waitUntil does after its answer (the publish) is shown apart, and the
// warm request is sent once that had its time, so neither figure carries it.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ROUNDS = Number(process.env.ROUNDS ?? 30);
const GOAL_MS = 10;
const PUBLIC_URL = 'https://hookmesh.example.com';
const PRODUCER_TOKEN = 'billing-token-0123456789abcdef-0123456789';
const ADMIN_TOKEN = 'admin-token-0123456789abcdef-0123456789';
const QSTASH_TOKEN = 'qstash-token-for-bench';
const SIGNING_KEY = 'sig_current_7kYjw48mhY7kAjqNGcy6cr29RJ6r';
const NEXT_SIGNING_KEY = 'sig_next_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs';

// The platform's share: Hono answering the same two routes the same way, bundled with the same
// options, no mesh — and the same database work, so that D1's own first query in a fresh workerd
// counts on both sides: /healthz reads one row, POST parses the JSON and writes one row in a batch.
const BASELINE_SOURCE = `
import { Hono } from 'hono';
const app = new Hono();
app.get('/healthz', async (c) => {
  await c.env.DB.prepare('SELECT 1').all();
  return c.json({ status: 'ok' });
});
app.post('/v1/events', async (c) => {
  const body = await c.req.json();
  const insert = c.env.DB.prepare('INSERT INTO bench_baseline (id, body) VALUES (?, ?)');
  await c.env.DB.batch([insert.bind(body.id, JSON.stringify(body))]);
  return c.json({ id: body.id, integrationEvents: [{ id: crypto.randomUUID(), type: 'order.created.v1' }] }, 202);
});
export default { fetch: app.fetch };
`;

type Variant = 'baseline' | 'hookmesh' | 'compare';
type FirstRequest = 'healthz' | 'post';
/** The CPU figures printed for this build against COMPARE_BUNDLE's, in order. */
const COMPARED_CPU = [
  ['first', 'firstCpu'],
  ['warm', 'warmCpu'],
  ['after', 'afterCpu'],
  ['start', 'startCpu'],
] as const;

interface Sample {
  readonly start: number;
  /** workerd's CPU milliseconds from its spawn to ready: its start, evaluating the module included. */
  readonly startCpu: number;
  readonly first: number;
  readonly warm: number;
  /** workerd's CPU milliseconds for the first and the warm request; NaN where /proc cannot tell. */
  readonly firstCpu: number;
  readonly warmCpu: number;
  /**
   * workerd's CPU milliseconds after the first answer was read, until the warm request: what the
   * first request's waitUntil (the publish after an ingest) did once its answer had left.
   */
  readonly afterCpu: number;
}

/**
 * How long the first answer's waitUntil is given before the warm request: the publish to the
 * loopback QStash double takes a few milliseconds; its CPU is shown apart (`afterCpu`), not mixed
 * into the warm request's.
 */
const AFTER_ANSWER_MS = 200;

/** The workerd processes this process started (miniflare spawns one per instance). */
function workerdChildren(): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      if (comm === 'workerd' && ppid === process.pid) found.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

/** CPU time of every thread of `pid` so far, in milliseconds (NaN off Linux). */
function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    let ns = 0;
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    }
    return ns / 1e6;
  } catch {
    return Number.NaN;
  }
}

const dir = mkdtempSync(join(tmpdir(), 'hookmesh-cold-start-'));
const q = await startQStashDouble({
  token: QSTASH_TOKEN,
  currentSigningKey: SIGNING_KEY,
  nextSigningKey: NEXT_SIGNING_KEY,
  clock: systemClock,
});
try {
  // WORKER_BUNDLE=<file> measures a bundle built before (an earlier commit's, to compare).
  const given = process.env.WORKER_BUNDLE;
  const ours = given
    ? {
        path: resolve(given),
        bytes: readFileSync(given).byteLength,
        gzipBytes: gzipSync(readFileSync(given), { level: 9 }).byteLength,
      }
    : await buildWorker({ outfile: join(dir, 'hookmesh', 'worker.js') });
  mkdirSync(join(ROOT, '.tmp'), { recursive: true });
  const baselineEntry = join(ROOT, '.tmp', `cold-start-baseline-${process.pid}.ts`);
  writeFileSync(baselineEntry, BASELINE_SOURCE);
  const baselinePath = join(dir, 'baseline', 'worker.js');
  try {
    await build({
      absWorkingDir: ROOT,
      entryPoints: [baselineEntry],
      outfile: baselinePath,
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      mainFields: ['browser', 'module', 'main'],
      conditions: ['workerd', 'worker', 'browser'],
      target: 'es2022',
      minify: true,
      logLevel: 'warning',
    });
  } finally {
    rmSync(baselineEntry, { force: true });
  }

  const persist = join(dir, 'd1');
  await migratePersistedD1(persist, async (d1) => {
    await d1.prepare('CREATE TABLE bench_baseline (id TEXT PRIMARY KEY, body TEXT NOT NULL)').all();
  });

  const compare = process.env.COMPARE_BUNDLE ? resolve(process.env.COMPARE_BUNDLE) : null;
  const paths: Record<Variant, string> = {
    baseline: baselinePath,
    hookmesh: ours.path,
    compare: compare ?? '',
  };
  const variants: Variant[] = compare ? ['baseline', 'hookmesh', 'compare'] : ['baseline', 'hookmesh'];
  const kinds: FirstRequest[] =
    process.env.FIRST === 'post'
      ? ['post']
      : process.env.FIRST === 'healthz'
        ? ['healthz']
        : ['healthz', 'post'];
  const start = (variant: Variant) =>
    new Miniflare({
      modules: [{ type: 'ESModule', path: paths[variant] }],
      modulesRoot: dirname(paths[variant]),
      compatibilityDate: COMPATIBILITY_DATE,
      d1Databases: { DB: 'hookmesh' },
      d1Persist: persist,
      // The Worker's JSON log lines would bury the figures; drained, not shown.
      handleRuntimeStdio: (stdout: Readable, stderr: Readable) => {
        stdout.resume();
        stderr.resume();
      },
      bindings: {
        NODE_ENV: 'production',
        HOOKMESH_PUBLIC_URL: PUBLIC_URL,
        HOOKMESH_TRANSPORT: 'qstash',
        HOOKMESH_PRODUCER_TOKENS: `billing:${PRODUCER_TOKEN}`,
        HOOKMESH_ADMIN_TOKEN: ADMIN_TOKEN,
        QSTASH_TOKEN,
        QSTASH_URL: q.url,
        QSTASH_CURRENT_SIGNING_KEY: SIGNING_KEY,
        QSTASH_NEXT_SIGNING_KEY: NEXT_SIGNING_KEY,
      },
    });

  let seq = 0;
  const request = (
    kind: FirstRequest,
  ): [string, { method?: string; headers?: Record<string, string>; body?: string }] => {
    if (kind === 'healthz') return [`${PUBLIC_URL}/healthz`, {}];
    seq += 1;
    const id = `cold-${process.pid}-${seq}`;
    return [
      `${PUBLIC_URL}/v1/events`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${PRODUCER_TOKEN}` },
        body: JSON.stringify({
          id,
          type: 'OrderCreated',
          data: { order: { id: `o-${id}`, customerId: 'c-1', total: 42.5, currency: 'EUR' } },
        }),
      },
    ];
  };
  const expected: Record<FirstRequest, number> = { healthz: 200, post: 202 };

  const measure = async (variant: Variant, kind: FirstRequest): Promise<Sample> => {
    const before = new Set(workerdChildren());
    const t0 = performance.now();
    const mf = start(variant);
    try {
      await mf.ready;
      const t1 = performance.now();
      const pids = workerdChildren().filter((pid) => !before.has(pid));
      const pid = pids.length === 1 ? pids[0] : undefined;
      const c1 = cpuMs(pid);
      const res = await mf.dispatchFetch(...request(kind));
      await res.arrayBuffer();
      const c2 = cpuMs(pid);
      const t2 = performance.now();
      if (res.status !== expected[kind]) throw new Error(`${variant} ${kind}: ${res.status}`);
      await new Promise((resolve) => setTimeout(resolve, AFTER_ANSWER_MS));
      const c3 = cpuMs(pid);
      const t3 = performance.now();
      const again = await mf.dispatchFetch(...request(kind));
      await again.arrayBuffer();
      const c4 = cpuMs(pid);
      const t4 = performance.now();
      return {
        start: t1 - t0,
        startCpu: c1,
        first: t2 - t1,
        warm: t4 - t3,
        firstCpu: c2 - c1,
        warmCpu: c4 - c3,
        afterCpu: c3 - c2,
      };
    } finally {
      await mf.dispose();
    }
  };

  const samples = new Map<string, Sample[]>();
  const keyOf = (variant: Variant, kind: FirstRequest) => `${variant} ${kind}`;
  // One unmeasured round each: the file cache, miniflare's own first start.
  for (const kind of kinds) for (const variant of variants) await measure(variant, kind);
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const kind of kinds) {
      // Alternate which goes first, so a slow moment of the shared machine falls on both.
      const order: Variant[] = round % 2 === 0 ? variants : [...variants].reverse();
      for (const variant of order) {
        const list = samples.get(keyOf(variant, kind)) ?? [];
        list.push(await measure(variant, kind));
        samples.set(keyOf(variant, kind), list);
      }
    }
    process.stderr.write(`\rround ${round + 1}/${ROUNDS}`);
  }
  process.stderr.write('\n');

  const ms = (n: number) => `${n.toFixed(1)}`.padStart(6);
  const stats = (values: number[]) => {
    const s = [...values].sort((a, b) => a - b);
    const at = (p: number) => s[Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5))]!;
    return { p50: at(0.5), p25: at(0.25), p75: at(0.75), min: s[0]!, max: s[s.length - 1]! };
  };
  const line = (label: string, values: number[]) => {
    const { p50, p25, p75, min, max } = stats(values);
    return `${label.padEnd(34)}${ms(p50)} ms   p25–p75 ${ms(p25)} –${ms(p75)}   min–max ${ms(min)} –${ms(max)}`;
  };

  console.log(
    `worker bundle ${(ours.bytes / 1024).toFixed(1)} KiB, gzip ${(ours.gzipBytes / 1024).toFixed(1)} KiB; ${ROUNDS} rounds, one fresh workerd per sample`,
  );
  let met = true;
  for (const kind of kinds) {
    const base = samples.get(keyOf('baseline', kind))!;
    const mine = samples.get(keyOf('hookmesh', kind))!;
    const label = kind === 'healthz' ? 'GET /healthz' : 'POST /v1/events';
    console.log(`\nfirst request ${label}`);
    console.log(
      line(
        '  baseline start (workerd ready)',
        base.map((s) => s.start),
      ),
    );
    console.log(
      line(
        '  hookmesh start (workerd ready)',
        mine.map((s) => s.start),
      ),
    );
    console.log(
      line(
        '  baseline first request',
        base.map((s) => s.first),
      ),
    );
    console.log(
      line(
        '  hookmesh first request',
        mine.map((s) => s.first),
      ),
    );
    console.log(
      line(
        '  baseline warm request',
        base.map((s) => s.warm),
      ),
    );
    console.log(
      line(
        '  hookmesh warm request',
        mine.map((s) => s.warm),
      ),
    );
    // Paired round by round: the same moment of the machine for both.
    const extraStart = mine.map((s, i) => s.start - base[i]!.start);
    const extraFirst = mine.map((s, i) => s.first - base[i]!.first);
    console.log(line('  start, hookmesh − baseline', extraStart));
    console.log(line('  first, hookmesh − baseline', extraFirst));
    console.log(
      line(
        '  baseline first request, CPU',
        base.map((s) => s.firstCpu),
      ),
    );
    console.log(
      line(
        '  hookmesh first request, CPU',
        mine.map((s) => s.firstCpu),
      ),
    );
    console.log(
      line(
        '  baseline warm request, CPU',
        base.map((s) => s.warmCpu),
      ),
    );
    console.log(
      line(
        '  hookmesh warm request, CPU',
        mine.map((s) => s.warmCpu),
      ),
    );
    // Work moved past the answer still counts somewhere: here.
    console.log(
      line(
        '  hookmesh after first answer, CPU',
        mine.map((s) => s.afterCpu),
      ),
    );
    console.log(
      line(
        '  start CPU, hookmesh − baseline',
        mine.map((s, i) => s.startCpu - base[i]!.startCpu),
      ),
    );
    const extraCpu = mine.map((s, i) => s.firstCpu - base[i]!.firstCpu);
    const coldCpu = mine.map((s, i) => s.firstCpu - s.warmCpu - (base[i]!.firstCpu - base[i]!.warmCpu));
    console.log(line('  first CPU, hookmesh − baseline', extraCpu));
    console.log(line('  cold part (first − warm) − its', coldCpu));
    const cpuKnown = extraCpu.every((n) => Number.isFinite(n));
    const p50 = cpuKnown ? stats(extraCpu).p50 : stats(extraFirst).p50;
    const verdict = p50 <= GOAL_MS ? 'MET' : 'NOT MET';
    if (p50 > GOAL_MS) met = false;
    console.log(
      `  → first ${label} over the platform's (${cpuKnown ? 'workerd CPU' : 'round trip'}): ${p50.toFixed(1)} ms (goal ≤ ${GOAL_MS} ms): ${verdict}`,
    );
    const other = samples.get(keyOf('compare', kind));
    if (other) {
      // The same figures for COMPARE_BUNDLE, and this build against it round by round.
      console.log(
        line(
          '  compare first CPU − baseline',
          other.map((s, i) => s.firstCpu - base[i]!.firstCpu),
        ),
      );
      // This build against it, round by round; "after" shows work moved past the answer (or back
      // before it), beside the first request's.
      for (const [name, cpu] of COMPARED_CPU) {
        console.log(
          line(
            `  ${name} CPU, hookmesh − compare`,
            mine.map((s, i) => s[cpu] - other[i]![cpu]),
          ),
        );
      }
    }
  }
  process.exitCode = met ? 0 : 1;
} finally {
  await q.close();
  rmSync(dir, { recursive: true, force: true });
}
