import { afterEach, describe, expect, it } from 'vitest';
import { defineSubscription } from '../../src/core/subscription.ts';
import { OrderCreatedV1, orderConverters } from '../../src/example/orders.ts';
import { createLocalDispatcher, type LocalDispatcher } from '../../src/transports/local-dispatcher.ts';
import { createUndiciSender } from '../../src/transports/undici-sender.ts';
import { type LoopbackServer, startLoopbackServer } from '../support/loopback-server.ts';
import { createTestMesh, orderCreated, type TestMesh } from '../support/test-mesh.ts';

// The dispatcher's side of the hand-off (`reserve`, `take`): slots set aside for deliveries that
// ingest's transaction leases to it, then those deliveries attempted like any it leased itself.
// A real libSQL file, real HTTP on loopback.

const OWNER = 'hand-off-dispatcher';
const LEASE_MS = 30_000;

let mesh: TestMesh;
let server: LoopbackServer;
let sender: ReturnType<typeof createUndiciSender>;
let dispatcher: LocalDispatcher;
afterEach(async () => {
  await dispatcher?.stop();
  await sender?.close();
  await server?.close();
  await mesh?.dispose();
});

async function setup(concurrency?: number) {
  server = await startLoopbackServer(() => ({ status: 200 }));
  mesh = await createTestMesh({
    definitions: {
      converters: orderConverters,
      subscriptions: [defineSubscription(OrderCreatedV1, `${server.url}/created`, { id: 'sub-1' })],
    },
  });
  sender = createUndiciSender({ allowPrivateNetwork: true });
  dispatcher = createLocalDispatcher({
    queue: mesh.dispatch,
    send: sender,
    clock: mesh.clock,
    signingKey: 'sig_hand_off_0123456789abcdef',
    owner: OWNER,
    leaseMs: LEASE_MS,
    attemptTimeoutMs: 5_000,
    // No poll during a test: what goes out is what was taken.
    pollMs: 3_600_000,
    ...(concurrency === undefined ? {} : { concurrency }),
  });
}

/** Accepts an event and leases its delivery to the dispatcher's owner, as ingest's hand-off does. */
async function acceptLeased(id: string) {
  expect((await mesh.post(orderCreated(id))).status).toBe(202);
  return mesh.dispatch.leaseDue({ owner: OWNER, now: mesh.clock.now(), leaseMs: LEASE_MS, limit: 10 });
}

async function statuses() {
  const rows = await mesh.db.driver.query('SELECT status, lease_owner FROM deliveries ORDER BY rowid');
  return rows.map((r) => [r.status, r.lease_owner]);
}

describe('local dispatcher — the hand-off', () => {
  it('sets slots aside only while started, a refill batch at most, never more than are free', async () => {
    await setup(4);
    expect(dispatcher.reserve()).toBe(0);
    dispatcher.start();
    // A quarter of 4 per reservation, until the 4 slots are all set aside.
    expect([1, 2, 3, 4, 5].map(() => dispatcher.reserve())).toEqual([1, 1, 1, 1, 0]);
    // Given back unused: free again.
    for (let i = 0; i < 4; i++) dispatcher.take(1, []);
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(dispatcher.reserve()).toBe(1);
    dispatcher.take(1, []);
    await dispatcher.stop();
    expect(dispatcher.reserve()).toBe(0);
  });

  it('attempts and records what it is handed; a stop right after waits for it', async () => {
    await setup();
    dispatcher.start();
    const slots = dispatcher.reserve();
    expect(slots).toBeGreaterThan(0);
    const leased = await acceptLeased('e1');
    expect(leased).toHaveLength(1);
    dispatcher.take(slots, Promise.resolve(leased));
    await dispatcher.stop();
    expect(server.requests).toHaveLength(1);
    expect(await statuses()).toEqual([['delivered', null]]);
  });

  it('handed over after a stop: not sent, the lease left to lapse', async () => {
    await setup();
    dispatcher.start();
    const slots = dispatcher.reserve();
    const leased = await acceptLeased('e1');
    await dispatcher.stop();
    dispatcher.take(slots, leased);
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(server.requests).toHaveLength(0);
    expect(await statuses()).toEqual([['in_flight', OWNER]]);
    // Once it lapses, the next lease takes it over (here another dispatcher's `runOnce`).
    mesh.clock.advance(LEASE_MS);
    const next = createLocalDispatcher({
      queue: mesh.dispatch,
      send: sender,
      clock: mesh.clock,
      signingKey: 'sig_hand_off_0123456789abcdef',
      owner: 'next',
      leaseMs: LEASE_MS,
      attemptTimeoutMs: 5_000,
    });
    expect(await next.runOnce()).toBe(1);
    expect(server.requests).toHaveLength(1);
  });
});
