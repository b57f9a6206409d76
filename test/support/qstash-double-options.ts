/**
 * How the QStash double reads a publish: the `Upstash-*` headers of `POST /v2/publish/<url>` (or of
 * one `/v2/batch` entry) turned into delivery options, with QStash's defaults and QStash's refusals.
 * Kept apart from the server so the rules can be read in one place.
 */
import { createHash } from 'node:crypto';
import { type DelayExpression, parseDelayExpression } from '../../src/core/retry-delay-expression.ts';

/** What QStash does when `Upstash-Retries` is absent: the plan's maximum; 3 on the free plan. */
export const DEFAULT_RETRIES = 3;
/** Retries above the plan's cap are refused (historically Free 3, Pay-as-you-go 5, Pro 20). */
export const DEFAULT_MAX_RETRIES = 20;
/**
 * Per-attempt limit when `Upstash-Timeout` is absent. Real QStash allows minutes to hours by plan;
 * a double that waited that long would only hang tests, so it gives up sooner.
 */
export const DEFAULT_ATTEMPT_TIMEOUT_MS = 10_000;
/** The free plan's message size. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;

export interface RetrySettings {
  /** Retries after the first attempt: at most `retries + 1` attempts. */
  readonly retries: number;
  /** `Upstash-Retry-Delay` as sent, and parsed; null = QStash's default backoff. */
  readonly retryDelay: { readonly source: string; readonly expression: DelayExpression } | null;
  readonly timeoutMs: number;
}

/** Where and how one of the two callbacks is published, read from `Upstash-[Failure-]Callback-*`. */
export interface CallbackSettings extends RetrySettings {
  readonly url: string;
  readonly method: string;
  /** Delay before the callback's first attempt. */
  readonly delayMs: number;
  /** `Upstash-[Failure-]Callback-Forward-<name>` headers, sent to the callback as `<name>`. */
  readonly forwardHeaders: Readonly<Record<string, string>>;
}

export interface PublishSettings extends RetrySettings {
  readonly method: string;
  /** Absolute due time of the first attempt, ms since the epoch. */
  readonly notBefore: number;
  /** `Upstash-Deduplication-Id`, or the content-based id; null = never deduplicated. */
  readonly dedupId: string | null;
  readonly callback: CallbackSettings | null;
  readonly failureCallback: CallbackSettings | null;
  /** What the destination receives besides QStash's own headers: the original `content-type`
   * and every `Upstash-Forward-<name>` as `<name>` (lower-case). */
  readonly forwardHeaders: Readonly<Record<string, string>>;
}

export interface ReadSettingsInput {
  destination: string;
  headers: Headers;
  body: Uint8Array;
  nowMs: number;
  defaultRetries: number;
  maxRetries: number;
  defaultTimeoutMs: number;
}

export type ReadSettingsResult = { ok: true; settings: PublishSettings } | { ok: false; error: string };

// QStash's duration: `50s`, `3m`, `10h`, `1d`, or combined largest first (`1d10h30m`).
const DURATION = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;
const DURATION_UNITS_MS = [86_400_000, 3_600_000, 60_000, 1000] as const;
const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']);
const FORWARD_PREFIX = 'upstash-forward-';

/**
 * Reads a message's delivery settings from its publish headers; an unreadable header is refused
 * with QStash-style error text (answered 400) rather than silently defaulted, so a transport that
 * sends a malformed header finds out in tests.
 * @example readPublishSettings({ destination, headers: new Headers(req.headers), body, nowMs: clock.now(), ... })
 */
export function readPublishSettings(input: ReadSettingsInput): ReadSettingsResult {
  const { headers } = input;
  try {
    const method = readMethod(headers.get('upstash-method'), 'upstash-method');
    const retries = readRetries(headers.get('upstash-retries'), 'upstash-retries', input);
    const retryDelay = readRetryDelay(headers.get('upstash-retry-delay'), 'upstash-retry-delay');
    const timeoutMs = readTimeout(headers.get('upstash-timeout'), 'upstash-timeout', input.defaultTimeoutMs);
    const notBefore = readNotBefore(headers, input.nowMs);
    const forwardHeaders = readForwardHeaders(headers, FORWARD_PREFIX);
    const contentType = headers.get('content-type');
    if (contentType !== null) forwardHeaders['content-type'] = contentType;
    const inherited: RetrySettings = { retries, retryDelay, timeoutMs };
    const callback = readCallback(headers, 'upstash-callback', inherited, input);
    const failureCallback = readCallback(headers, 'upstash-failure-callback', inherited, input);
    let dedupId = headers.get('upstash-deduplication-id');
    if (dedupId === '') throw new SettingsError('upstash-deduplication-id must not be empty');
    if (dedupId === null && headers.get('upstash-content-based-deduplication') === 'true') {
      dedupId = contentDedupId(input.destination, input.body, forwardHeaders);
    }
    return {
      ok: true,
      settings: {
        method,
        retries,
        retryDelay,
        timeoutMs,
        notBefore,
        dedupId,
        callback,
        failureCallback,
        forwardHeaders,
      },
    };
  } catch (error) {
    if (error instanceof SettingsError) return { ok: false, error: error.message };
    throw error;
  }
}

/**
 * A QStash destination must be an absolute http(s) URL (URL groups and `api/*` are not simulated).
 * @example isDestinationUrl('http://127.0.0.1:4000/hook') // true
 */
export function isDestinationUrl(destination: string): boolean {
  if (!/^https?:\/\//i.test(destination)) return false;
  try {
    new URL(destination);
    return true;
  } catch {
    return false;
  }
}

/**
 * Go's `http.Header` spelling (`ce-id` → `Ce-Id`): QStash is written in Go, so the header maps in a
 * callback body (`header`, `sourceHeader`) come out this way — a consumer that looks them up
 * case-sensitively in lower case would break against the real thing, and does here too.
 * @example toCanonicalHeaderName('upstash-nonretryable-error') // 'Upstash-Nonretryable-Error'
 */
export function toCanonicalHeaderName(name: string): string {
  return name
    .toLowerCase()
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('-');
}

/**
 * QStash's duration (`50s`, `2m`, `1d10h30m`) in ms; null when unreadable.
 * @example parseQStashDuration('1d10h30m') // 124_200_000
 */
export function parseQStashDuration(value: string): number | null {
  const match = DURATION.exec(value.trim());
  if (match === null || value.trim() === '') return null;
  let ms = 0;
  for (const [i, unitMs] of DURATION_UNITS_MS.entries()) {
    const amount = match[i + 1];
    if (amount !== undefined) ms += Number(amount) * unitMs;
  }
  return ms;
}

class SettingsError extends Error {}

function readMethod(value: string | null, name: string): string {
  if (value === null) return 'POST';
  const method = value.toUpperCase();
  if (!METHODS.has(method)) throw new SettingsError(`invalid ${name} header: ${value}`);
  return method;
}

function readRetries(
  value: string | null,
  name: string,
  limits: { defaultRetries: number; maxRetries: number },
): number {
  if (value === null) return limits.defaultRetries;
  if (!/^\d+$/.test(value.trim())) throw new SettingsError(`invalid ${name} header: ${value}`);
  const retries = Number(value.trim());
  if (retries > limits.maxRetries) {
    throw new SettingsError(`${name} header ${retries} exceeds the plan's maximum of ${limits.maxRetries}`);
  }
  return retries;
}

function readRetryDelay(value: string | null, name: string): RetrySettings['retryDelay'] {
  if (value === null) return null;
  const parsed = parseDelayExpression(value);
  if (!parsed.ok) throw new SettingsError(`invalid ${name} header: ${parsed.error}`);
  return { source: value, expression: parsed.expression };
}

function readTimeout(value: string | null, name: string, fallbackMs: number): number {
  if (value === null) return fallbackMs;
  const ms = parseQStashDuration(value);
  if (ms === null || ms === 0) throw new SettingsError(`invalid ${name} header: ${value}`);
  return ms;
}

function readDelay(value: string | null, name: string): number {
  if (value === null) return 0;
  const ms = parseQStashDuration(value);
  if (ms === null) throw new SettingsError(`invalid ${name} header: ${value}`);
  return ms;
}

/** `Upstash-Not-Before` (unix seconds) wins over `Upstash-Delay`, as documented. */
function readNotBefore(headers: Headers, nowMs: number): number {
  const notBefore = headers.get('upstash-not-before');
  if (notBefore !== null) {
    if (!/^\d+$/.test(notBefore.trim()))
      throw new SettingsError(`invalid upstash-not-before header: ${notBefore}`);
    return Number(notBefore.trim()) * 1000;
  }
  return nowMs + readDelay(headers.get('upstash-delay'), 'upstash-delay');
}

function readForwardHeaders(headers: Headers, prefix: string): Record<string, string> {
  const forwarded: Record<string, string> = {};
  for (const [name, value] of headers) {
    if (name.startsWith(prefix) && name.length > prefix.length) forwarded[name.slice(prefix.length)] = value;
  }
  return forwarded;
}

/**
 * `Upstash-Callback: <url>` plus its `Upstash-Callback-*` options; unset options follow the
 * original message ("callbacks use the retry setting from the original request").
 */
function readCallback(
  headers: Headers,
  prefix: 'upstash-callback' | 'upstash-failure-callback',
  inherited: RetrySettings,
  input: ReadSettingsInput,
): CallbackSettings | null {
  const url = headers.get(prefix);
  if (url === null) return null;
  if (!isDestinationUrl(url))
    throw new SettingsError(`invalid ${prefix} header: ${url} is not an http(s) URL`);
  const retries = headers.get(`${prefix}-retries`);
  const retryDelay = headers.get(`${prefix}-retry-delay`);
  const timeout = headers.get(`${prefix}-timeout`);
  return {
    url,
    method: readMethod(headers.get(`${prefix}-method`), `${prefix}-method`),
    retries: retries === null ? inherited.retries : readRetries(retries, `${prefix}-retries`, input),
    retryDelay:
      retryDelay === null ? inherited.retryDelay : readRetryDelay(retryDelay, `${prefix}-retry-delay`),
    timeoutMs: timeout === null ? inherited.timeoutMs : readTimeout(timeout, `${prefix}-timeout`, 0),
    delayMs: readDelay(headers.get(`${prefix}-delay`), `${prefix}-delay`),
    forwardHeaders: readForwardHeaders(headers, `${prefix}-forward-`),
  };
}

/** Documented inputs: destination, body, and the content type plus the forwarded headers. */
function contentDedupId(destination: string, body: Uint8Array, forwarded: Record<string, string>): string {
  const hash = createHash('sha256').update(destination).update('\n').update(body).update('\n');
  for (const name of Object.keys(forwarded).sort()) hash.update(`${name}:${forwarded[name]}\n`);
  return `content:${hash.digest('hex')}`;
}
