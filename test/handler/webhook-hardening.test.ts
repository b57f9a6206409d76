import { describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/core/clock.ts';
import { DefinitionError } from '../../src/core/errors.ts';
import { createMemoryInbox, createWebhookApp, defineHandler, type Inbox } from '../../src/handler/index.ts';
import {
  CURRENT,
  DATA,
  deferred,
  delivery,
  manualRepeat,
  NOW,
  OrderCreatedV1,
  PUBLIC_URL,
  send,
  setup,
  UNTOUCHED,
} from './webhook-fixtures.ts';

// The audit's findings on the handler side (issue 8): items 3 (replays), 4 (bodies read before
// anything is checked) and 11 (a handler outliving its claim's lease).

const encoder = new TextEncoder();

/**
 * A request body that records how often it was pulled and never ends (or ends after `chunks`
 * chunks when given), as a stranger's upload might.
 */
function endlessBody(options: { chunk?: string; chunks?: number } = {}) {
  const seen = { pulls: 0, cancelled: false };
  const chunk = encoder.encode(options.chunk ?? 'x'.repeat(1024));
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        seen.pulls++;
        if (options.chunks !== undefined && seen.pulls > options.chunks) controller.close();
        else controller.enqueue(chunk);
      },
      cancel() {
        seen.cancelled = true;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, seen };
}

/** A body delivered only once `gate` opens, telling when it is first pulled (its read has begun). */
function heldBody(body: string) {
  const pulled = deferred();
  const gate = deferred();
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        pulled.resolve();
        await gate.promise;
        controller.enqueue(encoder.encode(body));
        controller.close();
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, pulled: pulled.promise, open: gate.resolve };
}

function post(
  app: ReturnType<typeof createWebhookApp>,
  url: string,
  headers: Record<string, string>,
  body: ReadableStream<Uint8Array>,
) {
  return app.request(url, { method: 'POST', headers, body, duplex: 'half' } as RequestInit);
}

/** One turn of the event loop: lets settled inbox calls run their continuations. No time passes. */
const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('item 3: publicUrl is required, and the subject is checked against it', () => {
  const base = { handlers: [defineHandler(OrderCreatedV1, () => {})], signingKeys: { current: CURRENT } };

  it('refuses to build without publicUrl, or with one that is no http(s) base URL', () => {
    const withUrl = (publicUrl: unknown) => () =>
      createWebhookApp({ ...base, inbox: createMemoryInbox(), publicUrl } as never);
    expect(withUrl(undefined)).toThrow(DefinitionError);
    expect(withUrl(undefined)).toThrow(/publicUrl is required/);
    expect(withUrl('')).toThrow(DefinitionError);
    expect(withUrl(42)).toThrow(DefinitionError);
    expect(withUrl('billing.example.com')).toThrow(DefinitionError);
    expect(withUrl('ftp://billing.example.com')).toThrow(DefinitionError);
    expect(withUrl('https://billing.example.com/?tenant=a')).toThrow(DefinitionError);
    expect(withUrl('https://user:pw@billing.example.com')).toThrow(DefinitionError);
    expect(withUrl('https://billing.example.com/')).not.toThrow();
  });
});

describe('item 3: a signed request presented again (same jti) never runs the handler again', () => {
  it('captured and resent with another ce-id (and other unsigned headers): ran once, the replay acknowledged', async () => {
    const { app, calls, counts } = setup();
    const captured = await delivery();
    const first = await send(app, captured);
    expect(first.status).toBe(200);
    const replays = [
      { 'ce-id': 'ie_forged' },
      { 'ce-id': 'ie_forged_2', 'upstash-retried': '7', 'upstash-message-id': 'msg_other' },
      {},
    ];
    for (const headers of replays) {
      const replay = await send(app, captured, { headers });
      expect(replay.status).toBe(200);
      expect(await replay.json()).toEqual({ status: 'duplicate' });
    }
    expect(calls).toHaveLength(1);
    expect(calls[0]!.event.id).toBe('ie_01');
    // The replays were answered from the token's record: no claim was even tried for them.
    expect(counts.claim).toBe(1);
    expect(counts.recordToken).toBe(4);
  });

  it('a replay of a request whose run failed gets 409 and never runs; the mesh’s retry (a new token) does', async () => {
    const { app, calls } = setup({
      handle: (_e, _ctx, call) => {
        if (call === 1) throw new Error('ledger down');
      },
    });
    const captured = await delivery();
    expect((await send(app, captured)).status).toBe(500);
    for (const headers of [{}, { 'ce-id': 'ie_forged' }]) {
      const replay = await send(app, captured, { headers });
      expect(replay.status).toBe(409);
      expect(((await replay.json()) as { type: string }).type).toBe('urn:hookmesh:problem:replayed');
    }
    expect(calls).toHaveLength(1);
    const retry = await send(app, await delivery({ retried: 1 }));
    expect(retry.status).toBe(200);
    expect(calls).toHaveLength(2);
    // Now handled: the old token replayed is acknowledged, still without running.
    expect((await send(app, captured, { headers: { 'ce-id': 'ie_forged_3' } })).status).toBe(200);
    expect(calls).toHaveLength(2);
  });

  it('a replay under another ce-id while the first still runs gets 409; a duplicate under the same ce-id waits for it', async () => {
    const gate = deferred();
    const entered = deferred();
    const { app, calls } = setup({
      handle: async () => {
        entered.resolve();
        await gate.promise;
      },
    });
    const captured = await delivery();
    const first = send(app, captured);
    await entered.promise;
    const forged = await send(app, captured, { headers: { 'ce-id': 'ie_forged' } });
    expect(forged.status).toBe(409);
    const duplicate = send(app, captured);
    gate.resolve();
    expect((await first).status).toBe(200);
    expect(await (await duplicate).json()).toEqual({ status: 'duplicate' });
    expect(calls).toHaveLength(1);
  });

  it('a copy that joined a run in progress is remembered too: replayed after that run failed, it does not run', async () => {
    const gate = deferred();
    const entered = deferred();
    const { app, calls, counts } = setup({
      handle: async (_e, _ctx, call) => {
        if (call > 1) return;
        entered.resolve();
        await gate.promise;
        throw new Error('ledger down');
      },
    });
    const first = send(app, await delivery());
    await entered.promise;
    const copyRequest = await delivery({ retried: 1, messageId: 'msg_2' });
    const copy = send(app, copyRequest);
    // The copy has joined once its token is recorded (it never claims).
    while (counts.recordToken < 2) await turn();
    gate.resolve();
    expect([(await first).status, (await copy).status]).toEqual([500, 500]);
    expect(counts.claim).toBe(1);
    const replay = await send(app, copyRequest, { headers: { 'ce-id': 'ie_forged' } });
    expect(replay.status).toBe(409);
    expect((await send(app, copyRequest)).status).toBe(409);
    expect(calls).toHaveLength(1);
  });

  it('a replay arriving after the token expired is refused by the verifier, its record long gone', async () => {
    const { app, calls, clock, counts } = setup();
    const captured = await delivery();
    await send(app, captured);
    clock.advance(305_000);
    const late = await send(app, captured, { headers: { 'ce-id': 'ie_forged' } });
    expect(late.status).toBe(401);
    expect(calls).toHaveLength(1);
    expect(counts.recordToken).toBe(1);
  });
});

describe('item 4: a body is read only once its token holds, within limits', () => {
  const badTokens: { name: string; headers: (token: string) => Record<string, string | null> }[] = [
    { name: 'missing', headers: () => ({ 'upstash-signature': null }) },
    { name: 'garbage', headers: () => ({ 'upstash-signature': 'not.a.token' }) },
    { name: 'a wrong MAC', headers: (t) => ({ 'upstash-signature': `${t.slice(0, -4)}AAAA` }) },
  ];

  for (const bad of badTokens) {
    it(`a ${bad.name} signature with a never-ending body: 401, not one chunk pulled`, async () => {
      const { app, calls, counts } = setup();
      const req = await delivery();
      const headers: Record<string, string> = { ...req.headers };
      for (const [name, value] of Object.entries(bad.headers(req.headers['upstash-signature']!))) {
        if (value === null) delete headers[name];
        else headers[name] = value;
      }
      const { stream, seen } = endlessBody();
      const res = await post(app, req.url, headers, stream);
      expect(res.status).toBe(401);
      expect(seen.pulls).toBe(0);
      expect(calls).toHaveLength(0);
      expect(counts).toEqual(UNTOUCHED);
    });
  }

  it('a token for another URL, or an expired one, with a huge declared length: 401 before the body', async () => {
    const { app, clock } = setup();
    const elsewhere = await delivery({ url: 'https://evil.example.com/webhooks/order.created.v1' });
    const huge = { 'content-length': String(10 * 1024 ** 3) };
    const a = endlessBody();
    const res = await post(app, (await delivery()).url, { ...elsewhere.headers, ...huge }, a.stream);
    expect(res.status).toBe(401);
    expect(a.seen.pulls).toBe(0);

    const stale = await delivery();
    clock.advance(400_000);
    const b = endlessBody();
    const expired = await post(app, stale.url, { ...stale.headers, ...huge }, b.stream);
    expect(expired.status).toBe(401);
    expect(((await expired.json()) as { detail: string }).detail).toBe('expired');
    expect(b.seen.pulls).toBe(0);
  });

  it('a valid token with a never-ending body: 413 once past the limit, and the stream is cancelled', async () => {
    const { app, calls, counts } = setup({ maxBodyBytes: 64 * 1024 });
    const req = await delivery();
    const { stream, seen } = endlessBody();
    const res = await post(app, req.url, req.headers, stream);
    expect(res.status).toBe(413);
    // 64 KiB in 1 KiB chunks, plus the one that crossed the line.
    expect(seen.pulls).toBe(65);
    expect(seen.cancelled).toBe(true);
    expect(calls).toHaveLength(0);
    expect(counts.recordToken).toBe(0);
  });

  it('a valid token with another body streamed in: 401 (body), after reading it', async () => {
    const { app, calls } = setup();
    const req = await delivery();
    const { stream } = endlessBody({ chunk: JSON.stringify({ ...DATA, total: 43 }), chunks: 1 });
    const res = await post(app, req.url, req.headers, stream);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { detail: string }).detail).toBe('body');
    expect(calls).toHaveLength(0);
  });

  it('past the cap on bodies read at once: 429 + Retry-After without reading; a bad token is still 401', async () => {
    const { app, calls } = setup({ maxConcurrentBodyReads: 2 });
    const held = await Promise.all(
      ['ie_1', 'ie_2'].map(async (id) => {
        const req = await delivery({ id });
        const body = heldBody(req.body);
        return { body, answer: post(app, req.url, req.headers, body.stream) };
      }),
    );
    await Promise.all(held.map((h) => h.body.pulled));

    const third = await delivery({ id: 'ie_3' });
    const waiting = endlessBody();
    const refused = await post(app, third.url, third.headers, waiting.stream);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(((await refused.json()) as { type: string }).type).toBe('urn:hookmesh:problem:too-many-requests');
    expect(waiting.seen.pulls).toBe(0);
    const stranger = await post(
      app,
      third.url,
      { ...third.headers, 'upstash-signature': 'x.y.z' },
      endlessBody().stream,
    );
    expect(stranger.status).toBe(401);

    for (const h of held) h.body.open();
    expect((await Promise.all(held.map((h) => h.answer))).map((r) => r.status)).toEqual([200, 200]);
    // The slots are free again.
    expect((await send(app, third)).status).toBe(200);
    // The two held bodies were let go together: either may finish first. Each ran once.
    expect(calls.map((c) => c.event.id).sort()).toEqual(['ie_1', 'ie_2', 'ie_3']);
  });

  it('refuses a nonsense cap at build time', () => {
    expect(() => setup({ maxConcurrentBodyReads: 0 })).toThrow(DefinitionError);
    expect(() => setup({ maxConcurrentBodyReads: 1.5 })).toThrow(DefinitionError);
  });
});

describe('item 11: the claim is extended while the handler runs', () => {
  const LEASE = 30_000;

  /** Two processes of the service on one inbox and one (manual) clock, each with its own timer. */
  function twoProcesses(handle: () => Promise<void>) {
    const inbox = createMemoryInbox();
    const clock = createManualClock(NOW);
    const timerA = manualRepeat();
    const timerB = manualRepeat();
    const a = setup({ inbox, clock, leaseMs: LEASE, repeat: timerA.repeat, handle });
    return { inbox, clock, timerA, timerB, a };
  }

  it('a handler running 3× the lease is not run again by a retry meanwhile: the copy waits for it', async () => {
    const gate = deferred();
    const entered = deferred();
    const p = twoProcesses(async () => {
      entered.resolve();
      await gate.promise;
    });
    const firstAnswer = send(p.a.app, await delivery());
    await entered.promise;
    expect(p.timerA.intervals()).toEqual([LEASE / 3]);

    /** The handler keeps running while `ms` pass: its heartbeat fires every LEASE / 3. */
    const runFor = async (ms: number) => {
      for (let t = 0; t < ms; t += LEASE / 3) {
        p.clock.advance(LEASE / 3);
        p.timerA.tick();
        await turn();
      }
    };
    await runFor(3 * LEASE);
    expect(p.a.counts.extend).toBe(9);

    let polls = 0;
    const b = setup({
      inbox: p.inbox,
      clock: p.clock,
      leaseMs: LEASE,
      repeat: p.timerB.repeat,
      busyWait: {
        intervalMs: 1000,
        timeoutMs: 60_000,
        sleep: async () => {
          polls++;
          // The first run goes on for another lease while this copy waits, then completes.
          if (polls <= 3) return runFor(LEASE / 3);
          gate.resolve();
          await firstAnswer;
        },
      },
    });
    // The mesh's retry, minted now: 90 s after the first attempt, its lease long past unextended.
    const retry = await send(b.app, await delivery({ retried: 1, messageId: 'msg_2', nowMs: p.clock.now() }));
    expect((await firstAnswer).status).toBe(200);
    expect(retry.status).toBe(200);
    expect(await retry.json()).toEqual({ status: 'duplicate' });
    expect(b.calls).toHaveLength(0);
    expect(p.a.calls).toHaveLength(1);
    expect(polls).toBe(4);
    // Completed: the heartbeat stopped, and a late tick extends nothing.
    expect(p.timerA.intervals()).toEqual([]);
    p.timerA.tick();
    expect(p.a.counts.extend).toBe(12);
  });

  it('the copy that gives up waiting answers 503; the handler still ran once', async () => {
    const gate = deferred();
    const entered = deferred();
    const p = twoProcesses(async () => {
      entered.resolve();
      await gate.promise;
    });
    const firstAnswer = send(p.a.app, await delivery());
    await entered.promise;
    for (let i = 0; i < 9; i++) {
      p.clock.advance(LEASE / 3);
      p.timerA.tick();
      await turn();
    }
    const b = setup({
      inbox: p.inbox,
      clock: p.clock,
      leaseMs: LEASE,
      busyWait: { timeoutMs: 100, sleep: async () => {} },
    });
    const retry = await send(b.app, await delivery({ retried: 1, nowMs: p.clock.now() }));
    expect(retry.status).toBe(503);
    expect(b.calls).toHaveLength(0);
    gate.resolve();
    expect((await firstAnswer).status).toBe(200);
  });

  it('stops extending when the handler fails, before the claim is released', async () => {
    const timer = manualRepeat();
    const gate = deferred();
    const entered = deferred();
    const { app, counts, clock } = setup({
      leaseMs: LEASE,
      repeat: timer.repeat,
      handle: async () => {
        entered.resolve();
        await gate.promise;
        throw new Error('boom');
      },
    });
    const answer = send(app, await delivery());
    await entered.promise;
    clock.advance(LEASE / 3);
    timer.tick();
    await turn();
    gate.resolve();
    expect((await answer).status).toBe(500);
    expect(timer.intervals()).toEqual([]);
    expect(counts.extend).toBe(1);
    expect(counts.release).toBe(1);
  });

  it('a claim lost mid-run (the process stalled past its lease) is reported to onError', async () => {
    const timer = manualRepeat();
    const gate = deferred();
    const entered = deferred();
    const memory = createMemoryInbox();
    const inbox: Inbox = { ...memory, extend: async () => false };
    const { app, errors } = setup({
      inbox,
      repeat: timer.repeat,
      handle: async () => {
        entered.resolve();
        await gate.promise;
      },
    });
    const answer = send(app, await delivery());
    await entered.promise;
    timer.tick();
    await turn();
    timer.tick();
    await turn();
    gate.resolve();
    expect((await answer).status).toBe(200);
    expect(errors.map((e) => [e.ctx.phase, (e.error as Error).message])).toEqual([
      ['inbox', 'the inbox claim was lost while the handler ran'],
    ]);
  });
});

describe('the token and the claim are recorded under the publicUrl-checked route only', () => {
  it('a route of another service (another publicUrl) refuses this one’s tokens', async () => {
    const other = createWebhookApp({
      handlers: [defineHandler(OrderCreatedV1, () => {})],
      signingKeys: { current: CURRENT },
      inbox: createMemoryInbox(),
      publicUrl: 'https://shipping.example.com',
    });
    const res = await send(other, await delivery(), { url: `${PUBLIC_URL}/webhooks/order.created.v1` });
    expect(res.status).toBe(401);
  });
});
