// The consuming service of `npm run reliability`, in its own process: the handler SDK
// (`hookmesh/handler`) on Node with a durable libSQL inbox, handling `order.paid.v1` by writing one
// row per run to `effects` — so the harness can count how often the handler really ran, per event.
//
// Faults it can be told to inject (env at start, or `POST /control` while it runs):
// - `down`: every webhook request is answered 503 before the SDK sees it (a service outage);
// - `failBefore`: that share of requests fail inside the handler before its effect (the SDK answers
//   5xx and releases its claim: the retry must run the handler);
// - `failAfter`: that share of requests whose handler completed are answered 500 anyway (a response
//   lost on the way back: the retry must be absorbed by the inbox, never run again).
// Decisions come from a seeded generator. Prints `listening <url>` when ready.
import { AsyncLocalStorage } from 'node:async_hooks';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import Database from 'libsql';
import { OrderPaidV1 } from '../../src/example/orders.ts';
import { createLibsqlInbox, createWebhookApp, defineHandler } from '../../src/handler/index.ts';

const effectsPath = process.env.HANDLER_DB!;
const signingKey = process.env.QSTASH_CURRENT_SIGNING_KEY!;
const delayMs = Number(process.env.HANDLER_DELAY_MS ?? 0);
const faults = {
  down: process.env.HANDLER_DOWN === '1',
  failBefore: Number(process.env.HANDLER_FAIL_BEFORE ?? 0),
  failAfter: Number(process.env.HANDLER_FAIL_AFTER ?? 0),
};
const random = mulberry32(Number(process.env.HANDLER_SEED ?? 1));

const effects = new Database(effectsPath, { timeout: 10_000 });
effects.exec('PRAGMA journal_mode = WAL');
effects.exec('PRAGMA synchronous = FULL');
effects.exec(
  'CREATE TABLE IF NOT EXISTS effects (event_id TEXT NOT NULL, message_id TEXT NOT NULL, jti TEXT, at INTEGER NOT NULL)',
);
// The harness joins effects to the mesh's deliveries by event id.
effects.exec('CREATE INDEX IF NOT EXISTS effects_event_id ON effects (event_id)');
const insertEffect = effects.prepare(
  'INSERT INTO effects (event_id, message_id, jti, at) VALUES (?, ?, ?, ?)',
);
const countEffects = effects.prepare('SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM effects');

const counters = {
  requests: 0,
  refusedDown: 0,
  failedBefore: 0,
  failedAfter: 0,
  statuses: {} as Record<string, number>,
};
/** Per request: whether to fail before the effect, and the token's id (recorded with the effect). */
const current = new AsyncLocalStorage<{ fail: boolean; jti: string | null }>();

const handler = defineHandler(
  OrderPaidV1,
  async (event, ctx) => {
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    const request = current.getStore();
    if (request?.fail === true) {
      counters.failedBefore++;
      throw new Error('injected failure before the effect');
    }
    insertEffect.run([event.id, ctx.messageId, request?.jti ?? null, Date.now()]);
  },
  { name: 'reliability-service' },
);

const app = new Hono();
let webhooks: Hono | undefined;

app.post('/control', async (c) => {
  const body = (await c.req.json()) as Partial<typeof faults>;
  if (typeof body.down === 'boolean') faults.down = body.down;
  if (typeof body.failBefore === 'number') faults.failBefore = body.failBefore;
  if (typeof body.failAfter === 'number') faults.failAfter = body.failAfter;
  return c.json(faults);
});

app.get('/stats', (c) => {
  const row = countEffects.get([]) as { n: number; d: number };
  return c.json({ effects: Number(row.n), distinctEffects: Number(row.d), ...counters });
});

app.all('/webhooks/*', async (c) => {
  counters.requests++;
  if (faults.down) {
    counters.refusedDown++;
    return count(c.text('service down', 503));
  }
  const roll = random();
  const before = roll < faults.failBefore;
  const after = !before && roll < faults.failBefore + faults.failAfter;
  const jti = jtiOf(c.req.header('upstash-signature'));
  const response = await current.run({ fail: before, jti }, () => webhooks!.fetch(c.req.raw));
  if (after && response.status >= 200 && response.status < 300) {
    counters.failedAfter++;
    return count(c.text('handled, but the answer is lost', 500));
  }
  return count(response);
});

function count(response: Response): Response {
  const key = String(response.status);
  counters.statuses[key] = (counters.statuses[key] ?? 0) + 1;
  return response;
}

const server = serve(
  { fetch: app.fetch, port: Number(process.env.PORT ?? 0), hostname: '127.0.0.1' },
  (info) => {
    const publicUrl = `http://127.0.0.1:${info.port}`;
    webhooks = createWebhookApp({
      handlers: [handler],
      signingKeys: { current: signingKey },
      inbox: createLibsqlInbox({ url: `file:${effectsPath}.inbox` }),
      publicUrl,
      leaseMs: 10_000,
    });
    console.log(`listening ${publicUrl}`);
  },
);

process.on('SIGTERM', () => server.close(() => process.exit(0)));

/** The `jti` claim of a token, read without verifying (the SDK verifies; this only labels the effect). */
function jtiOf(token: string | undefined): string | null {
  try {
    const claims = JSON.parse(Buffer.from(token?.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      jti?: unknown;
    };
    return typeof claims.jti === 'string' ? claims.jti : null;
  } catch {
    return null;
  }
}

/** A small seeded generator: the same decisions for the same seed and order of requests. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
