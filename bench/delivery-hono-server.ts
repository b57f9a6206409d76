// The baseline for the handler side of bench:delivery: a bare Hono POST route on
// @hono/node-server that parses the JSON body and answers 200 — no signature, no schema, no inbox.
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

const app = new Hono()
  .get('/healthz', (c) => c.json({ ok: true }))
  .post('/webhooks/:type', async (c) => {
    await c.req.json();
    return c.json({ status: 'handled' }, 200);
  });

const server = serve({
  fetch: app.fetch,
  port: Number(process.env.PORT ?? 8792),
  hostname: process.env.HOST ?? '127.0.0.1',
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
