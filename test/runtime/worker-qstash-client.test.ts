import { Client } from '@upstash/qstash';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createWorkerQStashClient } from '../../src/runtime/worker-qstash-client.ts';
import type { QStashBatchMessage } from '../../src/transports/qstash-transport.ts';

// The Worker's own QStash client must send what `@upstash/qstash`'s `Client` sends (with
// `retry: false` and no telemetry) and fail the same way: both run here against one stubbed
// `fetch` and their requests are compared byte for byte.

const TOKEN = 'qstash-token-for-tests';
const BASE_URL = 'https://qstash.example.com/';

interface Sent {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | null;
}

function stubFetch(answer: () => Response): Sent[] {
  const sent: Sent[] = [];
  vi.stubGlobal('fetch', async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    sent.push({
      url: request.url,
      method: request.method,
      headers: Object.fromEntries(request.headers.entries()),
      body: request.body === null ? null : await request.text(),
    });
    return answer();
  });
  return sent;
}

const messages: QStashBatchMessage[] = [
  {
    url: 'https://billing.example.com/webhooks/order.created.v1',
    body: '{"orderId":"o-1","total":42.5}',
    headers: {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': 'ie-1',
      'ce-type': 'order.created.v1',
      'ce-source': '/producers/billing',
      'ce-time': '2026-12-02T12:00:00.000Z',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    },
    method: 'POST',
    retries: 10,
    deduplicationId: 'd-1-0',
    callback: 'https://mesh.example.com/v1/qstash/callback',
    failureCallback: 'https://mesh.example.com/v1/qstash/callback',
  },
  {
    url: 'https://crm.example.com/hooks',
    body: '{"orderId":"o-2"}',
    headers: { 'content-type': 'application/json', 'ce-id': 'ie-2', 'ce-type': 'order.created.v1' },
    method: 'POST',
    retries: 3,
    retryDelay: '1000 * (1 + retried)',
    deduplicationId: 'd-2-1',
    callback: 'https://mesh.example.com/v1/qstash/callback',
    failureCallback: 'https://mesh.example.com/v1/qstash/callback',
  },
];

const sdk = () => new Client({ token: TOKEN, baseUrl: BASE_URL, retry: false, enableTelemetry: false });
const ours = () => createWorkerQStashClient({ token: TOKEN, baseUrl: BASE_URL });

async function failure(promise: Promise<unknown>): Promise<{ status: unknown; message: string }> {
  try {
    await promise;
  } catch (error) {
    return { status: (error as { status?: unknown }).status, message: (error as Error).message };
  }
  throw new Error('expected a failure');
}

describe("the Worker's QStash client, against @upstash/qstash", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
  });

  it('publishes a batch with the same request and reads the same answer', async () => {
    const answer = [{ messageId: 'msg_1' }, { messageId: 'msg_2' }];
    const sent = stubFetch(() => Response.json(answer));
    const fromSdk = await sdk().batch(messages);
    const fromOurs = await ours().batch(messages);

    expect(sent).toHaveLength(2);
    expect(sent[1]).toEqual(sent[0]);
    expect(sent[0]!.url).toBe('https://qstash.example.com/v2/batch');
    expect(JSON.parse(sent[0]!.body!)[1].headers).toMatchObject({
      'upstash-forward-ce-id': 'ie-2',
      'upstash-retry-delay': '1000 * (1 + retried)',
      'content-type': 'application/json',
    });
    expect(fromOurs).toEqual(fromSdk);
  });

  it('asks about a message with the same request', async () => {
    const sent = stubFetch(() => Response.json({ messageId: 'msg_1', url: 'https://x.example.com' }));
    const fromSdk = await sdk().messages.get('msg_1');
    const fromOurs = await ours().messages.get('msg_1');
    expect(sent[1]).toEqual(sent[0]);
    expect(sent[0]).toMatchObject({ url: 'https://qstash.example.com/v2/messages/msg_1', method: 'GET' });
    expect(fromOurs).toEqual(fromSdk);
  });

  it('fails with the same status and text: a refusal, a missing message, a rate limit', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
    for (const [status, text] of [
      [400, '{"error":"invalid destination url"}'],
      [404, '{"error":"message not found"}'],
      [500, ''],
    ] as const) {
      stubFetch(() => new Response(text, { status }));
      const fromSdk = await failure(sdk().batch(messages));
      const fromOurs = await failure(ours().batch(messages));
      expect(fromOurs).toEqual(fromSdk);
      expect(await failure(ours().messages.get('msg_1'))).toEqual(await failure(sdk().messages.get('msg_1')));
    }
    stubFetch(() => new Response('slow down', { status: 429 }));
    expect((await failure(ours().batch(messages))).status).toBe(
      (await failure(sdk().batch(messages))).status,
    );
  });

  it('throws before sending, with no status, on a header value a request cannot carry', async () => {
    const sent = stubFetch(() => Response.json([]));
    const bad = [{ ...messages[0]!, headers: { ...messages[0]!.headers, 'ce-id': 'ie\n1' } }];
    const fromSdk = await failure(sdk().batch(bad));
    const fromOurs = await failure(ours().batch(bad));
    expect(fromSdk.status).toBeUndefined();
    expect(fromOurs.status).toBeUndefined();
    expect(sent).toHaveLength(0);
  });
});
