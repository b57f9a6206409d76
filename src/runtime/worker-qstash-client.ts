import type { QStashMessageReader } from '../transports/qstash-reconciler.ts';
import type { QStashBatchMessage, QStashPublisher } from '../transports/qstash-transport.ts';

/** Upstash's QStash API, unless `QSTASH_URL` names another (a region, a double). */
const DEFAULT_BASE_URL = 'https://qstash.upstash.io';

/**
 * The two QStash calls a Worker makes, `POST /v2/batch` and `GET /v2/messages/:id`, as
 * `@upstash/qstash`'s `Client` (2.12, `retry: false`) makes them: the same URL, headers and body —
 * header names lower-cased as its `Headers` leaves them, the message's own headers forwarded as
 * `upstash-forward-*` except `content-type` and `upstash-*` — and its errors' `status` (an error
 * with a status is QStash's answer; one without, no answer or a message that cannot be encoded). Without
 * its telemetry headers, dev-server loader and the rest of the SDK, which are a third of a Worker
 * bundle's budget. test/runtime/worker-qstash-client.test.ts holds it to the SDK byte for byte.
 * @example const client = createWorkerQStashClient({ token, baseUrl: env.QSTASH_URL });
 */
export function createWorkerQStashClient(options: {
  readonly token: string;
  readonly baseUrl?: string | undefined;
}): QStashPublisher & QStashMessageReader {
  const baseUrl = (options.baseUrl ?? DEFAULT_BASE_URL).replace(/\/$/, '');
  const authorization = `Bearer ${options.token}`;

  const request = async (path: string, init: { method: string; body?: string }): Promise<unknown> => {
    const headers = new Headers(init.body === undefined ? {} : { 'Content-Type': 'application/json' });
    headers.set('Authorization', authorization);
    const response = await fetch(`${baseUrl}${path}`, {
      method: init.method,
      headers,
      ...(init.body === undefined ? {} : { body: init.body }),
    });
    if (response.status < 200 || response.status >= 300) {
      const text = await response.text();
      // The SDK's QstashError: its text, and the status the transport and the reconciler decide on.
      const error = new Error(text.length > 0 ? text : `Error: status=${response.status}`);
      throw Object.assign(error, { name: 'QstashError', status: response.status });
    }
    return response.json();
  };

  return {
    async batch(messages) {
      // Built before anything is sent: a header value `Headers` refuses throws here, with no status.
      const body = JSON.stringify(
        messages.map((m) => ({ destination: m.url, headers: toQStashHeaders(m), body: m.body })),
      );
      const answer = await request('/v2/batch', { method: 'POST', body });
      return Array.isArray(answer) ? answer : [answer];
    },
    messages: {
      get: (messageId) => request(`/v2/messages/${messageId}`, { method: 'GET' }),
    },
  };
}

function toQStashHeaders(message: QStashBatchMessage): Record<string, string> {
  const headers = new Headers();
  for (const [name, value] of Object.entries(message.headers)) {
    const lower = name.toLowerCase();
    const kept = lower.startsWith('content-type') || lower.startsWith('upstash-');
    headers.set(kept ? name : `Upstash-Forward-${name}`, value);
  }
  headers.set('Upstash-Method', message.method);
  headers.set('Upstash-Deduplication-Id', message.deduplicationId);
  headers.set('Upstash-Retries', message.retries.toFixed(0));
  if (message.retryDelay !== undefined) headers.set('Upstash-Retry-Delay', message.retryDelay);
  headers.set('Upstash-Callback', message.callback);
  headers.set('Upstash-Failure-Callback', message.failureCallback);
  return Object.fromEntries(headers.entries());
}
