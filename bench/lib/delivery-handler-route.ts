import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { createClient } from '@libsql/client';
import { signQStashJwt } from '../../src/core/signature.ts';
import { signQStashJwtNode } from '../../src/transports/node-signer.ts';
import { type BenchContext, cpuProfileOptions, withServerLog } from './bench-context.ts';
import { compileForNode } from './compile.ts';
import { type CpuShares, cpuShares, snapshotCpu } from './cpu.ts';
import { orderPaidBody, PAID_TYPE, SIGNING_KEY } from './delivery-fixture.ts';
import { runWrk, type WrkResult } from './wrk.ts';

// Part 3 of bench:delivery: the handler side (createWebhookApp + the durable libSQL inbox) next to
// a bare Hono route, each alone on core 0, loaded by wrk from core 1 with valid deliveries.
// Every request carries its own signed token, as every attempt of the mesh does: the handler's
// replay rule (one run per `jti`) answers a token presented twice without running the handler, so
// one token for all would measure the replay path. The tokens are minted before wrk starts (not
// measured) into a file the wrk script reads a line per request; the script counts what it used,
// and a run that ran out of tokens is an error, not a figure.

/**
 * Tokens minted per second of a wrk run: above bare `node:http` on this machine (33k req/s), so
 * the webhook route cannot run out. The Hono baseline needs none (it verifies nothing): it gets
 * one token, the same size, for every request.
 */
const TOKENS_PER_SECOND = 45_000;

export type HandlerKind = 'webhook' | 'hono';

/** Which inbox the webhook server runs (BENCH_INBOX, see bench/delivery-webhook-server.ts). */
export function inboxMode(): string {
  return process.env.BENCH_INBOX || 'file';
}

export function describeInbox(): string {
  const mode = inboxMode();
  if (mode === 'memory') return 'memory inbox (NOT durable)';
  return mode === 'client' ? 'libSQL inbox (@libsql/client)' : 'libSQL inbox (file, own connection)';
}

export interface HandlerRouteRun {
  kind: HandlerKind;
  measured: WrkResult;
  cpu: CpuShares | null;
  /** Inbox rows marked done after the run (webhook only): one per distinct ce-id answered 200. */
  inboxDone: number | null;
  /** 200s wrk saw over warm-up and measurement, plus the probe. */
  answered200: number;
}

const SERVER_SCRIPTS: Record<HandlerKind, string> = {
  webhook: 'bench/delivery-webhook-server.ts',
  hono: 'bench/delivery-hono-server.ts',
};

/**
 * The handler servers compiled to one JavaScript file each (esbuild; packages stay imports), with
 * BENCH_COMPILED=1: they then run on plain Node, as a deployment does, and a CPU profile
 * (BENCH_CPU_PROF) names each function's own lines — under tsx every module is one line, so a
 * profile cannot tell the route's statements apart. Both sides are compiled alike, so the ratio
 * stays a like-for-like comparison. Written under `.bench-build/` in the repository, so the
 * packages resolve as from `bench/`.
 */
async function serverScript(ctx: BenchContext, kind: HandlerKind): Promise<string> {
  const source = SERVER_SCRIPTS[kind];
  if (process.env.BENCH_COMPILED !== '1') return source;
  return compileForNode(
    join(ctx.root, source),
    join(ctx.root, '.bench-build', 'handler', `${kind}-server.mjs`),
  );
}

export async function runHandlerRoute(
  ctx: BenchContext,
  kind: HandlerKind,
  options: { warmupS: number; durationS: number; connections: number; run: number; nonce: string },
): Promise<HandlerRouteRun> {
  const dbFile = join(ctx.dir, `inbox-${options.run}.db`);
  const server = await ctx.start({
    name: `handler-${kind}`,
    script: await serverScript(ctx, kind),
    env: { DATABASE_URL: `file:${dbFile}`, QSTASH_CURRENT_SIGNING_KEY: SIGNING_KEY },
    core: 0,
    nodeOptions: cpuProfileOptions(kind),
  });
  try {
    return await withServerLog(server, async () => {
      const url = `${server.url}/webhooks/${PAID_TYPE}`;
      const body = orderPaidBody(1);
      await probe(kind, url, body, `probe-${options.nonce}-${options.run}`);
      // Minted right before each run (a token lives 5 minutes), and before the CPU snapshot: the
      // harness's minting is neither wrk's work nor time the server could have served in.
      const mint = async (durationSeconds: number, tag: string) => {
        const count = kind === 'webhook' ? durationSeconds * TOKENS_PER_SECOND : 1;
        const tokens = join(ctx.dir, `tokens-${options.run}${tag}.txt`);
        await mintTokens(tokens, count, url, body);
        return { tokens, count };
      };
      const wrk = async (
        durationSeconds: number,
        tag: string,
        { tokens, count }: { tokens: string; count: number },
      ) => {
        const result = await runWrk({
          url,
          script: join(ctx.root, 'bench/webhook-delivery.lua'),
          durationSeconds,
          connections: options.connections,
          nonce: `${options.nonce}-${options.run}${tag}`,
          cpus: ctx.pinned ? '1' : null,
          scriptArgs: [tokens, body, new Date().toISOString(), kind === 'webhook' ? 'fresh' : 'reuse'],
        });
        if (kind === 'webhook' && /bench-tokens exhausted=1/.test(result.raw)) {
          throw new Error(`wrk ran out of the ${count} signed tokens: raise TOKENS_PER_SECOND`);
        }
        return result;
      };
      const warm = await wrk(options.warmupS, 'w', await mint(options.warmupS, 'w'));
      const measuredTokens = await mint(options.durationS, 'm');
      const pid = server.child.pid ?? 0;
      const before = snapshotCpu(pid, ctx.cores);
      const measured = await wrk(options.durationS, 'm', measuredTokens);
      const after = snapshotCpu(pid, ctx.cores);
      const answered200 = warm.statuses.s200 + measured.statuses.s200 + 1;
      return {
        kind,
        measured,
        cpu: before === null || after === null ? null : cpuShares(before, after),
        inboxDone: kind === 'webhook' && inboxMode() !== 'memory' ? await countDone(dbFile) : null,
        answered200,
      };
    });
  } finally {
    await ctx.stop(server);
  }
}

/**
 * Checks that the requests wrk will send are accepted: a valid delivery gets 200 and is handled, the
 * same ce-id again gets 200 as a duplicate, and (on the webhook app) a bad signature gets 401 — so
 * the figure is the cost of real, verified, deduplicated deliveries.
 */
async function probe(kind: HandlerKind, url: string, body: string, ceId: string): Promise<void> {
  const send = async (key: string) => {
    const signature = await signQStashJwt({ key, url, body, nowMs: Date.now() });
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'ce-specversion': '1.0',
        'ce-id': ceId,
        'ce-type': PAID_TYPE,
        'ce-source': '/producers/bench',
        'ce-time': new Date().toISOString(),
        'upstash-signature': signature,
        'upstash-message-id': `msg_${ceId}`,
        'upstash-retried': '0',
      },
      body,
    });
    return { status: response.status, text: await response.text() };
  };
  const expect = (what: string, got: { status: number; text: string }, status: number, text?: string) => {
    if (got.status !== status || (text !== undefined && !got.text.includes(text))) {
      throw new Error(`${kind} probe, ${what}: expected ${status}, got ${got.status} ${got.text}`);
    }
  };
  expect('a valid delivery', await send(SIGNING_KEY), 200, kind === 'webhook' ? 'handled' : undefined);
  if (kind !== 'webhook') return;
  expect('the same ce-id again', await send(SIGNING_KEY), 200, 'duplicate');
  expect('a wrong key', await send(`${SIGNING_KEY}-wrong`), 401);
}

/**
 * Writes `count` signed tokens for `url` and `body`, one a line, each with its own `jti`, each
 * signed at its own time as the dispatcher signs each attempt (a jti leads with its signing time).
 */
async function mintTokens(file: string, count: number, url: string, body: string): Promise<void> {
  const out = createWriteStream(file);
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    lines.push(signQStashJwtNode({ key: SIGNING_KEY, url, body, nowMs: Date.now() }));
    if (lines.length === 4096 || i === count - 1) {
      if (!out.write(`${lines.join('\n')}\n`))
        await new Promise<void>((resolve) => out.once('drain', () => resolve()));
      lines.length = 0;
    }
  }
  await new Promise<void>((resolve, reject) =>
    out.end((error?: Error | null) => (error ? reject(error) : resolve())),
  );
}

async function countDone(file: string): Promise<number | null> {
  const db = createClient({ url: `file:${file}` });
  try {
    return Number((await db.execute("SELECT count(*) FROM inbox WHERE status = 'done'")).rows[0]![0]);
  } catch {
    return null;
  } finally {
    db.close();
  }
}
