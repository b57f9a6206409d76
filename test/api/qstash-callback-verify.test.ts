import { describe, expect, it } from 'vitest';
import { createQStashCallbackRoutes } from '../../src/api/qstash-callback-routes.ts';
import { createManualClock } from '../../src/core/clock.ts';
import type { CallbackTransition, PublishQueue } from '../../src/core/publish-queue.ts';
import { signQStashJwt } from '../../src/core/signature.ts';

// POST /v1/qstash/callback checks what needs no body (the token) before reading up to 8 MiB of it,
// and bounds how many bodies it reads at once (issue 8, item 4).

const KEY = 'sig_current_7kYjw48mhY7kAjqNGcy6cr29RJ6r';
const CALLBACK_URL = 'https://mesh.example.com/v1/qstash/callback';
const NOW = Date.UTC(2026, 10, 30, 12, 0, 0);
const BODY = JSON.stringify({ status: 200, retried: 0, maxRetries: 10, sourceMessageId: 'msg_1' });
const encoder = new TextEncoder();

function routes(options: { maxConcurrentBodyReads?: number } = {}) {
  const reports: CallbackTransition[] = [];
  const queue = {
    findPublished: async (messageId: string) => ({
      id: 'd-1',
      messageId,
      subscriptionId: 'sub-1',
      orderingKey: null,
      retryDelay: null,
      earlierAttempts: 0,
    }),
    applyCallback: async (transition: CallbackTransition) => {
      reports.push(transition);
      return 'applied' as const;
    },
  } as unknown as PublishQueue;
  const app = createQStashCallbackRoutes({
    queue,
    clock: createManualClock(NOW),
    signingKeys: { current: KEY },
    callbackUrl: CALLBACK_URL,
    ...options,
  });
  return { app, reports };
}

const sign = (body = BODY, url = CALLBACK_URL) => signQStashJwt({ key: KEY, url, body, nowMs: NOW });

function endlessBody() {
  const seen = { pulls: 0 };
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        seen.pulls++;
        controller.enqueue(encoder.encode('x'.repeat(64 * 1024)));
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, seen };
}

function heldBody(body: string) {
  let pulled!: () => void;
  let open!: () => void;
  const wasPulled = new Promise<void>((r) => {
    pulled = r;
  });
  const gate = new Promise<void>((r) => {
    open = r;
  });
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        pulled();
        await gate;
        controller.enqueue(encoder.encode(body));
        controller.close();
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, wasPulled, open };
}

function post(app: ReturnType<typeof routes>['app'], headers: Record<string, string>, body: BodyInit) {
  return app.request('/callback', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
    duplex: 'half',
  } as RequestInit);
}

describe('QStash callback: the token before the body', () => {
  it('a signed callback is recorded (the split verification still accepts it)', async () => {
    const { app, reports } = routes();
    const res = await post(app, { 'upstash-signature': await sign() }, BODY);
    expect(res.status).toBe(200);
    expect(reports.map((r) => r.messageId)).toEqual(['msg_1']);
  });

  const bad: [string, () => Promise<Record<string, string>>][] = [
    ['no signature', async () => ({})],
    ['garbage', async () => ({ 'upstash-signature': 'a.b.c' })],
    [
      'a token for another URL',
      async () => ({ 'upstash-signature': await sign(BODY, 'https://x.example/cb') }),
    ],
    [
      'a token signed with another key',
      async () => ({
        'upstash-signature': await signQStashJwt({
          key: 'sig_other',
          url: CALLBACK_URL,
          body: BODY,
          nowMs: NOW,
        }),
      }),
    ],
  ];
  for (const [name, headers] of bad) {
    it(`${name}, with a never-ending body: 401 without pulling a chunk`, async () => {
      const { app, reports } = routes();
      const { stream, seen } = endlessBody();
      const res = await post(app, { ...(await headers()), 'content-length': String(1024 ** 3) }, stream);
      expect(res.status).toBe(401);
      expect(seen.pulls).toBe(0);
      const chunked = endlessBody();
      expect((await post(app, await headers(), chunked.stream)).status).toBe(401);
      expect(chunked.seen.pulls).toBe(0);
      expect(reports).toEqual([]);
    });
  }

  it('a valid token with a never-ending body: 413 at 8 MiB', async () => {
    const { app } = routes();
    const { stream, seen } = endlessBody();
    const res = await post(app, { 'upstash-signature': await sign() }, stream);
    expect(res.status).toBe(413);
    expect(seen.pulls).toBe(8 * 16 + 1);
  });

  it('a valid token over another body: 401 (body)', async () => {
    const { app, reports } = routes();
    const res = await post(app, { 'upstash-signature': await sign() }, BODY.replace('200', '500'));
    expect(res.status).toBe(401);
    expect(((await res.json()) as { detail: string }).detail).toMatch(/\(body\)/);
    expect(reports).toEqual([]);
  });

  it('past the cap on bodies read at once: 429 + Retry-After, unread; then served again', async () => {
    const { app, reports } = routes({ maxConcurrentBodyReads: 1 });
    const held = heldBody(BODY);
    const first = post(app, { 'upstash-signature': await sign() }, held.stream);
    await held.wasPulled;
    const waiting = endlessBody();
    const refused = await post(app, { 'upstash-signature': await sign() }, waiting.stream);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(waiting.seen.pulls).toBe(0);
    held.open();
    expect((await first).status).toBe(200);
    expect((await post(app, { 'upstash-signature': await sign() }, BODY)).status).toBe(200);
    expect(reports).toHaveLength(2);
  });
});
