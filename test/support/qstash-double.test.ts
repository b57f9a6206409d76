import { Client, Receiver } from '@upstash/qstash';
import { afterEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/core/clock.ts';
import { verifyQStashSignature } from '../../src/core/signature.ts';
import { type LoopbackServer, type Reply, startLoopbackServer } from './loopback-server.ts';
import { type QStashCallbackBody, type QStashDouble, startQStashDouble } from './qstash-double.ts';

const TOKEN = 'qstash_token_for_tests';
const CURRENT = 'sig_current_0123456789abcdef';
const NEXT = 'sig_next_0123456789abcdef';
/** An arbitrary fixed instant: schedules are checked against exact clock values. */
const T0 = 1_700_000_000_000;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function double(clock = createManualClock(T0)): Promise<QStashDouble> {
  const q = await startQStashDouble({
    token: TOKEN,
    currentSigningKey: CURRENT,
    nextSigningKey: NEXT,
    clock,
  });
  cleanups.push(() => q.close());
  return q;
}

async function server(answer?: (index: number) => Reply | Promise<Reply>): Promise<LoopbackServer> {
  const s = await startLoopbackServer(answer ? (_req, i) => answer(i) : undefined);
  cleanups.push(() => s.close());
  return s;
}

function client(q: QStashDouble, token = TOKEN, retry = true): Client {
  // devMode: false pins the client to the double even if QSTASH_DEV were set by someone.
  return new Client({ token, baseUrl: q.url, devMode: false, ...(retry ? {} : { retry: false }) });
}

function publishRaw(q: QStashDouble, destination: string, headers: Record<string, string>, body = '{}') {
  return fetch(`${q.url}/v2/publish/${destination}`, { method: 'POST', headers, body });
}

function callbackBody(s: LoopbackServer, i: number): QStashCallbackBody {
  const request = s.requests[i];
  if (request === undefined) throw new Error(`no request #${i}`);
  return JSON.parse(request.body) as QStashCallbackBody;
}

function header(s: LoopbackServer, i: number, name: string): string | undefined {
  const value = s.requests[i]?.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

describe('publishing through the real @upstash/qstash Client', () => {
  it('accepts publishJSON and delivers it once: body unchanged, forward prefix stripped, QStash headers', async () => {
    const clock = createManualClock(Date.now()); // Receiver checks tokens against the real clock
    const q = await double(clock);
    const handler = await server();
    const url = `${handler.url}/hooks/orders?tenant=a`;
    const body = { orderId: 'o-1', note: 'grüße' };

    const res = await client(q).publishJSON({
      url,
      body,
      headers: { 'ce-id': 'evt_1', 'Upstash-Forward-Ce-Type': 'order.created.v1' },
      retries: 2,
    });

    expect(res.messageId).toMatch(/^msg_[A-Za-z0-9_-]{27}$/);
    expect(res.url).toBe(url);
    const message = q.message(res.messageId)!;
    expect(message).toMatchObject({ destination: url, method: 'POST', retries: 2, state: 'pending' });
    // The client's wire format: lower-case names, everything not upstash-* gets the forward prefix.
    expect(message.headers).toMatchObject({
      'content-type': 'application/json',
      'upstash-method': 'POST',
      'upstash-retries': '2',
      'upstash-forward-ce-id': 'evt_1',
      'upstash-forward-ce-type': 'order.created.v1',
    });
    expect(message.headers.authorization).toBeUndefined();
    expect(q.calls).toMatchObject({ publish: 1, batch: 0, rejected: 0 });

    expect(await q.deliverDue()).toBe(1);
    expect(await q.deliverDue()).toBe(0);
    expect(handler.requests).toHaveLength(1);
    const delivered = handler.requests[0]!;
    expect(delivered.method).toBe('POST');
    expect(delivered.path).toBe('/hooks/orders?tenant=a');
    expect(delivered.body).toBe(JSON.stringify(body));
    expect(delivered.headers).toMatchObject({
      'content-type': 'application/json',
      'ce-id': 'evt_1',
      'ce-type': 'order.created.v1',
      'upstash-message-id': res.messageId,
      'upstash-retried': '0',
      'user-agent': 'Upstash-QStash',
    });
    for (const name of Object.keys(delivered.headers)) {
      expect(name).not.toMatch(/^upstash-(forward|retries|method|telemetry)|^authorization$/);
    }
    expect(message).toMatchObject({ state: 'delivered', nextAttemptAt: null });
    expect(message.attempts).toMatchObject([{ status: 200, retried: 0, error: null }]);

    const receiver = new Receiver({ currentSigningKey: CURRENT, nextSigningKey: NEXT });
    const signature = header(handler, 0, 'upstash-signature')!;
    await expect(receiver.verify({ signature, body: delivered.body, url, clockTolerance: 5 })).resolves.toBe(
      true,
    );
    await expect(
      receiver.verify({ signature, body: delivered.body, url: `${handler.url}/other`, clockTolerance: 5 }),
    ).rejects.toThrow(/subject/);
    await expect(receiver.verify({ signature, body: '{}', url, clockTolerance: 5 })).rejects.toThrow(/body/);
  });

  it('accepts batchJSON, answers the ids in order and delivers each entry with its own headers', async () => {
    const q = await double();
    const a = await server();
    const b = await server(() => ({ status: 204 }));

    const res = await client(q).batchJSON([
      {
        url: `${a.url}/a`,
        body: { n: 1 },
        headers: { 'ce-id': 'evt_a' },
        retries: 10,
        deduplicationId: 'd-a:0',
      },
      {
        url: `${b.url}/b`,
        body: { n: 2 },
        headers: { 'ce-id': 'evt_b' },
        retryDelay: 'pow(2, retried) * 1000',
        callback: `${a.url}/cb`,
        failureCallback: `${a.url}/cb`,
      },
    ]);

    expect(res.map((r) => r.messageId)).toEqual(q.messages.map((m) => m.id));
    expect(q.calls).toMatchObject({ publish: 0, batch: 1 });
    const [first, second] = q.messages;
    // Each entry carries its headers in `headers`, lower-case (the client sends `Headers.entries()`).
    expect(first!.headers).toMatchObject({
      'content-type': 'application/json',
      'upstash-forward-ce-id': 'evt_a',
      'upstash-retries': '10',
      'upstash-deduplication-id': 'd-a:0',
      'upstash-method': 'POST',
    });
    expect(second!.headers).toMatchObject({
      'upstash-retry-delay': 'pow(2, retried) * 1000',
      'upstash-callback': `${a.url}/cb`,
      'upstash-failure-callback': `${a.url}/cb`,
    });
    expect(second).toMatchObject({ retries: 3, retryDelay: 'pow(2, retried) * 1000', dedupId: null });
    expect(second!.callback?.url).toBe(`${a.url}/cb`);

    // Two deliveries, then the callback the second one asked for.
    expect(await q.deliverDue()).toBe(3);
    expect(a.requests.map((r) => [r.path, r.body, r.headers['ce-id']])).toEqual([
      ['/a', '{"n":1}', 'evt_a'],
      ['/cb', expect.any(String), undefined],
    ]);
    expect(b.requests.map((r) => [r.path, r.body, r.headers['ce-id']])).toEqual([['/b', '{"n":2}', 'evt_b']]);
    expect(callbackBody(a, 1)).toMatchObject({ status: 204, sourceMessageId: second!.id });
  });

  it('answers 201 for a new message and 202 with the first id for a duplicate, on the wire', async () => {
    const q = await double();
    const handler = await server();
    const headers = { authorization: `Bearer ${TOKEN}`, 'upstash-deduplication-id': 'del-1:0' };

    const first = await publishRaw(q, `${handler.url}/h`, headers);
    const again = await publishRaw(q, `${handler.url}/h`, headers);

    expect(first.status).toBe(201);
    const created = (await first.json()) as { messageId: string; url: string };
    expect(created).toEqual({ messageId: expect.stringMatching(/^msg_/), url: `${handler.url}/h` });
    expect(again.status).toBe(202);
    expect(await again.json()).toEqual({ ...created, deduplicated: true });
  });

  it('refuses a missing or wrong token with 401 and a JSON error; the client throws', async () => {
    const q = await double();
    const handler = await server();

    await expect(client(q, 'wrong').publishJSON({ url: handler.url, body: {} })).rejects.toMatchObject({
      name: 'QstashError',
      status: 401,
    });
    await expect(client(q, 'wrong').batchJSON([{ url: handler.url, body: {} }])).rejects.toMatchObject({
      status: 401,
    });
    const missing = await publishRaw(q, handler.url, {});
    expect(missing.status).toBe(401);
    expect(await missing.json()).toEqual({ error: expect.any(String) });

    expect(q.messages).toHaveLength(0);
    expect(q.calls).toEqual({ publish: 2, batch: 1, messages: 0, rejected: 3 });
    expect(await q.deliverDue()).toBe(0);
    expect(handler.requests).toHaveLength(0);
  });

  it('deduplicates: a repeated deduplication id gets the first message id and nothing new is sent', async () => {
    const q = await double();
    const handler = await server();
    const c = client(q);

    const first = await c.publishJSON({ url: handler.url, body: { v: 1 }, deduplicationId: 'del-7:0' });
    const second = await c.publishJSON({ url: handler.url, body: { v: 2 }, deduplicationId: 'del-7:0' });
    const batched = await c.batchJSON([{ url: handler.url, body: { v: 3 }, deduplicationId: 'del-7:0' }]);
    const next = await c.publishJSON({ url: handler.url, body: { v: 1 }, deduplicationId: 'del-7:1' });

    expect(second).toEqual({ messageId: first.messageId, url: handler.url, deduplicated: true });
    expect(batched[0]?.messageId).toBe(first.messageId);
    expect(next.messageId).not.toBe(first.messageId);
    expect(q.messages.map((m) => m.dedupId)).toEqual(['del-7:0', 'del-7:1']);
    expect(await q.deliverDue()).toBe(2);
    expect(handler.requests.map((r) => r.body)).toEqual(['{"v":1}', '{"v":1}']);
  });

  it('deduplicates by content when asked: same destination, body and headers', async () => {
    const q = await double();
    const handler = await server();
    const c = client(q);
    const publish = (body: unknown, ceId = 'e1') =>
      c.publishJSON({ url: handler.url, body, headers: { 'ce-id': ceId }, contentBasedDeduplication: true });

    const a = await publish({ v: 1 });
    const b = await publish({ v: 1 });
    const c2 = await publish({ v: 2 });
    const d = await publish({ v: 1 }, 'e2');

    expect(b.messageId).toBe(a.messageId);
    expect(new Set([a.messageId, c2.messageId, d.messageId]).size).toBe(3);
  });

  it('turns a 500 into a thrown publish while down, and accepts again once up', async () => {
    const q = await double();
    const handler = await server();

    q.setDown(true);
    await expect(client(q).publishJSON({ url: handler.url, body: {} })).rejects.toMatchObject({
      status: 500,
    });
    await expect(client(q).batchJSON([{ url: handler.url, body: {} }])).rejects.toMatchObject({
      status: 500,
    });
    q.setDown(true, 'reset');
    await expect(client(q, TOKEN, false).publishJSON({ url: handler.url, body: {} })).rejects.toThrow(
      /fetch failed/,
    );
    expect(q.messages).toHaveLength(0);

    q.setDown(false);
    const res = await client(q).publishJSON({ url: handler.url, body: {} });
    expect(q.message(res.messageId)?.state).toBe('pending');
    expect(q.calls).toMatchObject({ publish: 3, batch: 1, rejected: 3 });
  });
});

describe('publish options', () => {
  it('defaults to 3 retries and POST when the headers are absent, and delivers with upstash-method', async () => {
    const q = await double();
    const handler = await server();

    const plain = await client(q).publish({ url: handler.url, body: 'raw text' });
    const put = await client(q).publishJSON({ url: handler.url, body: {}, method: 'PUT' });
    const bare = await fetch(`${q.url}/v2/publish/${handler.url}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: new TextEncoder().encode('bytes'),
    });
    const bareId = ((await bare.json()) as { messageId: string }).messageId;

    expect(q.message(plain.messageId)).toMatchObject({ retries: 3, method: 'POST', retryDelay: null });
    expect(q.message(plain.messageId)!.headers['upstash-retries']).toBeUndefined();
    expect(await q.deliverDue()).toBe(3);
    const byId = (id: string) => handler.requests.find((r) => r.headers['upstash-message-id'] === id)!;
    // The client's fetch labels a string body text/plain; that original content-type is forwarded.
    expect(byId(plain.messageId)).toMatchObject({ method: 'POST', body: 'raw text' });
    expect(byId(plain.messageId).headers['content-type']).toBe('text/plain;charset=UTF-8');
    expect(byId(put.messageId).method).toBe('PUT');
    // Nothing published, nothing invented.
    expect(byId(bareId).headers['content-type']).toBeUndefined();
  });

  it('holds a delayed message until its time; upstash-not-before wins over upstash-delay', async () => {
    const clock = createManualClock(T0);
    const q = await double(clock);
    const handler = await server();

    const delayed = await client(q).publishJSON({ url: handler.url, body: {}, delay: 50 });
    // The SDK's type allows one unit only; QStash (and the double) read combined durations too.
    const longRes = await publishRaw(q, handler.url, {
      authorization: `Bearer ${TOKEN}`,
      'upstash-delay': '1d10h30m',
    });
    const long = (await longRes.json()) as { messageId: string };
    const notBefore = T0 / 1000 + 3600;
    const pinned = await client(q).publishJSON({ url: handler.url, body: {}, delay: 10, notBefore });

    expect(q.message(delayed.messageId)?.notBefore).toBe(T0 + 50_000);
    expect(q.message(long.messageId)?.notBefore).toBe(T0 + 124_200_000);
    expect(q.message(pinned.messageId)?.notBefore).toBe(notBefore * 1000);
    expect(q.nextDueAt()).toBe(T0 + 50_000);
    expect(await q.deliverDue()).toBe(0);
    clock.set(T0 + 49_999);
    expect(await q.deliverDue()).toBe(0);
    clock.set(T0 + 50_000);
    expect(await q.deliverDue()).toBe(1);
    clock.set(notBefore * 1000);
    expect(await q.deliverDue()).toBe(1);
    expect(q.message(pinned.messageId)?.state).toBe('delivered');
  });

  it('refuses what QStash refuses: a bad retry-delay, retries over the plan cap, a non-URL destination', async () => {
    const q = await double();
    const auth = { authorization: `Bearer ${TOKEN}` };

    const badDelay = await publishRaw(q, 'http://127.0.0.1:9/h', {
      ...auth,
      'upstash-retry-delay': 'retried +',
    });
    const tooMany = await publishRaw(q, 'http://127.0.0.1:9/h', { ...auth, 'upstash-retries': '21' });
    const group = await publishRaw(q, 'my-url-group', auth);

    for (const res of [badDelay, tooMany, group]) {
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ error: expect.any(String) });
    }
    await expect(
      client(q).batchJSON([
        { url: 'http://127.0.0.1:9/ok', body: {} },
        { url: 'http://127.0.0.1:9/bad', body: {}, retryDelay: 'process.exit()' },
      ]),
    ).rejects.toMatchObject({ status: 400 });
    expect(q.messages).toHaveLength(0);
  });

  it('gives up an attempt after upstash-timeout and schedules a retry', async () => {
    const q = await double();
    const handler = await server(() => new Promise<Reply>(() => {}));

    const res = await client(q).publishJSON({ url: handler.url, body: {}, timeout: 1, retries: 1 });
    const started = Date.now();
    expect(await q.deliverDue()).toBe(1);

    expect(Date.now() - started).toBeLessThan(5_000);
    expect(q.message(res.messageId)).toMatchObject({ state: 'pending', retried: 1, timeoutMs: 1000 });
    expect(q.message(res.messageId)?.attempts).toMatchObject([{ status: null, error: 'timeout' }]);
  });
});

describe('retries', () => {
  it("follows QStash's default backoff, makes retries + 1 attempts, then fails with a failure callback", async () => {
    const clock = createManualClock(T0);
    const q = await double(clock);
    const handler = await server(() => ({ status: 500, body: 'boom' }));
    const failures = await server();
    const failureUrl = `${failures.url}/qstash/failure`;

    const { messageId } = await client(q).publishJSON({
      url: handler.url,
      body: { a: 1 },
      retries: 3,
      failureCallback: failureUrl,
    });
    expect(await q.deliverDue()).toBe(1);
    // e^2.5, e^5, e^7.5 seconds, in whole milliseconds.
    for (const delay of [12_182, 148_413, 1_808_042]) {
      expect(q.nextDueAt()).toBe(clock.now() + delay);
      clock.advance(delay - 1);
      expect(await q.deliverDue()).toBe(0);
      clock.advance(1);
      expect(await q.deliverDue()).toBe(delay === 1_808_042 ? 2 : 1); // the last also calls back
    }

    const message = q.message(messageId)!;
    expect(handler.requests.map((r) => r.headers['upstash-retried'])).toEqual(['0', '1', '2', '3']);
    expect(message).toMatchObject({ state: 'failed', failureReason: 'retries_exhausted', retried: 3 });
    expect(message.dlqId).toMatch(/^\d+-\d+$/);
    expect(failures.requests).toHaveLength(1);
    expect(callbackBody(failures, 0)).toMatchObject({
      status: 500,
      body: b64('boom'),
      retried: 3,
      maxRetries: 3,
      dlqId: message.dlqId,
      sourceMessageId: messageId,
      url: handler.url,
    });
    const signature = header(failures, 0, 'upstash-signature');
    const verified = await verifyQStashSignature({
      signature,
      body: failures.requests[0]!.body,
      url: failureUrl,
      keys: { current: CURRENT, next: NEXT },
      nowMs: clock.now(),
    });
    expect(verified.ok).toBe(true);
    expect(await q.deliverDue()).toBe(0);
    expect(q.nextDueAt()).toBeNull();
  });

  it('uses a custom retryDelay expression over `retried` (0 before the first retry)', async () => {
    const clock = createManualClock(T0);
    const q = await double(clock);
    const handler = await server(() => ({ status: 503 }));

    const { messageId } = await client(q).publishJSON({
      url: handler.url,
      body: {},
      retries: 2,
      retryDelay: '1000 * (1 + retried)',
    });
    const attemptTimes: number[] = [];
    for (let due = q.nextDueAt(); due !== null; due = q.nextDueAt()) {
      clock.set(due);
      attemptTimes.push(due);
      expect(await q.deliverDue()).toBe(1);
    }

    expect(attemptTimes).toEqual([T0, T0 + 1000, T0 + 3000]);
    expect(q.message(messageId)).toMatchObject({ state: 'failed', failureReason: 'retries_exhausted' });
    expect(q.message(messageId)?.attempts.map((a) => [a.at, a.retried, a.status])).toEqual([
      [T0, 0, 503],
      [T0 + 1000, 1, 503],
      [T0 + 3000, 2, 503],
    ]);
    // A fresh token per attempt.
    expect(new Set(q.message(messageId)?.attempts.map((a) => a.signature)).size).toBe(3);
  });

  it('fails a 489 with Upstash-NonRetryable-Error at once, calling back and failure-calling back', async () => {
    const q = await double();
    const handler = await server(() => ({
      status: 489,
      headers: { 'Upstash-NonRetryable-Error': 'true' },
      body: 'schema mismatch',
    }));
    const callbacks = await server();

    const { messageId } = await client(q).publishJSON({
      url: handler.url,
      body: {},
      retries: 5,
      callback: `${callbacks.url}/cb`,
      failureCallback: `${callbacks.url}/failure`,
    });
    expect(await q.deliverDue()).toBe(3);

    expect(handler.requests).toHaveLength(1);
    const message = q.message(messageId)!;
    expect(message).toMatchObject({ state: 'failed', failureReason: 'non_retryable', retried: 0 });
    const byPath = (path: string) =>
      callbackBody(
        callbacks,
        callbacks.requests.findIndex((r) => r.path === path),
      );
    expect(byPath('/cb')).toMatchObject({ status: 489, retried: 0, maxRetries: 5 });
    expect(byPath('/cb')).not.toHaveProperty('dlqId');
    expect(byPath('/failure')).toMatchObject({
      status: 489,
      retried: 0,
      maxRetries: 5,
      dlqId: message.dlqId,
      body: b64('schema mismatch'),
      header: { 'Upstash-Nonretryable-Error': ['true'] },
    });
  });

  it('retries a 489 without the header, and a 500 with it', async () => {
    const q = await double();
    const bare489 = await server(() => ({ status: 489 }));
    const flagged500 = await server(() => ({
      status: 500,
      headers: { 'Upstash-NonRetryable-Error': 'true' },
    }));

    const a = await client(q).publishJSON({ url: bare489.url, body: {}, retries: 1 });
    const b = await client(q).publishJSON({ url: flagged500.url, body: {}, retries: 1 });
    expect(await q.deliverDue()).toBe(2);

    expect(q.message(a.messageId)).toMatchObject({ state: 'pending', retried: 1 });
    expect(q.message(b.messageId)).toMatchObject({ state: 'pending', retried: 1 });
  });

  it('honours Retry-After in seconds, as an HTTP date and as a duration, capped at a day', async () => {
    const clock = createManualClock(T0);
    const q = await double(clock);
    const answers: Reply[] = [
      { status: 503, headers: { 'Retry-After': '120' } },
      { status: 429, headers: { 'Retry-After': '6m5s' } },
      { status: 503, headers: { 'Retry-After': new Date(T0 + 120_000 + 365_000 + 90_000).toUTCString() } },
      { status: 503, headers: { 'Retry-After': '2d' } },
      { status: 200 },
    ];
    const handler = await server((i) => answers[i]!);

    const { messageId } = await client(q).publishJSON({ url: handler.url, body: {}, retries: 10 });
    const gaps: number[] = [];
    let last = clock.now();
    for (let due = q.nextDueAt(); due !== null; due = q.nextDueAt()) {
      gaps.push(due - last);
      last = due;
      clock.set(due);
      await q.deliverDue();
    }

    expect(gaps).toEqual([0, 120_000, 365_000, 90_000, 86_400_000]);
    expect(q.message(messageId)).toMatchObject({ state: 'delivered', retried: 4 });
  });
});

describe('callbacks', () => {
  it('calls back after every attempt with the documented body, signed for the callback URL', async () => {
    const clock = createManualClock(T0);
    const q = await double(clock);
    const answers: Reply[] = [
      { status: 500, headers: { 'X-Attempt': '1' }, body: 'nope' },
      { status: 200, body: '{"ok":true}' },
    ];
    const handler = await server((i) => answers[i]!);
    const callbacks = await server();
    const callbackUrl = `${callbacks.url}/v1/qstash/callback`;
    const body = { orderId: 'o-9' };

    const { messageId } = await client(q).publishJSON({
      url: handler.url,
      body,
      headers: { 'ce-id': 'evt_9' },
      callback: callbackUrl,
      failureCallback: `${callbacks.url}/failure`,
    });
    expect(await q.deliverDue()).toBe(2);
    clock.advance(12_182);
    expect(await q.deliverDue()).toBe(2);

    expect(callbacks.requests.map((r) => r.path)).toEqual(['/v1/qstash/callback', '/v1/qstash/callback']);
    const first = callbackBody(callbacks, 0);
    expect(Object.keys(first).sort()).toEqual(
      [
        'status',
        'header',
        'body',
        'retried',
        'maxRetries',
        'sourceMessageId',
        'url',
        'method',
        'sourceHeader',
        'sourceBody',
        'topicName',
        'endpointName',
        'createdAt',
        'notBefore',
        'scheduleId',
        'callerIP',
      ].sort(),
    );
    expect(first).toMatchObject({
      status: 500,
      header: { 'X-Attempt': ['1'] },
      body: b64('nope'),
      retried: 0,
      maxRetries: 3,
      sourceMessageId: messageId,
      url: handler.url,
      method: 'POST',
      sourceHeader: { 'Content-Type': ['application/json'], 'Ce-Id': ['evt_9'] },
      sourceBody: b64(JSON.stringify(body)),
      topicName: '',
      endpointName: '',
      createdAt: T0,
      notBefore: T0,
      scheduleId: '',
      callerIP: '127.0.0.1',
    });
    expect(callbackBody(callbacks, 1)).toMatchObject({ status: 200, retried: 1, body: b64('{"ok":true}') });

    const callbackMessages = q.messages.filter((m) => m.kind === 'callback');
    expect(callbackMessages.map((m) => m.sourceMessageId)).toEqual([messageId, messageId]);
    expect(header(callbacks, 0, 'upstash-message-id')).toBe(callbackMessages[0]?.id);
    expect(header(callbacks, 0, 'content-type')).toBe('application/json');
    const verified = await verifyQStashSignature({
      signature: header(callbacks, 1, 'upstash-signature'),
      body: callbacks.requests[1]!.body,
      url: callbackUrl,
      keys: { current: CURRENT, next: NEXT },
      nowMs: clock.now(),
    });
    expect(verified.ok).toBe(true);
    expect(q.message(messageId)?.state).toBe('delivered');
  });

  it('retries a callback answered 404 or 500 on a later deliverDue, as a message of its own', async () => {
    const clock = createManualClock(T0);
    const q = await double(clock);
    const handler = await server();
    const answers: Reply[] = [{ status: 404 }, { status: 500 }, { status: 200 }];
    const callbacks = await server((i) => answers[i]!);

    const { messageId } = await client(q).publishJSON({
      url: handler.url,
      body: {},
      retries: 2,
      callback: `${callbacks.url}/cb`,
    });
    expect(await q.deliverDue()).toBe(2);
    const callback = q.messages.find((m) => m.kind === 'callback')!;
    expect(q.message(messageId)?.state).toBe('delivered');
    expect(callback).toMatchObject({ state: 'pending', retried: 1, retries: 2, nextAttemptAt: T0 + 12_182 });
    expect(await q.deliverDue()).toBe(0);

    clock.advance(12_182);
    expect(await q.deliverDue()).toBe(1);
    clock.advance(148_413);
    expect(await q.deliverDue()).toBe(1);

    expect(callback).toMatchObject({ state: 'delivered', retried: 2 });
    expect(callbacks.requests.map((r) => r.headers['upstash-retried'])).toEqual(['0', '1', '2']);
    expect(new Set(callbacks.requests.map((r) => r.body)).size).toBe(1);
    expect(handler.requests).toHaveLength(1);
  });
});

describe('signing keys', () => {
  it('signs with the current key, and with the former next key after a rotation', async () => {
    const clock = createManualClock(T0);
    const q = await double(clock);
    const handler = await server();
    const verify = (i: number, keys: { current: string; next?: string }) =>
      verifyQStashSignature({
        signature: header(handler, i, 'upstash-signature'),
        body: handler.requests[i]!.body,
        url: handler.url,
        keys,
        nowMs: clock.now(),
      });

    await client(q).publishJSON({ url: handler.url, body: {} });
    await q.deliverDue();
    q.rotateSigningKeys('sig_newest_0123456789');
    await client(q).publishJSON({ url: handler.url, body: {} });
    await q.deliverDue();

    expect(q.signingKeys).toEqual({ current: NEXT, next: 'sig_newest_0123456789' });
    expect((await verify(0, { current: CURRENT })).ok).toBe(true);
    expect((await verify(1, { current: CURRENT })).ok).toBe(false);
    expect((await verify(1, { current: CURRENT, next: NEXT })).ok).toBe(true);
  });
});
