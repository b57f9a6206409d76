import { sleep } from './cluster.ts';
import { ADMIN_TOKEN, PRODUCER_TOKEN } from './fixture.ts';

// The producing side: POSTs domain events and remembers what the API acknowledged (2xx), retrying
// 429, 5xx and network errors with the same ids as `hookmesh/client` does (a retry is an
// idempotent replay).

export interface PostOutcome {
  readonly status: number | 'network' | 'timeout';
  readonly ms: number;
  /** Why a request got no answer (the network error's cause). */
  readonly error?: string;
}

/** One POST /v1/events, with a timeout; never throws. */
export async function postOnce(meshUrl: string, body: unknown, timeoutMs = 30_000): Promise<PostOutcome> {
  const started = performance.now();
  try {
    const res = await fetch(`${meshUrl}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${PRODUCER_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.arrayBuffer();
    return { status: res.status, ms: performance.now() - started };
  } catch (error) {
    const timedOut = (error as Error).name === 'TimeoutError';
    const cause = (error as Error & { cause?: { code?: string; message?: string } }).cause;
    return {
      status: timedOut ? 'timeout' : 'network',
      ms: performance.now() - started,
      error: cause?.code ?? cause?.message ?? (error as Error).message,
    };
  }
}

/** POSTs a batch until it is acknowledged (or `deadline`); true when it was. */
export async function postUntilAcked(
  meshUrl: string,
  events: readonly unknown[],
  deadline: number,
): Promise<boolean> {
  for (let delay = 100; Date.now() < deadline; delay = Math.min(delay * 2, 2000)) {
    const { status } = await postOnce(meshUrl, events.length === 1 ? events[0] : events);
    if (status === 200 || status === 202) return true;
    if (typeof status === 'number' && status >= 400 && status < 500 && status !== 429) {
      throw new Error(`POST /v1/events answered ${status}`);
    }
    await sleep(delay);
  }
  return false;
}

/** An admin request; answers status and parsed JSON body (or null). */
export async function adminRequest(
  meshUrl: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${meshUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json };
}
