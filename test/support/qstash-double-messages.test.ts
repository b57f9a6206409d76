import { Client } from '@upstash/qstash';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createManualClock } from '../../src/core/clock.ts';
import { type LoopbackServer, type Reply, startLoopbackServer } from './loopback-server.ts';
import { type QStashDouble, startQStashDouble } from './qstash-double.ts';

// The double's `GET /v2/messages/{messageId}` (QStash's "Get a Message", the SDK's
// `client.messages.get`) and its way of losing callbacks (`loseCallbacksTo`).

const TOKEN = 'qstash_token_for_tests';
const T0 = 1_700_000_000_000;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  vi.restoreAllMocks();
});

async function double(clock = createManualClock(T0)): Promise<QStashDouble> {
  const q = await startQStashDouble({
    token: TOKEN,
    currentSigningKey: 'sig_current_0123456789abcdef',
    nextSigningKey: 'sig_next_0123456789abcdef',
    clock,
  });
  cleanups.push(() => q.close());
  return q;
}

async function server(answer?: (index: number) => Reply): Promise<LoopbackServer> {
  const s = await startLoopbackServer(answer ? (_req, i) => answer(i) : undefined);
  cleanups.push(() => s.close());
  return s;
}

const client = (q: QStashDouble, token = TOKEN) =>
  new Client({ token, baseUrl: q.url, devMode: false, retry: false });

/** The SDK logs every failed request to the console; expected failures stay out of the output. */
const quietConsole = () => vi.spyOn(console, 'error').mockImplementation(() => {});

describe('GET /v2/messages/{messageId}', () => {
  it('shows a message while it is being delivered or retried, in the documented shape', async () => {
    const clock = createManualClock(T0);
    const q = await double(clock);
    const handler = await server(() => ({ status: 500 }));
    const { messageId } = await client(q).publishJSON({
      url: `${handler.url}/hook`,
      body: { orderId: 'o-1' },
      headers: { 'ce-id': 'evt_1' },
      retries: 2,
      callback: `${handler.url}/cb`,
      failureCallback: `${handler.url}/failed`,
    });

    const pending = await client(q).messages.get(messageId);
    expect(pending).toMatchObject({
      messageId,
      url: `${handler.url}/hook`,
      method: 'POST',
      header: { 'Content-Type': ['application/json'], 'Ce-Id': ['evt_1'] },
      body: '{"orderId":"o-1"}',
      maxRetries: 2,
      notBefore: T0,
      createdAt: T0,
      callback: `${handler.url}/cb`,
      failureCallback: `${handler.url}/failed`,
      callerIP: '127.0.0.1',
    });
    expect(pending).not.toHaveProperty('bodyBase64');

    // Failed once, to be retried: still QStash's.
    await q.deliverDue();
    expect(q.message(messageId)).toMatchObject({ state: 'pending', retried: 1 });
    expect(await client(q).messages.get(messageId)).toMatchObject({ messageId });
    expect(q.calls.messages).toBe(2);
  });

  it('answers 404 once the message is delivered, failed (to the DLQ) or unknown; the SDK throws status 404', async () => {
    quietConsole();
    const clock = createManualClock(T0);
    const q = await double(clock);
    const ok = await server();
    const failing = await server(() => ({ status: 500 }));
    const delivered = await client(q).publishJSON({ url: ok.url, body: {} });
    const failed = await client(q).publishJSON({ url: failing.url, body: {}, retries: 0 });
    await q.deliverDue();
    expect(q.message(delivered.messageId)?.state).toBe('delivered');
    expect(q.message(failed.messageId)?.state).toBe('failed');

    for (const id of [delivered.messageId, failed.messageId, 'msg_unknown']) {
      await expect(client(q).messages.get(id)).rejects.toMatchObject({ name: 'QstashError', status: 404 });
      const raw = await fetch(`${q.url}/v2/messages/${id}`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(raw.status).toBe(404);
      expect(await raw.json()).toEqual({ error: 'message not found' });
    }
    // A 404 is an answer, not a refusal.
    expect(q.calls).toMatchObject({ messages: 6, rejected: 0 });
  });

  it('shows a non-UTF-8 body as bodyBase64; never shows the messages QStash makes to call back', async () => {
    const q = await double();
    const handler = await server(() => ({ status: 500 }));
    const bytes = new Uint8Array([0xff, 0xfe, 0x00, 0x41]);
    const published = await fetch(`${q.url}/v2/publish/${handler.url}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${TOKEN}`,
        'content-type': 'application/octet-stream',
        'upstash-callback': `${handler.url}/cb`,
      },
      body: bytes,
    });
    const { messageId } = (await published.json()) as { messageId: string };
    const shown = await fetch(`${q.url}/v2/messages/${messageId}`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(await shown.json()).toMatchObject({
      messageId,
      bodyBase64: Buffer.from(bytes).toString('base64'),
    });

    await q.deliverDue();
    const callback = q.messages.find((m) => m.kind === 'callback')!;
    expect(callback.state).toBe('pending');
    const hidden = await fetch(`${q.url}/v2/messages/${callback.id}`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(hidden.status).toBe(404);
    await hidden.arrayBuffer();
  });

  it('refuses a wrong token (401) and other methods (405), and is down with the rest of the API', async () => {
    quietConsole();
    const q = await double();
    const handler = await server(() => ({ status: 500 }));
    const { messageId } = await client(q).publishJSON({ url: handler.url, body: {} });

    await expect(client(q, 'wrong').messages.get(messageId)).rejects.toMatchObject({ status: 401 });
    const cancel = await fetch(`${q.url}/v2/messages/${messageId}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(cancel.status).toBe(405);
    await cancel.arrayBuffer();
    q.setDown(true);
    await expect(client(q).messages.get(messageId)).rejects.toMatchObject({ status: 500 });
    q.setDown(false);
    expect(await client(q).messages.get(messageId)).toMatchObject({ messageId });
    expect(q.calls).toMatchObject({ messages: 4, rejected: 3 });
  });
});

describe('losing callbacks', () => {
  it('drops callbacks and failure callbacks to the given URL only; the message is delivered and retried as ever', async () => {
    const clock = createManualClock(T0);
    const q = await double(clock);
    const handler = await server(() => ({ status: 500 }));
    const mesh = await server();
    const other = await server();
    const lost = await client(q).publishJSON({
      url: handler.url,
      body: {},
      retries: 1,
      callback: `${mesh.url}/cb`,
      failureCallback: `${mesh.url}/cb`,
    });
    const kept = await client(q).publishJSON({
      url: handler.url,
      body: {},
      retries: 1,
      callback: `${other.url}/cb`,
    });

    q.loseCallbacksTo(`${mesh.url}/cb`);
    await q.deliverDue();
    clock.advance(12_182);
    await q.deliverDue();

    expect(handler.requests).toHaveLength(4);
    expect(q.message(lost.messageId)?.state).toBe('failed');
    expect(q.message(kept.messageId)?.state).toBe('failed');
    expect(mesh.requests).toHaveLength(0);
    expect(other.requests).toHaveLength(2);
    // Two callbacks and the failure callback of the first message.
    expect(q.lostCallbacks).toBe(3);
    expect(q.messages.filter((m) => m.sourceMessageId === lost.messageId)).toEqual([]);

    q.loseCallbacksTo(null);
    const again = await client(q).publishJSON({
      url: handler.url,
      body: {},
      retries: 0,
      callback: `${mesh.url}/cb`,
    });
    await q.deliverDue();
    expect(mesh.requests).toHaveLength(1);
    expect(JSON.parse(mesh.requests[0]!.body)).toMatchObject({ sourceMessageId: again.messageId });
  });
});

describe('deliverDue({ only })', () => {
  it('attempts only the published messages named, with the callbacks they cause; one published during the call waits for the next', async () => {
    const q = await double();
    const handler = await server();
    let publishedMeanwhile: Promise<{ messageId: string }> | undefined;
    // The callback's receiver publishes a message as it answers, as a mesh's callback does.
    const mesh = await server(() => {
      publishedMeanwhile ??= client(q).publishJSON({ url: `${handler.url}/next`, body: {} });
      return { status: 200 };
    });
    const first = await client(q).publishJSON({
      url: `${handler.url}/first`,
      body: {},
      callback: `${mesh.url}/cb`,
    });
    const other = await client(q).publishJSON({ url: `${handler.url}/other`, body: {} });
    const known = new Set([first.messageId]);

    expect(await q.deliverDue({ only: (m) => known.has(m.id) })).toBe(2);
    const next = await publishedMeanwhile!;
    expect(handler.requests.map((r) => r.path)).toEqual(['/first']);
    expect(mesh.requests).toHaveLength(1);
    expect(q.message(first.messageId)?.state).toBe('delivered');
    expect(q.message(other.messageId)?.state).toBe('pending');
    expect(q.message(next.messageId)?.state).toBe('pending');

    expect(await q.deliverDue()).toBe(2);
    expect(handler.requests.map((r) => r.path).sort()).toEqual(['/first', '/next', '/other']);
  });
});
