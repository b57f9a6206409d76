import { MeshApiError, MeshUnavailableError, type ProblemDetails } from '../core/errors.ts';
import { parseRetryAfter } from '../core/retry-policy.ts';

/** The `fetch` the client calls; the global one by default, any `fetch`-shaped function in tests. */
export type MeshFetch = (input: string, init: RequestInit) => Response | Promise<Response>;

/** How hard the client tries, and the seams tests replace (time, randomness, the network). */
export interface RetrySettings {
  readonly fetch: MeshFetch;
  /** Retries after the first attempt. */
  readonly retries: number;
  /** One attempt's budget, answer body included. */
  readonly timeoutMs: number;
  /** The backoff's base: retry n waits a random time in [0, min(maxDelayMs, baseDelayMs · 2ⁿ)). */
  readonly baseDelayMs: number;
  /** No wait is longer, `Retry-After` included. */
  readonly maxDelayMs: number;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly random: () => number;
  readonly now: () => number;
}

export interface MeshRequest {
  readonly method: 'GET' | 'POST';
  readonly url: string;
  readonly headers: Headers;
  /** Serialised once: every retry sends the same bytes, so a replay is recognised as one. */
  readonly body?: string;
  readonly signal?: AbortSignal | undefined;
}

/** A 2xx answer with its JSON body. */
export interface MeshAnswer {
  readonly status: number;
  readonly body: unknown;
}

// 429 and the 5xx that mean "not now"; 501 or 505 would answer the same again.
const RETRYABLE_STATUSES = new Set([429, 500, 502, 503, 504]);
const DETAIL_EXCERPT_CHARS = 500;

type Outcome =
  | { readonly kind: 'answer'; readonly answer: MeshAnswer }
  | { readonly kind: 'refused'; readonly problem: ProblemDetails; readonly retryAfter: string | null }
  | { readonly kind: 'lost'; readonly error: unknown };

/**
 * Sends a request until the mesh answers it, retrying 429, 500/502/503/504, network errors and
 * timeouts with capped, fully jittered exponential backoff (`Retry-After` wins when given). The
 * caller's `signal` ends everything at once and is never retried. Throws `MeshApiError` for a
 * refusal, `MeshUnavailableError` when no attempt got an answer.
 * @example const { status, body } = await sendWithRetries({ method: 'GET', url, headers }, settings);
 */
export async function sendWithRetries(request: MeshRequest, settings: RetrySettings): Promise<MeshAnswer> {
  for (let retried = 0; ; retried++) {
    request.signal?.throwIfAborted();
    const outcome = await attemptOnce(request, settings);
    if (outcome.kind === 'answer') return outcome.answer;
    const retryable = outcome.kind === 'lost' || RETRYABLE_STATUSES.has(outcome.problem.status);
    if (!retryable || retried >= settings.retries) {
      if (outcome.kind === 'refused') throw new MeshApiError(outcome.problem);
      throw new MeshUnavailableError(
        `${request.method} ${request.url} got no answer in ${retried + 1} attempt(s)`,
        retried + 1,
        { cause: outcome.error },
      );
    }
    const retryAfterMs =
      outcome.kind === 'refused' ? parseRetryAfter(outcome.retryAfter, settings.now()) : null;
    const delayMs =
      retryAfterMs ??
      Math.floor(settings.random() * Math.min(settings.maxDelayMs, settings.baseDelayMs * 2 ** retried));
    await settings.sleep(Math.min(delayMs, settings.maxDelayMs), request.signal);
  }
}

/**
 * Waits `ms`, or rejects with the signal's reason as soon as it aborts.
 * @example await sleepFor(250, signal);
 */
export function sleepFor(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

async function attemptOnce(request: MeshRequest, settings: RetrySettings): Promise<Outcome> {
  const caller = request.signal;
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new DOMException(`no answer within ${settings.timeoutMs} ms`, 'TimeoutError'));
  }, settings.timeoutMs);
  const forward = () => controller.abort(caller?.reason);
  caller?.addEventListener('abort', forward, { once: true });
  // A `fetch` that ignores its signal must not outlive the timeout or the caller's abort either.
  const aborted = new Promise<never>((_, reject) => {
    controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
  });
  aborted.catch(() => {});
  try {
    let response: Response;
    let text: string;
    try {
      response = await Promise.race([
        settings.fetch(request.url, {
          method: request.method,
          headers: request.headers,
          signal: controller.signal,
          ...(request.body === undefined ? {} : { body: request.body }),
        }),
        aborted,
      ]);
      // A refusal's status already decides; its body only explains, so losing it changes nothing.
      text = response.ok
        ? await Promise.race([response.text(), aborted])
        : await Promise.race([response.text(), aborted]).catch(() => '');
    } catch (error) {
      if (caller?.aborted) throw caller.reason;
      if (timedOut) return { kind: 'lost', error: controller.signal.reason };
      // fetch reports every network failure (refused, reset, DNS, TLS) as a TypeError.
      if (error instanceof TypeError) return { kind: 'lost', error };
      throw error;
    }
    if (caller?.aborted) throw caller.reason;
    if (!response.ok) {
      return {
        kind: 'refused',
        problem: toProblem(response, text),
        retryAfter: response.headers.get('retry-after'),
      };
    }
    try {
      return { kind: 'answer', answer: { status: response.status, body: JSON.parse(text) } };
    } catch (error) {
      // A cut-off body is a lost answer: the retry replays the same request and reads it again.
      return { kind: 'lost', error };
    }
  } finally {
    clearTimeout(timer);
    caller?.removeEventListener('abort', forward);
  }
}

/** The answer's problem document; what is not one (a proxy's HTML page) becomes `about:blank`. */
function toProblem(response: Response, text: string): ProblemDetails {
  try {
    const parsed: unknown = JSON.parse(text);
    if (
      typeof parsed === 'object' &&
      parsed !== null &&
      typeof (parsed as { type?: unknown }).type === 'string' &&
      typeof (parsed as { title?: unknown }).title === 'string'
    ) {
      return { ...(parsed as ProblemDetails), status: response.status };
    }
  } catch {
    // Not JSON: described below.
  }
  const detail = text.trim().slice(0, DETAIL_EXCERPT_CHARS);
  return {
    type: 'about:blank',
    title: response.statusText || `HTTP ${response.status}`,
    status: response.status,
    ...(detail === '' ? {} : { detail }),
  };
}
