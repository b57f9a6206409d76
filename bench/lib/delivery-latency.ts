import { type BenchContext, withServerLog } from './bench-context.ts';
import { type ProcessesShares, processesShares, snapshotProcesses } from './cpu.ts';
import { meshEnv, orderPaidEvent, PAID_TYPE } from './delivery-fixture.ts';
import { MESH_ENTRY } from './delivery-throughput.ts';
import { arrivalOf, createSubscription, postEventTimed, resetSink, sinkStats } from './mesh-client.ts';
import type { ServerProcess } from './server.ts';
import { quantile } from './stats.ts';

// Part 2 of bench:delivery: from just before a POST /v1/events leaves the client to the moment
// the sink receives the delivery, one event at a time, with the mesh running HOOKMESH_ROLE=all.

export interface LatencyRun {
  samples: number;
  e2e: { p50: number; p99: number; max: number };
  post: { p50: number; p99: number };
  /** Deliveries that reached the sink before the POST's own answer reached the client. */
  beforeAnswer: number;
  /** POSTs at the sink per event (ours plus the example subscription's). */
  deliveriesPerEvent: number;
  /** mesh, sink */
  cpu: ProcessesShares | null;
}

export async function runLatency(
  ctx: BenchContext,
  sink: ServerProcess,
  options: {
    warmup: number;
    events: number;
    run: number;
    /** Pause between one event's arrival at the sink and the next POST (0: back to back). */
    gapMs: number;
  },
): Promise<LatencyRun> {
  const mesh = await ctx.start({
    name: 'mesh-all',
    script: MESH_ENTRY,
    env: {
      ...meshEnv(sink.url),
      HOOKMESH_ROLE: 'all',
      DATABASE_URL: `file:${ctx.dir}/latency-${options.run}.db`,
    },
    core: 0,
  });
  try {
    return await withServerLog(mesh, async () => {
      await createSubscription(mesh.url, PAID_TYPE, `${sink.url}/latency`);
      const e2e: number[] = [];
      const post: number[] = [];
      let beforeAnswer = 0;
      let before: ReturnType<typeof snapshotProcesses> = null;
      const total = options.warmup + options.events;
      for (let n = 0; n < total; n++) {
        if (n === options.warmup) {
          await resetSink(sink.url);
          before = snapshotProcesses([mesh.child.pid ?? 0, sink.child.pid ?? 0], ctx.cores);
        }
        if (options.gapMs > 0) await new Promise((resolve) => setTimeout(resolve, options.gapMs));
        const sent = await postEventTimed(mesh.url, orderPaidEvent(`lat-${options.run}-${n}`, n));
        const ceId = sent.integrationEventIds[0];
        if (ceId === undefined) throw new Error('the mesh made no integration event of OrderPaid');
        const arrived = await arrivalOf(sink.url, ceId);
        if (n < options.warmup) continue;
        e2e.push(arrived - sent.sentAt);
        post.push(sent.answeredAt - sent.sentAt);
        if (arrived < sent.answeredAt) beforeAnswer++;
      }
      const after = snapshotProcesses([mesh.child.pid ?? 0, sink.child.pid ?? 0], ctx.cores);
      const stats = await sinkStats(sink.url);
      return {
        samples: e2e.length,
        e2e: { p50: quantile(e2e, 0.5), p99: quantile(e2e, 0.99), max: Math.max(...e2e) },
        post: { p50: quantile(post, 0.5), p99: quantile(post, 0.99) },
        beforeAnswer,
        deliveriesPerEvent: stats.count / options.events,
        cpu: before === null || after === null ? null : processesShares(before, after),
      };
    });
  } finally {
    await ctx.stop(mesh);
  }
}
