import { createHash, createHmac } from 'node:crypto';
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { DefinitionError } from '../../src/core/errors.ts';
import { defineIntegrationEvent } from '../../src/core/integration-event.ts';
import { createMemoryInbox, createWebhookApp, defineHandler } from '../../src/handler/index.ts';
import {
  CURRENT,
  DATA,
  deferred,
  delivery,
  NEXT,
  NOW,
  OrderCreatedV1,
  PUBLIC_URL,
  ROUTE_URL,
  send,
  setup,
  TYPE,
  UNTOUCHED,
  until,
} from './webhook-fixtures.ts';

/** A token made by hand with node:crypto, to say what hookmesh's own signer never would. */
function mintByHand(options: {
  header?: Record<string, unknown>;
  claims?: Record<string, unknown>;
  hmac?: 'sha256' | 'sha512' | 'none';
  body: string;
}): string {
  const iat = NOW / 1000;
  const claims = {
    iss: 'Upstash',
    sub: ROUTE_URL,
    iat,
    nbf: iat,
    exp: iat + 300,
    jti: 'jwt_handmade',
    body: createHash('sha256').update(options.body).digest('base64url'),
    ...options.claims,
  };
  const header = options.header ?? { alg: 'HS256', typ: 'JWT' };
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const signingInput = `${b64(header)}.${b64(claims)}`;
  const hmac = options.hmac ?? 'sha256';
  const mac = hmac === 'none' ? '' : createHmac(hmac, CURRENT).update(signingInput).digest('base64url');
  return `${signingInput}.${mac}`;
}

async function problemOf(res: Response) {
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  return (await res.json()) as {
    type: string;
    title: string;
    status: number;
    detail: string;
    issues?: unknown;
  };
}

describe('createWebhookApp: the happy path', () => {
  it('runs the handler once with the typed, validated event and the delivery context → 200', async () => {
    const { app, calls } = setup();
    const req = await delivery({ retried: 3, messageId: 'msg_42' });
    const res = await send(app, req);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'handled' });
    expect(calls).toHaveLength(1);
    const { event, ctx } = calls[0]!;
    expect(event).toEqual({
      id: 'ie_01',
      type: TYPE,
      source: '/producers/orders',
      time: '2026-11-30T11:59:58.000Z',
      data: DATA,
    });
    expect({ messageId: ctx.messageId, retried: ctx.retried, attempt: ctx.attempt }).toEqual({
      messageId: 'msg_42',
      retried: 3,
      attempt: 4,
    });
  });

  it('hands the handler the schema output, transforms applied', async () => {
    const WithDate = defineIntegrationEvent(
      TYPE,
      v.object({
        orderId: v.string(),
        total: v.number(),
        currency: v.pipe(
          v.string(),
          v.transform((s) => s.toLowerCase()),
        ),
      }),
    );
    const seen: string[] = [];
    const app = createWebhookApp({
      handlers: [defineHandler(WithDate, (e) => void seen.push(e.data.currency))],
      signingKeys: { current: CURRENT },
      inbox: createMemoryInbox(),
      publicUrl: PUBLIC_URL,
      clock: { now: () => NOW },
    });
    expect((await send(app, await delivery())).status).toBe(200);
    expect(seen).toEqual(['eur']);
  });

  it('verifies against publicUrl, not the URL a proxy forwarded to (query string kept)', async () => {
    const { app, calls } = setup();
    const req = await delivery({ url: `${ROUTE_URL}?tenant=acme` });
    const res = await send(app, req, { url: `http://10.0.0.7:3000/webhooks/${TYPE}?tenant=acme` });
    expect(res.status).toBe(200);
    expect(calls).toHaveLength(1);
  });

  it('the Host a request names never becomes the subject: a token for the URL it was sent to is refused', async () => {
    const { app, calls } = setup();
    // Signed for the very URL the request goes to — but that is not this service's public URL.
    const elsewhere = `http://10.0.0.7:3000/webhooks/${TYPE}`;
    const res = await send(app, await delivery({ url: elsewhere }), { url: elsewhere });
    expect(res.status).toBe(401);
    expect((await problemOf(res)).detail).toBe('subject');
    const spoofed = await send(
      app,
      await delivery({ url: 'https://evil.example.com/webhooks/order.created.v1' }),
      {
        url: 'https://evil.example.com/webhooks/order.created.v1',
        headers: { host: 'evil.example.com' },
      },
    );
    expect(spoofed.status).toBe(401);
    expect(calls).toHaveLength(0);
  });

  it('serves under another basePath, and 404s unknown types', async () => {
    const { app } = setup({ basePath: '/hooks/' });
    const req = await delivery({ url: `${PUBLIC_URL}/hooks/${TYPE}` });
    expect((await send(app, req)).status).toBe(200);
    const unknown = await send(app, await delivery({ url: `${PUBLIC_URL}/hooks/order.paid.v1` }));
    expect(unknown.status).toBe(404);
  });

  it('a signature from the next key is accepted (rotation)', async () => {
    const { app, calls } = setup();
    const res = await send(app, await delivery({ signingKey: NEXT }));
    expect(res.status).toBe(200);
    expect(calls).toHaveLength(1);
  });
});

describe('createWebhookApp: a bad signature is 401 before anything else happens', () => {
  const cases: {
    name: string;
    reason: string;
    make: () => Promise<{ req: Awaited<ReturnType<typeof delivery>>; patch?: Parameters<typeof send>[2] }>;
    advanceMs?: number;
  }[] = [
    {
      name: 'missing header',
      reason: 'missing',
      make: async () => ({ req: await delivery(), patch: { headers: { 'upstash-signature': null } } }),
    },
    {
      name: 'signed with a key this service does not have',
      reason: 'signature',
      make: async () => ({ req: await delivery({ signingKey: 'sig_someone_else_entirely' }) }),
    },
    {
      name: 'body changed by one byte',
      reason: 'body',
      make: async () => {
        const req = await delivery();
        return { req, patch: { body: req.body.replace('"total":42', '"total":43') } };
      },
    },
    {
      name: 'token minted for another URL',
      reason: 'subject',
      make: async () => {
        const req = await delivery({ url: 'https://evil.example.com/webhooks/order.created.v1' });
        return { req, patch: { url: ROUTE_URL } };
      },
    },
    {
      name: 'expired (clock past exp + tolerance)',
      reason: 'expired',
      make: async () => ({ req: await delivery() }),
      advanceMs: 305_000,
    },
    {
      name: 'not yet valid (minted in the future)',
      reason: 'not_yet_valid',
      make: async () => ({ req: await delivery({ nowMs: NOW + 60_000 }) }),
    },
    {
      name: 'alg none',
      reason: 'algorithm',
      make: async () => {
        const req = await delivery();
        const token = mintByHand({ header: { alg: 'none', typ: 'JWT' }, hmac: 'none', body: req.body });
        return { req, patch: { headers: { 'upstash-signature': token } } };
      },
    },
    {
      name: 'HS512 with the right key',
      reason: 'algorithm',
      make: async () => {
        const req = await delivery();
        const token = mintByHand({ header: { alg: 'HS512', typ: 'JWT' }, hmac: 'sha512', body: req.body });
        return { req, patch: { headers: { 'upstash-signature': token } } };
      },
    },
    {
      name: 'wrong issuer, correctly signed',
      reason: 'issuer',
      make: async () => {
        const req = await delivery();
        const token = mintByHand({ claims: { iss: 'Someone' }, body: req.body });
        return { req, patch: { headers: { 'upstash-signature': token } } };
      },
    },
    {
      name: 'garbage',
      reason: 'malformed',
      make: async () => ({ req: await delivery(), patch: { headers: { 'upstash-signature': 'a.b' } } }),
    },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const { app, calls, counts, clock } = setup();
      const { req, patch } = await c.make();
      if (c.advanceMs !== undefined) clock.advance(c.advanceMs);
      const res = await send(app, req, patch);
      expect(res.status).toBe(401);
      expect(await problemOf(res)).toMatchObject({
        type: 'urn:hookmesh:problem:signature',
        title: 'Invalid signature',
        status: 401,
        detail: c.reason,
      });
      expect(calls).toHaveLength(0);
      expect(counts).toEqual(UNTOUCHED);
    });
  }

  it('the hand-made token is accepted when nothing is wrong with it (the matrix tests what it says)', async () => {
    const { app, calls } = setup();
    const req = await delivery();
    const res = await send(app, req, { headers: { 'upstash-signature': mintByHand({ body: req.body }) } });
    expect(res.status).toBe(200);
    expect(calls).toHaveLength(1);
  });

  it('still valid within the tolerance', async () => {
    const { app, clock } = setup();
    const req = await delivery();
    clock.advance(304_000);
    expect((await send(app, req)).status).toBe(200);
  });

  it('a body that is not even JSON is 401, not 489, when unsigned: verification comes first', async () => {
    const { app } = setup();
    const req = await delivery();
    const res = await send(app, req, { body: '{not json' });
    expect(res.status).toBe(401);
    expect(res.headers.get('upstash-nonretryable-error')).toBeNull();
  });

  it('an oversized body is refused before it is hashed', async () => {
    const { app, calls } = setup({ maxBodyBytes: 64 });
    const res = await send(app, await delivery({ data: { ...DATA, pad: 'x'.repeat(100) } }));
    expect(res.status).toBe(413);
    expect(calls).toHaveLength(0);
  });

  /** The delivery's body as a stream that records whether anyone read it. */
  const streamed = (body: string) => {
    const read = { pulled: false };
    const stream = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          read.pulled = true;
          controller.enqueue(new TextEncoder().encode(body));
          controller.close();
        },
      },
      { highWaterMark: 0 },
    );
    return { stream, read };
  };

  it('an oversized content-length is refused from the header, without reading the body', async () => {
    const { app, calls } = setup({ maxBodyBytes: 64 });
    const req = await delivery({ data: { ...DATA, pad: 'x'.repeat(100) } });
    const { stream, read } = streamed(req.body);
    const res = await app.request(req.url, {
      method: 'POST',
      headers: { ...req.headers, 'content-length': String(new TextEncoder().encode(req.body).length) },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect((await problemOf(res)).type).toBe('urn:hookmesh:problem:payload-too-large');
    expect(read.pulled).toBe(false);
    expect(calls).toHaveLength(0);
  });

  it('a streamed body of unknown length is counted: 413 past the limit, handled within it', async () => {
    const { app, calls } = setup({ maxBodyBytes: 64 });
    const big = await delivery({ data: { ...DATA, pad: 'x'.repeat(100) } });
    const tooBig = await app.request(big.url, {
      method: 'POST',
      headers: { ...big.headers },
      body: streamed(big.body).stream,
      duplex: 'half',
    } as RequestInit);
    expect(tooBig.status).toBe(413);
    expect(calls).toHaveLength(0);

    const { app: roomy, calls: handled } = setup({ maxBodyBytes: 4096 });
    const small = await delivery();
    const ok = await roomy.request(small.url, {
      method: 'POST',
      headers: { ...small.headers },
      body: streamed(small.body).stream,
      duplex: 'half',
    } as RequestInit);
    expect(ok.status).toBe(200);
    expect(handled).toHaveLength(1);
  });

  it('a body within a declared content-length is handled', async () => {
    const { app, calls } = setup({ maxBodyBytes: 4096 });
    const req = await delivery();
    const length = String(new TextEncoder().encode(req.body).length);
    const res = await send(app, req, { headers: { 'content-length': length } });
    expect(res.status).toBe(200);
    expect(calls).toHaveLength(1);
  });
});

describe('createWebhookApp: what no retry heals is 489 + Upstash-NonRetryable-Error', () => {
  const nonRetryable = async (res: Response, detail: RegExp) => {
    expect(res.status).toBe(489);
    expect(res.headers.get('upstash-nonretryable-error')).toBe('true');
    const body = await problemOf(res);
    expect(body.type).toBe('urn:hookmesh:problem:invalid-event');
    expect(body.detail).toMatch(detail);
    return body;
  };

  it('a schema mismatch, with the issues; the handler never runs', async () => {
    const { app, calls, counts } = setup();
    const res = await send(app, await delivery({ data: { orderId: '', total: 'lots', currency: 'EUR' } }));
    const body = await nonRetryable(res, /schema of order\.created\.v1/);
    expect(body.issues).toEqual([
      { path: '/orderId', message: expect.any(String) },
      { path: '/total', message: expect.any(String) },
    ]);
    expect(calls).toHaveLength(0);
    expect(counts.claim).toBe(0);
  });

  it('a signed body that is not JSON', async () => {
    const { app, calls } = setup();
    await nonRetryable(await send(app, await delivery({ body: '{"orderId":' })), /not valid UTF-8 JSON/);
    expect(calls).toHaveLength(0);
  });

  it('a missing ce-id (the dedup key)', async () => {
    const { app, calls } = setup();
    const res = await send(app, await delivery(), { headers: { 'ce-id': null } });
    await nonRetryable(res, /ce-id header is missing/);
    expect(calls).toHaveLength(0);
  });

  it('a ce-type that is not the route type', async () => {
    const { app, calls } = setup();
    await nonRetryable(await send(app, await delivery({ type: 'order.paid.v1' })), /does not match/);
    expect(calls).toHaveLength(0);
  });

  it('a missing ce-source or ce-time, an unknown specversion', async () => {
    const { app, calls } = setup();
    const req = await delivery();
    await nonRetryable(await send(app, req, { headers: { 'ce-source': null } }), /ce-source/);
    await nonRetryable(await send(app, req, { headers: { 'ce-time': null } }), /ce-time/);
    await nonRetryable(await send(app, req, { headers: { 'ce-specversion': '0.3' } }), /specversion/);
    expect(calls).toHaveLength(0);
  });
});

describe('createWebhookApp: effectively once', () => {
  it('the same ce-id twice in a row runs the handler once; the copy gets 200', async () => {
    const { app, calls } = setup();
    const first = await send(app, await delivery());
    const copy = await send(app, await delivery({ retried: 1, messageId: 'msg_2' }));
    expect([first.status, copy.status]).toEqual([200, 200]);
    expect(await copy.json()).toEqual({ status: 'duplicate' });
    expect(calls).toHaveLength(1);
  });

  it('another ce-id runs again', async () => {
    const { app, calls } = setup();
    await send(app, await delivery());
    await send(app, await delivery({ id: 'ie_02' }));
    expect(calls.map((c) => c.event.id)).toEqual(['ie_01', 'ie_02']);
  });

  it('two concurrent copies: runs once, both 2xx', async () => {
    const gate = deferred();
    const entered = deferred();
    const { app, calls, counts } = setup({
      handle: async () => {
        entered.resolve();
        await gate.promise;
      },
    });
    const req = await delivery();
    const first = send(app, req);
    await entered.promise;
    const copy = send(app, req);
    // The copy has joined the run: it records its token before it waits on the run.
    await until(() => counts.recordToken === 2);
    gate.resolve();
    const answers = await Promise.all([first, copy]);
    expect(answers.map((r) => r.status)).toEqual([200, 200]);
    expect(await Promise.all(answers.map((r) => r.json()))).toEqual([
      { status: 'handled' },
      { status: 'duplicate' },
    ]);
    expect(calls).toHaveLength(1);
    // The copy joined the run in this process rather than asking the inbox.
    expect(counts.claim).toBe(1);
  });

  it('copies racing from the very first byte still run it once', async () => {
    const { app, calls, counts } = setup({ handle: () => new Promise((r) => setTimeout(r, 5)) });
    const req = await delivery();
    const answers = await Promise.all(Array.from({ length: 5 }, () => send(app, req)));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(calls).toHaveLength(1);
    expect(counts.claim).toBe(1);
  });

  it('a copy waiting on a run that FAILS gets 5xx; a later retry runs it again and succeeds', async () => {
    const gate = deferred();
    const entered = deferred();
    const { app, calls, errors, counts } = setup({
      handle: async (_e, _ctx, call) => {
        if (call === 1) {
          entered.resolve();
          await gate.promise;
          throw new Error('ledger down');
        }
      },
    });
    const req = await delivery();
    const first = send(app, req);
    await entered.promise;
    const copy = send(app, req);
    // The copy has joined the run: it records its token before it waits on the run.
    await until(() => counts.recordToken === 2);
    gate.resolve();
    const [a, b] = await Promise.all([first, copy]);
    expect(a.status).toBe(500);
    expect(b.status).toBe(500);
    expect(calls).toHaveLength(1);
    expect(counts.claim).toBe(1);
    expect(errors).toHaveLength(1);

    const retry = await send(app, await delivery({ retried: 1 }));
    expect(retry.status).toBe(200);
    expect(await retry.json()).toEqual({ status: 'handled' });
    expect(calls).toHaveLength(2);
    // And now it is done for good.
    expect(await (await send(app, req)).json()).toEqual({ status: 'duplicate' });
    expect(calls).toHaveLength(2);
  });
});

describe('createWebhookApp: failures are retried', () => {
  it('a throwing handler → 500 with a generic detail; the error goes to onError; the retry runs', async () => {
    const { app, calls, errors, counts } = setup({
      handle: (_e, _ctx, call) => {
        if (call === 1) throw new Error('secret connection string in here');
      },
    });
    const res = await send(app, await delivery({ messageId: 'msg_9' }));
    expect(res.status).toBe(500);
    const body = await problemOf(res);
    expect(body.type).toBe('urn:hookmesh:problem:handler-failed');
    expect(JSON.stringify(body)).not.toContain('secret');
    expect(errors).toHaveLength(1);
    expect((errors[0]!.error as Error).message).toBe('secret connection string in here');
    expect(errors[0]!.ctx).toEqual({ phase: 'handler', handler: TYPE, eventId: 'ie_01', messageId: 'msg_9' });
    expect(counts.release).toBe(1);

    const retry = await send(app, await delivery({ retried: 1 }));
    expect(retry.status).toBe(200);
    expect(calls).toHaveLength(2);
  });

  it('retryLater → 503 with Retry-After in whole seconds rounded up; not an error; the retry runs', async () => {
    const { app, calls, errors } = setup({
      handle: (_e, ctx, call) => {
        if (call === 1) ctx.retryLater({ seconds: 1.2 });
        if (call === 2) ctx.retryLater({ ms: 90_001 });
      },
    });
    const first = await send(app, await delivery());
    expect(first.status).toBe(503);
    expect(first.headers.get('retry-after')).toBe('2');
    expect((await problemOf(first)).type).toBe('urn:hookmesh:problem:retry-later');
    const second = await send(app, await delivery({ retried: 1 }));
    expect(second.headers.get('retry-after')).toBe('91');
    const third = await send(app, await delivery({ retried: 2 }));
    expect(third.status).toBe(200);
    expect(calls.map((c) => c.ctx.attempt)).toEqual([1, 2, 3]);
    expect(errors).toHaveLength(0);
  });

  it('retryLater with a nonsense delay is a handler failure', async () => {
    const { app, errors } = setup({ handle: (_e, ctx) => ctx.retryLater({ seconds: -1 }) });
    expect((await send(app, await delivery())).status).toBe(500);
    expect(errors[0]!.error).toBeInstanceOf(RangeError);
  });

  it('an inbox that fails → 503, the handler does not run, the error goes to onError', async () => {
    const { app, calls, errors } = setup({
      inbox: {
        claim: () => Promise.reject(new Error('database is locked')),
        complete: async () => {},
        release: async () => {},
        extend: async () => true,
        recordToken: async () => ({ status: 'new' }),
      },
    });
    const res = await send(app, await delivery());
    expect(res.status).toBe(503);
    expect(calls).toHaveLength(0);
    expect(errors.map((e) => e.ctx.phase)).toEqual(['inbox']);
  });

  it('a handler that succeeded is acknowledged even if recording it fails', async () => {
    const memory = createMemoryInbox();
    const { app, calls, errors } = setup({
      inbox: { ...memory, complete: () => Promise.reject(new Error('disk full')) },
    });
    const res = await send(app, await delivery());
    expect(res.status).toBe(200);
    expect(calls).toHaveLength(1);
    expect(errors.map((e) => e.ctx.phase)).toEqual(['inbox']);
  });
});

describe('createWebhookApp: a claim held by another process', () => {
  /** Two apps on one inbox stand for two processes of the consuming service. */
  function twoProcesses(options: { firstFails?: boolean; sleep?: () => Promise<void> } = {}) {
    const inbox = createMemoryInbox();
    const gate = deferred();
    const entered = deferred();
    const a = setup({
      inbox,
      handle: async (_e, _ctx, call) => {
        if (call !== 1) return;
        entered.resolve();
        await gate.promise;
        if (options.firstFails) throw new Error('failed in A');
      },
    });
    let polls = 0;
    const b = setup({
      inbox,
      busyWait: {
        intervalMs: 50,
        timeoutMs: 200,
        sleep: async () => {
          polls++;
          await options.sleep?.();
        },
      },
    });
    return { a, b, gate, entered, polls: () => polls };
  }

  it('waits for the other run and acknowledges it once it is done', async () => {
    let aAnswer: Promise<Response> | undefined;
    const p = twoProcesses({
      sleep: async () => {
        p.gate.resolve();
        await aAnswer;
      },
    });
    const req = await delivery();
    aAnswer = send(p.a.app, req);
    await p.entered.promise;
    // A copy reaching another process is another attempt, with its own token.
    const res = await send(p.b.app, await delivery({ retried: 1, messageId: 'msg_2' }));
    expect((await aAnswer).status).toBe(200);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'duplicate' });
    expect(p.b.calls).toHaveLength(0);
    expect(p.polls()).toBe(1);
  });

  it('answers 5xx when the other run fails, and the retry runs the handler', async () => {
    let aAnswer: Promise<Response> | undefined;
    const p = twoProcesses({
      firstFails: true,
      sleep: async () => {
        p.gate.resolve();
        await aAnswer;
      },
    });
    const req = await delivery();
    aAnswer = send(p.a.app, req);
    await p.entered.promise;
    // A copy reaching another process is another attempt, with its own token.
    const res = await send(p.b.app, await delivery({ retried: 1, messageId: 'msg_2' }));
    expect((await aAnswer).status).toBe(500);
    expect(res.status).toBe(503);
    expect(p.b.calls).toHaveLength(0);
    const retry = await send(p.b.app, await delivery({ retried: 2 }));
    expect(retry.status).toBe(200);
    expect(p.b.calls).toHaveLength(1);
  });

  it('gives up after the wait with 503 + Retry-After (the lease, so a crashed holder has lapsed)', async () => {
    const p = twoProcesses();
    const req = await delivery();
    const aAnswer = send(p.a.app, req);
    await p.entered.promise;
    // A copy reaching another process is another attempt, with its own token.
    const res = await send(p.b.app, await delivery({ retried: 1, messageId: 'msg_2' }));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('60');
    expect((await problemOf(res)).type).toBe('urn:hookmesh:problem:busy');
    expect(p.polls()).toBe(4);
    p.gate.resolve();
    expect((await aAnswer).status).toBe(200);
    expect(p.b.calls).toHaveLength(0);
  });

  it('takes over a claim whose lease lapsed (its holder crashed)', async () => {
    const inbox = createMemoryInbox();
    await inbox.claim({ handler: TYPE, eventId: 'ie_01', nowMs: NOW - 61_000, leaseMs: 60_000 });
    const { app, calls } = setup({ inbox });
    expect((await send(app, await delivery())).status).toBe(200);
    expect(calls).toHaveLength(1);
  });
});

describe('createWebhookApp: configuration mistakes fail at build time', () => {
  const base = { signingKeys: { current: CURRENT }, inbox: createMemoryInbox(), publicUrl: PUBLIC_URL };
  const h = defineHandler(OrderCreatedV1, () => {});

  it('two handlers for one type', () => {
    const other = defineHandler(OrderCreatedV1, () => {}, { name: 'audit' });
    expect(() => createWebhookApp({ ...base, handlers: [h, other] })).toThrow(DefinitionError);
  });

  it('two handlers sharing a name', () => {
    const Paid = defineIntegrationEvent('order.paid.v1', v.object({}));
    const other = defineHandler(Paid, () => {}, { name: TYPE });
    expect(() => createWebhookApp({ ...base, handlers: [h, other] })).toThrow(/names key the inbox/);
  });

  it('an empty signing key, a bad publicUrl or basePath, a zero lease', () => {
    expect(() => createWebhookApp({ ...base, handlers: [h], signingKeys: { current: '' } })).toThrow(
      DefinitionError,
    );
    expect(() => createWebhookApp({ ...base, handlers: [h], publicUrl: 'billing.example.com' })).toThrow(
      DefinitionError,
    );
    expect(() => createWebhookApp({ ...base, handlers: [h], basePath: 'webhooks' })).toThrow(DefinitionError);
    expect(() => createWebhookApp({ ...base, handlers: [h], leaseMs: 0 })).toThrow(DefinitionError);
  });
});

describe('defineHandler', () => {
  it('is a frozen plain value named after its event type unless named', () => {
    const h = defineHandler(OrderCreatedV1, () => {});
    expect(Object.isFrozen(h)).toBe(true);
    expect(h.name).toBe(TYPE);
    expect(h.event).toBe(OrderCreatedV1);
    expect(defineHandler(OrderCreatedV1, () => {}, { name: 'billing.charge' }).name).toBe('billing.charge');
  });

  it('refuses what is not an integration event, and unusable names', () => {
    // @ts-expect-error — a domain-event-like value is not an integration event definition
    expect(() => defineHandler({ kind: 'domain', type: 'X', schema: v.object({}) }, () => {})).toThrow(
      DefinitionError,
    );
    expect(() => defineHandler(OrderCreatedV1, () => {}, { name: '' })).toThrow(DefinitionError);
    expect(() => defineHandler(OrderCreatedV1, () => {}, { name: 'a\nb' })).toThrow(DefinitionError);
  });
});
