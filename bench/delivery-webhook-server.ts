// The handler side for bench:delivery: createWebhookApp with one trivial handler and the durable
// libSQL inbox (a file in WAL mode, synchronous=FULL), served by @hono/node-server — what a
// consuming service runs. BENCH_INBOX picks the inbox: `file` (default: the documented
// `createLibsqlInbox({ url: 'file:…' })`, on Node a connection of its own with its statements
// prepared once), `client` (`createLibsqlInbox(client)` on the service's own `@libsql/client`) or
// `memory` (createMemoryInbox, not durable: to split the inbox's cost from the rest of the route).
// BENCH_HANDLER_CRYPTO=web verifies with WebCrypto (the web entry's createWebhookApp) instead.
import { serve } from '@hono/node-server';
import { createClient } from '@libsql/client';
import { OrderPaidV1 } from '../src/example/orders.ts';
import { createWebhookApp as createWebAppWithWebCrypto } from '../src/handler/index.ts';
// What `hookmesh/handler` resolves to on Node (the `node` condition of its export).
import {
  createLibsqlInbox,
  createMemoryInbox,
  createWebhookApp,
  defineHandler,
} from '../src/handler/node.ts';

const url = process.env.DATABASE_URL;
const key = process.env.QSTASH_CURRENT_SIGNING_KEY;
if (!url || !key) throw new Error('DATABASE_URL and QSTASH_CURRENT_SIGNING_KEY are required');

const mode = process.env.BENCH_INBOX || 'file';
if (!['file', 'client', 'memory'].includes(mode)) {
  throw new Error(`BENCH_INBOX=${mode}: file, client or memory`);
}
const client = mode === 'client' ? await openConsumerClient(url) : null;
const fileInbox = mode === 'file' ? createLibsqlInbox({ url }) : null;
const inbox = fileInbox ?? (client === null ? createMemoryInbox() : createLibsqlInbox(client));

let handled = 0;
const onOrderPaid = defineHandler(OrderPaidV1, () => {
  handled++;
});
const port = Number(process.env.PORT ?? 8791);
const host = process.env.HOST ?? '127.0.0.1';
const create = process.env.BENCH_HANDLER_CRYPTO === 'web' ? createWebAppWithWebCrypto : createWebhookApp;
const webhooks = create({
  handlers: [onOrderPaid],
  signingKeys: { current: key },
  // The URL the bench signs for (bench/lib/server.ts): tokens are checked against it.
  publicUrl: `http://${host}:${port}`,
  inbox,
  onError: (error) => console.error('handler side error', error),
});

const server = serve({
  fetch: (request) =>
    request.url.endsWith('/healthz') ? Response.json({ ok: true, handled }) : webhooks.fetch(request),
  port,
  hostname: host,
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () =>
    server.close(async () => {
      await fileInbox?.close();
      client?.close();
      process.exit(0);
    }),
  );
}

/** A consumer's own `@libsql/client` on a file, made durable like the mesh's. */
async function openConsumerClient(url: string) {
  const client = createClient({ url });
  await client.execute('PRAGMA journal_mode = WAL');
  await client.execute('PRAGMA synchronous = FULL');
  return client;
}
