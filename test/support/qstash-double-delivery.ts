/**
 * One delivery attempt by the QStash double, and QStash's reading of it: what goes on the wire to
 * the destination, how the answer decides delivered / retry / failed, how long the next retry
 * waits, and the JSON body a callback carries. The backoff and `Retry-After` rules are written
 * out here rather than imported from src/core, so the double checks core's policy instead of
 * echoing it; only the `retry-delay` expression parser is shared.
 */
import { type DelayExpression, evaluateDelayExpression } from '../../src/core/retry-delay-expression.ts';
import { signQStashJwt } from '../../src/core/signature.ts';
import { toCanonicalHeaderName } from './qstash-double-options.ts';

/** QStash never waits longer than a day between attempts. */
export const MAX_RETRY_DELAY_MS = 86_400_000;

export interface QStashDoubleAttempt {
  /** Clock time the attempt was made. */
  readonly at: number;
  /** The `Upstash-Retried` sent: retries made before this attempt (0 on the first). */
  readonly retried: number;
  /** The destination's HTTP status; null after a timeout or a network error. */
  readonly status: number | null;
  /** `'timeout'`, or the network error's message; null when an answer came. */
  readonly error: string | null;
  /** The answer's headers, lower-case names, values as arrays. */
  readonly responseHeaders: Readonly<Record<string, readonly string[]>>;
  /** The answer's body as UTF-8 text, and byte for byte (what a callback's `body` carries). */
  readonly responseBody: string;
  readonly responseBodyBase64: string;
  /** The answer carried `Upstash-NonRetryable-Error: true`. */
  readonly nonRetryable: boolean;
  /** The `Upstash-Signature` token sent with this attempt. */
  readonly signature: string;
}

export interface AttemptTarget {
  readonly id: string;
  readonly destination: string;
  readonly method: string;
  readonly forwardHeaders: Readonly<Record<string, string>>;
  readonly bodyBytes: Uint8Array;
  readonly timeoutMs: number;
  readonly callerIp: string;
}

export interface AttemptDeps {
  readonly fetch: typeof fetch;
  readonly signingKey: string;
  readonly nowMs: number;
}

/**
 * Sends one attempt: the body unchanged, the forwarded headers, and QStash's own headers with a
 * token minted for this attempt. Never throws for the destination's sake: a timeout or a refused
 * connection is an attempt with `status: null`.
 * @example const attempt = await sendAttempt(message, message.retried, { fetch, signingKey, nowMs: clock.now() });
 */
export async function sendAttempt(
  target: AttemptTarget,
  retried: number,
  deps: AttemptDeps,
): Promise<QStashDoubleAttempt> {
  const signature = await signQStashJwt({
    key: deps.signingKey,
    url: target.destination,
    body: target.bodyBytes,
    nowMs: deps.nowMs,
  });
  const headers = new Headers(target.forwardHeaders);
  headers.set('Upstash-Signature', signature);
  headers.set('Upstash-Message-Id', target.id);
  headers.set('Upstash-Retried', String(retried));
  headers.set('Upstash-Caller-Ip', target.callerIp);
  headers.set('User-Agent', 'Upstash-QStash');
  const hasBody = target.method !== 'GET' && target.method !== 'HEAD';
  const base = { at: deps.nowMs, retried, signature };
  try {
    const response = await deps.fetch(target.destination, {
      method: target.method,
      headers,
      // Bytes, not a string: fetch would otherwise add `text/plain` when no content-type was sent.
      ...(hasBody ? { body: new Uint8Array(target.bodyBytes) } : {}),
      // Redirects are an answer like any other non-2xx; QStash's behaviour here is undocumented.
      redirect: 'manual',
      signal: AbortSignal.timeout(target.timeoutMs),
    });
    const bytes = Buffer.from(await response.arrayBuffer());
    return {
      ...base,
      status: response.status,
      error: null,
      responseHeaders: toHeaderArrays(response.headers),
      responseBody: bytes.toString('utf8'),
      responseBodyBase64: bytes.toString('base64'),
      nonRetryable: response.headers.get('upstash-nonretryable-error')?.toLowerCase() === 'true',
    };
  } catch (error) {
    const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
    return {
      ...base,
      status: null,
      error: timedOut ? 'timeout' : describeError(error),
      responseHeaders: {},
      responseBody: '',
      responseBodyBase64: '',
      nonRetryable: false,
    };
  }
}

export type AttemptVerdict =
  | { readonly state: 'delivered' }
  | { readonly state: 'failed'; readonly reason: 'non_retryable' | 'retries_exhausted' }
  | { readonly state: 'retry'; readonly delayMs: number };

/**
 * QStash's reading of an attempt: 2xx delivered; 489 + `Upstash-NonRetryable-Error: true` failed at
 * once; otherwise retried until `retries` retries were made, after `Retry-After` if the answer had
 * one, else the message's `retry-delay` expression, else `min(86400, e^(2.5·n))` s.
 * @example judgeAttempt(attempt, { retries: 3, retryDelay: null, nowMs }) // { state: 'retry', delayMs: 12_182 }
 */
export function judgeAttempt(
  attempt: QStashDoubleAttempt,
  message: { retries: number; retryDelay: DelayExpression | null; nowMs: number },
): AttemptVerdict {
  const { status } = attempt;
  if (status !== null && status >= 200 && status < 300) return { state: 'delivered' };
  if (status === 489 && attempt.nonRetryable) return { state: 'failed', reason: 'non_retryable' };
  if (attempt.retried >= message.retries) return { state: 'failed', reason: 'retries_exhausted' };
  const retryAfter = readRetryAfter(attempt.responseHeaders['retry-after']?.[0], message.nowMs);
  const delayMs =
    retryAfter ??
    (message.retryDelay === null
      ? Math.min(86_400, Math.exp(2.5 * (attempt.retried + 1))) * 1000
      : evaluateDelayExpression(message.retryDelay, attempt.retried));
  return { state: 'retry', delayMs: capDelay(delayMs) };
}

/**
 * `Retry-After` as QStash reads it: delta-seconds, an HTTP date, or its own duration (`6m5s`).
 * @example readRetryAfter('6m5s', 0) // 365_000
 */
export function readRetryAfter(value: string | undefined, nowMs: number): number | null {
  if (value === undefined) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const duration = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
  if (duration !== null && text !== '') {
    const [, d = '0', h = '0', m = '0', s = '0'] = duration;
    return ((Number(d) * 24 + Number(h)) * 60 + Number(m)) * 60_000 + Number(s) * 1000;
  }
  const date = Date.parse(text);
  return /GMT$/.test(text) && !Number.isNaN(date) ? Math.max(0, date - nowMs) : null;
}

/** The message a callback reports on, as the callback body describes it. */
export interface CallbackSource {
  readonly id: string;
  readonly destination: string;
  readonly method: string;
  readonly forwardHeaders: Readonly<Record<string, string>>;
  readonly bodyBytes: Uint8Array;
  readonly retries: number;
  readonly createdAt: number;
  readonly notBefore: number;
  readonly callerIp: string;
}

/** The JSON QStash posts to `Upstash-Callback` / `Upstash-Failure-Callback` (documented shape). */
export interface QStashCallbackBody {
  status: number;
  header: Record<string, string[]>;
  body: string;
  retried: number;
  maxRetries: number;
  dlqId?: string;
  sourceMessageId: string;
  topicName: string;
  endpointName: string;
  url: string;
  method: string;
  sourceHeader: Record<string, string[]>;
  sourceBody: string;
  notBefore: number;
  createdAt: number;
  scheduleId: string;
  callerIP: string;
}

/**
 * Builds a callback body from the attempt it reports. Header maps use Go's canonical names (see
 * `toCanonicalHeaderName`); `sourceHeader` holds the headers the destination was sent on the
 * message's behalf (content type and forwarded headers). A timeout or network error has no
 * answer: it reports `status: 0` with no headers and an empty body (QStash does not document it).
 * @example toCallbackBody(message, attempt, { dlqId: '1700000000000-0' })
 */
export function toCallbackBody(
  source: CallbackSource,
  attempt: QStashDoubleAttempt,
  extra: { dlqId?: string } = {},
): QStashCallbackBody {
  const header: Record<string, string[]> = {};
  for (const [name, values] of Object.entries(attempt.responseHeaders)) {
    header[toCanonicalHeaderName(name)] = [...values];
  }
  const sourceHeader: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(source.forwardHeaders)) {
    sourceHeader[toCanonicalHeaderName(name)] = [value];
  }
  return {
    status: attempt.status ?? 0,
    header,
    body: attempt.responseBodyBase64,
    retried: attempt.retried,
    maxRetries: source.retries,
    ...(extra.dlqId === undefined ? {} : { dlqId: extra.dlqId }),
    sourceMessageId: source.id,
    topicName: '',
    endpointName: '',
    url: source.destination,
    method: source.method,
    sourceHeader,
    sourceBody: Buffer.from(source.bodyBytes).toString('base64'),
    notBefore: source.notBefore,
    createdAt: source.createdAt,
    scheduleId: '',
    callerIP: source.callerIp,
  };
}

function capDelay(ms: number): number {
  if (!(ms > 0)) return 0;
  return Math.min(Math.round(ms), MAX_RETRY_DELAY_MS);
}

function toHeaderArrays(headers: Headers): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, value] of headers) {
    if (name !== 'set-cookie') out[name] = [value];
  }
  const cookies = headers.getSetCookie();
  if (cookies.length > 0) out['set-cookie'] = cookies;
  return out;
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as Error & { cause?: unknown }).cause;
  return cause instanceof Error ? `${error.message}: ${cause.message}` : error.message;
}
