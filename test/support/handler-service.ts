// A consuming service in its own process, for end-to-end tests: the handler SDK on Node with a
// libSQL inbox of its own. Each run of the handler writes one row to `effects`, so a test can
// count how often the handler really ran. Prints `listening <url>` when ready.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { OrderPaidV1 } from '../../src/example/orders.ts';
import { defineHandler } from '../../src/handler/define-handler.ts';
import { createLibsqlInbox } from '../../src/handler/libsql-inbox.ts';
import { createWebhookApp } from '../../src/handler/webhook-app.ts';
import { openLibsql } from '../../src/store/libsql-store.ts';

const dbPath = process.env.HANDLER_DB!;
const delayMs = Number(process.env.HANDLER_DELAY_MS ?? 0);
mkdirSync(dirname(dbPath), { recursive: true });
const { client, driver } = await openLibsql({ url: `file:${dbPath}` });
await driver.batch([
  { sql: 'CREATE TABLE IF NOT EXISTS effects (event_id TEXT NOT NULL, at INTEGER NOT NULL)', args: [] },
  { sql: 'CREATE TABLE IF NOT EXISTS requests (event_id TEXT, retried TEXT, message_id TEXT)', args: [] },
]);

const handler = defineHandler(
  OrderPaidV1,
  async (event) => {
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    await driver.batch([
      { sql: 'INSERT INTO effects (event_id, at) VALUES (?, ?)', args: [event.id, Date.now()] },
    ]);
  },
  { name: 'test-service' },
);

const app = new Hono();
/** Built once the port is known: the webhook app checks every token against its public URL. */
let webhooks: Hono | undefined;
app.use('/webhooks/*', async (c, next) => {
  await driver.batch([
    {
      sql: 'INSERT INTO requests (event_id, retried, message_id) VALUES (?, ?, ?)',
      args: [
        c.req.header('ce-id') ?? null,
        c.req.header('upstash-retried') ?? null,
        c.req.header('upstash-message-id') ?? null,
      ],
    },
  ]);
  await next();
});
app.all('/webhooks/*', (c) => webhooks!.fetch(c.req.raw));
app.get('/stats', async (c) => {
  const [effects] = await driver.query(
    'SELECT count(*) AS n, count(DISTINCT event_id) AS distinct_n FROM effects',
  );
  const [requests] = await driver.query('SELECT count(*) AS n FROM requests');
  return c.json({
    effects: Number(effects!.n),
    distinctEffects: Number(effects!.distinct_n),
    requests: Number(requests!.n),
  });
});

const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
  const publicUrl = `http://127.0.0.1:${info.port}`;
  webhooks = createWebhookApp({
    handlers: [handler],
    signingKeys: { current: process.env.QSTASH_CURRENT_SIGNING_KEY! },
    inbox: createLibsqlInbox(client),
    publicUrl,
    leaseMs: 10_000,
  });
  console.log(`listening ${publicUrl}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
