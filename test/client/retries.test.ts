import { afterEach, describe, expect, it } from 'vitest';
import { MeshApiError, MeshUnavailableError } from '../../src/client/index.ts';
import type { MeshFetch } from '../../src/client/send-with-retries.ts';
import { StoreError } from '../../src/core/errors.ts';
import type { EventStore } from '../../src/core/event-store.ts';
import { OrderCreated } from '../../src/example/orders.ts';
import { ADMIN_TOKEN, createTestMesh, type TestMesh } from '../support/test-mesh.ts';
import { answer, createClientFixture, order } from './client-fixture.ts';

let mesh: TestMesh;
afterEach(async () => {
  await mesh?.dispose();
});

const NOW = Date.UTC(2026, 10, 30, 12, 0, 0);

/** Fails the call numbered `at` (0-based) with `fault`, passes every other call to the server. */
function failingAt(at: readonly number[], fault: (next: MeshFetch) => MeshFetch) {
  return (next: MeshFetch, call: number): MeshFetch => (at.includes(call) ? fault(next) : next);
}

/** A fetch that never answers and, like the real one, rejects with the signal's reason on abort. */
const hang: MeshFetch = (_input, init) =>
  new Promise((_, reject) => {
    init.signal?.addEventListener('abort', () => reject(init.signal?.reason), { once: true });
  });

async function caught(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
}

describe('retries are idempotent replays', () => {
  it('a lost answer is retried with the same id: one event, one integration event, one delivery', async () => {
    mesh = await createTestMesh();
    const { client, sent, sleeps } = createClientFixture(mesh, {
      // The first request reaches the server and is written; its answer never comes back.
      wrap: failingAt([0], (next) => async (input, init) => {
        await next(input, init);
        throw new TypeError('fetch failed');
      }),
    });

    const result = await client.publish(OrderCreated, order('o-1'));

    expect(sent).toHaveLength(2);
    expect(sent[1]!.body).toEqual(sent[0]!.body);
    expect(result.status).toBe(200);
    expect(sleeps).toEqual([125]);
    const stored = await mesh.get(`/v1/events/${encodeURIComponent(result.id)}`, ADMIN_TOKEN);
    const event = (await stored.json()) as {
      integrationEvents: { id: string; deliveries: unknown[] }[];
    };
    expect(event.integrationEvents).toHaveLength(1);
    expect(event.integrationEvents[0]!.id).toBe(result.integrationEvents[0]!.id);
    expect(event.integrationEvents[0]!.deliveries).toHaveLength(1);
    expect(await mesh.db.count('domain_events')).toBe(1);
    expect(await mesh.db.count('deliveries')).toBe(1);
  });

  it('a 503 from the mesh (its store failed) is retried after its Retry-After and then accepted', async () => {
    let failures = 1;
    mesh = await createTestMesh({
      wrapEvents: (store): EventStore => ({
        ...store,
        appendEvents: async (events) => {
          if (failures-- > 0) throw new StoreError('disk unavailable');
          return store.appendEvents(events);
        },
      }),
    });
    const { client, sent, sleeps } = createClientFixture(mesh);

    const result = await client.publish(OrderCreated, order('o-2'));

    expect(result.status).toBe(202);
    expect(sent).toHaveLength(2);
    expect(sleeps).toEqual([1000]);
    expect(await mesh.db.count('domain_events')).toBe(1);
  });
});

describe('Retry-After and backoff', () => {
  it("honours the mesh's own 429 + Retry-After, then gives up with the 429 problem", async () => {
    mesh = await createTestMesh({ maxInFlight: 0 });
    const { client, sent, sleeps } = createClientFixture(mesh, { retries: 2 });

    const error = await caught(client.publish(OrderCreated, order('o-3')));

    expect(error).toBeInstanceOf(MeshApiError);
    expect((error as MeshApiError).status).toBe(429);
    expect((error as MeshApiError).problem.type).toBe('urn:hookmesh:problem:too-many-requests');
    expect(sent).toHaveLength(3);
    expect(sleeps).toEqual([1000, 1000]);
    expect(new Set(sent.map((r) => (r.body as { id: string }).id)).size).toBe(1);
  });

  it('reads Retry-After as seconds or as an HTTP date, capped at maxDelayMs', async () => {
    mesh = await createTestMesh();
    const inSevenSeconds = new Date(NOW + 7000).toUTCString();
    const { client, sleeps } = createClientFixture(mesh, {
      now: () => NOW,
      maxDelayMs: 60_000,
      wrap: (next, call) =>
        [
          () => answer(429, { 'retry-after': '3' }),
          () => answer(429, { 'retry-after': inSevenSeconds }),
          () => answer(503, { 'retry-after': '3600' }),
        ][call] ?? next,
    });

    const result = await client.publish(OrderCreated, order('o-4'));

    expect(result.status).toBe(202);
    expect(sleeps).toEqual([3000, 7000, 60_000]);
  });

  it('backs off exponentially with full jitter, capped, for 5xx without Retry-After', async () => {
    mesh = await createTestMesh();
    const randoms = [0.9, 0.5, 0.999, 0.1];
    const { client, sent, sleeps } = createClientFixture(mesh, {
      baseDelayMs: 100,
      maxDelayMs: 300,
      random: () => randoms.shift()!,
      wrap: failingAt([0, 1, 2, 3], () => () => answer(502 + (sent.length % 3))),
    });

    const result = await client.publish(OrderCreated, order('o-5'));

    expect(result.status).toBe(202);
    // retry n waits random · min(300, 100 · 2ⁿ): 0.9·100, 0.5·200, 0.999·300, 0.1·300
    expect(sleeps).toEqual([90, 100, 299, 30]);
  });

  it('throws the last problem when 5xx outlast the retries; a non-problem body becomes about:blank', async () => {
    mesh = await createTestMesh();
    const { client, sent } = createClientFixture(mesh, {
      retries: 1,
      wrap: () => () => answer(500, { 'content-type': 'text/html' }, '<h1>upstream exploded</h1>'),
    });

    const error = await caught(client.publish(OrderCreated, order('o-6')));

    expect(error).toBeInstanceOf(MeshApiError);
    expect((error as MeshApiError).problem).toEqual({
      type: 'about:blank',
      title: 'HTTP 500',
      status: 500,
      detail: '<h1>upstream exploded</h1>',
    });
    expect(sent).toHaveLength(2);
  });
});

describe('failures without an answer', () => {
  it('throws MeshUnavailableError with the cause once network errors exhaust the retries', async () => {
    mesh = await createTestMesh();
    const { client, sent, sleeps } = createClientFixture(mesh, {
      wrap: () => () => {
        throw new TypeError('fetch failed');
      },
    });

    const error = await caught(client.publish(OrderCreated, order('o-7')));

    expect(error).toBeInstanceOf(MeshUnavailableError);
    expect((error as MeshUnavailableError).attempts).toBe(5);
    expect((error as MeshUnavailableError).code).toBe('mesh_unavailable');
    expect((error as Error).cause).toBeInstanceOf(TypeError);
    expect(sent).toHaveLength(5);
    expect(sleeps).toEqual([125, 250, 500, 1000]);
  });

  it('times an attempt out, retries it, and is accepted by the next one', async () => {
    mesh = await createTestMesh();
    const { client, sent } = createClientFixture(mesh, { timeoutMs: 20, wrap: failingAt([0], () => hang) });

    const result = await client.publish(OrderCreated, order('o-8'));

    expect(result.status).toBe(202);
    expect(sent).toHaveLength(2);
  });

  it('reports timeouts as MeshUnavailableError with a TimeoutError cause', async () => {
    mesh = await createTestMesh();
    const { client, sent } = createClientFixture(mesh, { timeoutMs: 20, retries: 1, wrap: () => hang });

    const error = await caught(client.getEvent('x'));

    expect(error).toBeInstanceOf(MeshUnavailableError);
    expect(((error as Error).cause as Error).name).toBe('TimeoutError');
    expect(sent).toHaveLength(2);
  });

  it('a body that is not JSON on a 2xx is a lost answer: retried', async () => {
    mesh = await createTestMesh();
    const { client, sent } = createClientFixture(mesh, {
      wrap: failingAt([0], () => () => answer(202, { 'content-type': 'application/json' }, '{"id":')),
    });

    expect((await client.publish(OrderCreated, order('o-9'))).status).toBe(202);
    expect(sent).toHaveLength(2);
  });

  it('does not retry what fetch throws that is no network error', async () => {
    mesh = await createTestMesh();
    const bug = new RangeError('a bug in a fetch wrapper');
    const { client, sent } = createClientFixture(mesh, {
      wrap: () => () => {
        throw bug;
      },
    });

    expect(await caught(client.publish(OrderCreated, order('o-10')))).toBe(bug);
    expect(sent).toHaveLength(1);
  });
});

describe("the caller's signal", () => {
  it('aborts a pending attempt at once, with its reason, and is not retried', async () => {
    mesh = await createTestMesh();
    const controller = new AbortController();
    const reason = new Error('shutting down');
    const { client, sent, sleeps } = createClientFixture(mesh, {
      wrap: () => (input, init) => {
        queueMicrotask(() => controller.abort(reason));
        return hang(input, init);
      },
    });

    const error = await caught(client.publish(OrderCreated, order('o-11'), { signal: controller.signal }));

    expect(error).toBe(reason);
    expect(sent).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('aborts the wait between attempts, and a signal already aborted sends nothing', async () => {
    mesh = await createTestMesh();
    const controller = new AbortController();
    const { client, sent } = createClientFixture(mesh, {
      wrap: () => () => answer(503),
      sleep: (_ms, signal) => {
        controller.abort(new Error('stop'));
        return Promise.reject(signal?.reason);
      },
    });

    const error = await caught(client.publish(OrderCreated, order('o-12'), { signal: controller.signal }));

    expect((error as Error).message).toBe('stop');
    expect(sent).toHaveLength(1);
    expect(await caught(client.getEvent('x', { signal: controller.signal }))).toBeInstanceOf(Error);
    expect(sent).toHaveLength(1);
  });
});
