import { type Client, createClient } from '@libsql/client';
import type { BenchContext } from './bench-context.ts';
import { meshEnv, PAID_TYPE } from './delivery-fixture.ts';
import { MESH_ENTRY, preload } from './delivery-throughput.ts';
import { createSubscription, resetSink, sinkStats } from './mesh-client.ts';
import type { ServerProcess } from './server.ts';

// Part 4 of bench:delivery: the dispatcher SIGKILLed in the middle of its work, then counted —
// nothing the mesh accepted or recorded is lost, and a restarted dispatcher delivers the rest.

export interface KillCheck {
  events: number;
  /** Deliveries the accepted events made (counted before the dispatcher started). */
  deliveries: number;
  /** At the SIGKILL: rows in the file, delivered ones, distinct deliveries the sink had seen. */
  atKill: { rows: number; delivered: number; seen: number; statuses: Record<string, number> };
  /** After a restarted dispatcher finished: delivered, distinct deliveries seen, sink requests. */
  after: { delivered: number; seen: number; requests: number };
  /** What does not hold; empty when nothing was lost. */
  problems: string[];
}

/**
 * Preloads `events` through the API, starts a dispatcher, SIGKILLs it once the sink has seen about
 * half of the deliveries, then checks the file: every delivery still there, none dead, each one
 * recorded `delivered` really reached the sink. A second dispatcher then delivers the rest: every
 * delivery `delivered` and seen by the sink at least once (copies of those in flight at the kill
 * are expected: at-least-once).
 */
export async function runKillCheck(
  ctx: BenchContext,
  sink: ServerProcess,
  options: { events: number; concurrency: number },
): Promise<KillCheck> {
  const dbUrl = `file:${ctx.dir}/kill-check.db`;
  const env = { ...meshEnv(sink.url), DATABASE_URL: dbUrl };
  const api = await ctx.start({
    name: 'kill-api',
    script: MESH_ENTRY,
    env: { ...env, HOOKMESH_ROLE: 'api' },
    core: 0,
  });
  try {
    await createSubscription(api.url, PAID_TYPE, `${sink.url}/kill`, { maxConcurrency: options.concurrency });
    await preload(api.url, options.events, 'kill');
  } finally {
    await ctx.stop(api);
  }

  const db = createClient({ url: dbUrl });
  const problems: string[] = [];
  try {
    const deliveries = await count(db, 'SELECT count(*) FROM deliveries');
    await resetSink(sink.url);
    const dispatcherEnv = { ...env, HOOKMESH_ROLE: 'dispatcher' };
    const first = await ctx.start({
      name: 'kill-dispatcher',
      script: MESH_ENTRY,
      env: dispatcherEnv,
      core: 0,
      ready: false,
    });
    const deadline = Date.now() + 60_000;
    while ((await sinkStats(sink.url)).distinct < deliveries / 2) {
      if (first.child.exitCode !== null) throw new Error('the dispatcher exited before the kill');
      if (Date.now() > deadline)
        throw new Error('the dispatcher did not reach half of the deliveries in time');
      await sleep(2);
    }
    await ctx.stop(first, 'SIGKILL');
    const statuses = await byStatus(db);
    const atKill = {
      rows: Object.values(statuses).reduce((a, b) => a + b, 0),
      delivered: statuses.delivered ?? 0,
      seen: (await sinkStats(sink.url)).distinct,
      statuses,
    };
    if (atKill.rows !== deliveries)
      problems.push(`${deliveries - atKill.rows} deliveries missing after the SIGKILL`);
    if ((statuses.dead ?? 0) > 0) problems.push(`${statuses.dead} deliveries dead after the SIGKILL`);
    if (atKill.delivered > atKill.seen)
      problems.push(`${atKill.delivered} recorded delivered but the sink saw only ${atKill.seen}`);

    // The killed holder's leases lapse (HOOKMESH_LEASE_MS) before the rest goes out: keep it short.
    const second = await ctx.start({
      name: 'kill-dispatcher-restarted',
      script: MESH_ENTRY,
      env: { ...dispatcherEnv, HOOKMESH_LEASE_MS: '2000', HOOKMESH_ATTEMPT_TIMEOUT_MS: '1000' },
      core: 0,
      ready: false,
    });
    try {
      const until = Date.now() + 60_000;
      while ((await count(db, "SELECT count(*) FROM deliveries WHERE status = 'delivered'")) < deliveries) {
        if (second.child.exitCode !== null) throw new Error('the restarted dispatcher exited');
        if (Date.now() > until) break;
        await sleep(50);
      }
    } finally {
      await ctx.stop(second);
    }
    const stats = await sinkStats(sink.url);
    const after = {
      delivered: await count(db, "SELECT count(*) FROM deliveries WHERE status = 'delivered'"),
      seen: stats.distinct,
      requests: stats.count,
    };
    if (after.delivered !== deliveries)
      problems.push(`${deliveries - after.delivered} of ${deliveries} not delivered after the restart`);
    if (after.seen !== deliveries) problems.push(`the sink saw ${after.seen} of ${deliveries} deliveries`);
    return { events: options.events, deliveries, atKill, after, problems };
  } finally {
    db.close();
  }
}

async function byStatus(db: Client): Promise<Record<string, number>> {
  const statuses: Record<string, number> = {};
  const rows = await db.execute('SELECT status, count(*) AS n FROM deliveries GROUP BY status');
  for (const row of rows.rows) statuses[String(row.status)] = Number(row.n);
  return statuses;
}

async function count(db: Client, sql: string): Promise<number> {
  return Number((await db.execute(sql)).rows[0]![0]);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
