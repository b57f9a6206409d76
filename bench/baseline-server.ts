// The baseline for bench:ingest: what Hono on @hono/node-server costs for the same POST, with
// nothing of the mesh (no auth, no validation, no storage). Started as its own process.
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

const app = new Hono()
  .get('/healthz', (c) => c.json({ ok: true }))
  .post('/v1/events', async (c) => {
    const body = await c.req.json<{ id?: unknown }>();
    return c.json({ id: body.id, integrationEvents: [] }, 202);
  });

const port = Number(process.env.PORT ?? 8788);
const hostname = process.env.HOST ?? '127.0.0.1';
const server = serve({ fetch: app.fetch, port, hostname });

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
