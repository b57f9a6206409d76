import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { orderConverters } from '../../src/example/orders.ts';
import { defineMesh, defineSubscription } from '../../src/index.ts';
import { type ServedMesh, serveMesh } from '../../src/node.ts';
import { type LoopbackServer, startLoopbackServer } from '../support/loopback-server.ts';
import { eventually } from '../support/processes.ts';

// Filters end to end on the local dispatcher (`serveMesh` of hookmesh/node over loopback HTTP): a
// filtered subscription created with the README's curl lines, and one declared in code, receive
// exactly the events that match; the others get no delivery at all.

const PRODUCER = 'filter-producer-token-0123456789';
const ADMIN = 'filter-admin-token-0123456789';
const SCRIPT = fileURLToPath(new URL('./fixtures/filters.sh', import.meta.url));
const run = promisify(execFile);

let mesh: ServedMesh | undefined;
let hook: LoopbackServer | undefined;
let dir: string;
afterEach(async () => {
  await mesh?.close();
  await hook?.close();
  mesh = undefined;
  hook = undefined;
  rmSync(dir, { recursive: true, force: true });
});

async function admin(path: string) {
  const res = await fetch(`${mesh!.url}${path}`, { headers: { authorization: `Bearer ${ADMIN}` } });
  expect(res.status).toBe(200);
  return res.json();
}

describe('subscription filters on the local dispatcher', () => {
  it('delivers only matching events, to API-created and code-declared subscriptions', async () => {
    dir = mkdtempSync(join(tmpdir(), 'hookmesh-filters-'));
    hook = await startLoopbackServer();
    const code = await startLoopbackServer();
    try {
      mesh = await serveMesh({
        env: {
          PORT: '0',
          HOST: '127.0.0.1',
          DATABASE_URL: `file:${join(dir, 'mesh.db')}`,
          HOOKMESH_PRODUCER_TOKENS: `shop:${PRODUCER}`,
          HOOKMESH_ADMIN_TOKEN: ADMIN,
          QSTASH_CURRENT_SIGNING_KEY: 'filter-signing-key-0123456789',
        },
        log: () => {},
        mesh: defineMesh({
          converters: orderConverters,
          subscriptions: [
            defineSubscription('order.created.v1', `${code.url}/gold`, {
              id: 'gold-customers',
              filter: { customerId: { $in: ['c-gold-1', 'c-gold-2'] } },
            }),
          ],
        }),
      });

      // The README's lines, run as written.
      const { stdout } = await run('sh', [SCRIPT], {
        env: { ...process.env, MESH: mesh.url, HOOK: `${hook.url}/big-eur`, ADMIN },
      });
      const [created, refused] = stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line));
      expect(created).toMatchObject({ filter: { currency: 'EUR', total: { $gte: 100 } } });
      expect(refused).toMatchObject({ status: 400, type: 'urn:hookmesh:problem:bad-request' });
      expect(refused.issues.map((i: { path: string }) => i.path)).toEqual([
        '/filter/total/$gte',
        '/filter/total/$like',
      ]);

      const orders = [
        ['big-eur', 'EUR', 150, 'c-1'],
        ['small-eur', 'EUR', 99.5, 'c-gold-1'],
        ['big-usd', 'USD', 500, 'c-2'],
        ['big-eur-gold', 'EUR', 100, 'c-gold-2'],
        ['none', 'GBP', 1, 'c-3'],
      ] as const;
      const res = await fetch(`${mesh.url}/v1/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${PRODUCER}`, 'content-type': 'application/json' },
        body: JSON.stringify(
          orders.map(([id, currency, total, customerId]) => ({
            id,
            type: 'OrderCreated',
            data: { order: { id, customerId, total, currency } },
          })),
        ),
      });
      expect(res.status).toBe(202);

      const deliveriesOf = async (id: string) =>
        (
          (await admin(`/v1/events/${id}`)) as {
            integrationEvents: { deliveries: { subscriptionId: string; status: string }[] }[];
          }
        ).integrationEvents[0]!.deliveries;
      // Every delivery made is delivered: then every request the endpoints will get has arrived.
      await eventually(
        async () => {
          const all = (await Promise.all(orders.map(([id]) => deliveriesOf(id)))).flat();
          return all.length === 4 && all.every((d) => d.status === 'delivered') ? all : undefined;
        },
        15_000,
        'the matching deliveries',
      );

      const orderIds = (server: LoopbackServer) =>
        server.requests.map((r) => (JSON.parse(r.body) as { orderId: string }).orderId).sort();
      expect(orderIds(hook)).toEqual(['big-eur', 'big-eur-gold']);
      expect(orderIds(code)).toEqual(['big-eur-gold', 'small-eur']);
      expect(await deliveriesOf('big-usd')).toEqual([]);
      expect(await deliveriesOf('none')).toEqual([]);
    } finally {
      await code.close();
    }
  });
});
