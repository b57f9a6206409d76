import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, createTestMesh, type TestMesh } from '../support/test-mesh.ts';

// Pause/resume (DESIGN "Delivery control", issue 9 item 2) and maxConcurrency (issue 8 item 10)
// as the admin API takes and shows them. What they do to deliveries is tested on the transports
// (test/transports) and the queues' contracts (test/store).

let mesh: TestMesh;
afterEach(async () => {
  await mesh?.dispose();
});

function call(method: string, path: string, body?: unknown): Promise<Response> {
  return Promise.resolve(
    mesh.app.request(path, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    }),
  );
}

async function json(res: Response, status: number): Promise<Record<string, unknown>> {
  expect(res.status).toBe(status);
  return (await res.json()) as Record<string, unknown>;
}

describe('pause and resume', () => {
  it('an API subscription is created active (or paused), and PATCH { paused } pauses and resumes it', async () => {
    mesh = await createTestMesh();
    const created = await json(
      await call('POST', '/v1/subscriptions', { type: 'order.*', url: 'https://a.example.com/' }),
      201,
    );
    expect(created).toMatchObject({ paused: false, pausedReason: null, pausedAt: null, maxConcurrency: 16 });

    mesh.clock.advance(1000);
    const paused = await json(await call('PATCH', `/v1/subscriptions/${created.id}`, { paused: true }), 200);
    expect(paused).toMatchObject({
      paused: true,
      pausedReason: 'manual',
      pausedAt: '2026-11-30T12:00:01.000Z',
      updatedAt: '2026-11-30T12:00:01.000Z',
    });
    // Pausing again keeps the first pause's time.
    mesh.clock.advance(1000);
    expect(
      await json(await call('PATCH', `/v1/subscriptions/${created.id}`, { paused: true }), 200),
    ).toMatchObject({ pausedAt: '2026-11-30T12:00:01.000Z' });
    expect(await json(await call('GET', `/v1/subscriptions/${created.id}`), 200)).toMatchObject({
      paused: true,
    });

    const resumed = await json(
      await call('PATCH', `/v1/subscriptions/${created.id}`, { paused: false }),
      200,
    );
    expect(resumed).toMatchObject({ paused: false, pausedReason: null, pausedAt: null });

    const born = await json(
      await call('POST', '/v1/subscriptions', {
        type: 'order.*',
        url: 'https://b.example.com/',
        paused: true,
      }),
      201,
    );
    expect(born).toMatchObject({
      paused: true,
      pausedReason: 'manual',
      pausedAt: new Date(mesh.clock.now()).toISOString(),
    });
  });

  it('a code-declared subscription may be paused and resumed, nothing else (409), not even with a pause', async () => {
    mesh = await createTestMesh();

    expect(
      await json(await call('PATCH', '/v1/subscriptions/example-billing', { paused: true }), 200),
    ).toMatchObject({ id: 'example-billing', origin: 'code', paused: true, pausedReason: 'manual' });
    for (const body of [
      { paused: false, retries: 1 },
      { maxConcurrency: 4 },
      { url: 'https://x.example.com/' },
    ]) {
      const refused = await json(await call('PATCH', '/v1/subscriptions/example-billing', body), 409);
      expect(refused.detail).toContain('declared in code');
    }
    expect(
      await json(await call('PATCH', '/v1/subscriptions/example-billing', { paused: false }), 200),
    ).toMatchObject({ paused: false, retries: 10, maxConcurrency: 16 });
  });

  it('400 for a paused that is not a boolean', async () => {
    mesh = await createTestMesh();
    const res = await call('PATCH', '/v1/subscriptions/example-billing', { paused: 'yes' });
    const body = await json(res, 400);
    expect(body.issues).toEqual([{ path: '/paused', message: 'paused must be true or false' }]);
    expect(
      (await call('POST', '/v1/subscriptions', { type: 'order.*', url: 'https://a.example.com/', paused: 1 }))
        .status,
    ).toBe(400);
  });
});

describe('maxConcurrency', () => {
  it('is taken on create and patch, from 1 to 1000', async () => {
    mesh = await createTestMesh();
    const created = await json(
      await call('POST', '/v1/subscriptions', {
        type: 'order.*',
        url: 'https://a.example.com/',
        maxConcurrency: 1,
      }),
      201,
    );
    expect(created.maxConcurrency).toBe(1);
    expect(
      await json(await call('PATCH', `/v1/subscriptions/${created.id}`, { maxConcurrency: 1000 }), 200),
    ).toMatchObject({ maxConcurrency: 1000 });

    for (const maxConcurrency of [0, 1001, 2.5, '4', null]) {
      const body = await json(
        await call('POST', '/v1/subscriptions', {
          type: 'order.*',
          url: 'https://a.example.com/',
          maxConcurrency,
        }),
        400,
      );
      expect(body.issues).toEqual([
        { path: '/maxConcurrency', message: expect.stringMatching(/maxConcurrency/) },
      ]);
      await json(await call('PATCH', `/v1/subscriptions/${created.id}`, { maxConcurrency }), 400);
    }
    expect(await json(await call('GET', `/v1/subscriptions/${created.id}`), 200)).toMatchObject({
      maxConcurrency: 1000,
    });
  });
});

describe('pauseAfter', () => {
  it('is 50 by default, taken on create and patch from 0 (never) to 10000, and refused otherwise', async () => {
    mesh = await createTestMesh();
    const url = 'https://a.example.com/';
    expect(await json(await call('POST', '/v1/subscriptions', { type: 'order.*', url }), 201)).toMatchObject({
      pauseAfter: 50,
    });
    const created = await json(
      await call('POST', '/v1/subscriptions', { type: 'order.*', url, pauseAfter: 0 }),
      201,
    );
    expect(created.pauseAfter).toBe(0);
    expect(
      await json(await call('PATCH', `/v1/subscriptions/${created.id}`, { pauseAfter: 10_000 }), 200),
    ).toMatchObject({ pauseAfter: 10_000 });

    for (const pauseAfter of [-1, 10_001, 2.5, '4', null]) {
      const body = await json(
        await call('POST', '/v1/subscriptions', { type: 'order.*', url, pauseAfter }),
        400,
      );
      expect(body.issues).toEqual([{ path: '/pauseAfter', message: expect.stringMatching(/pauseAfter/) }]);
      await json(await call('PATCH', `/v1/subscriptions/${created.id}`, { pauseAfter }), 400);
    }
    expect(await json(await call('GET', `/v1/subscriptions/${created.id}`), 200)).toMatchObject({
      pauseAfter: 10_000,
    });
  });
});
