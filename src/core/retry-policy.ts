/**
 * How long to wait before the next retry — QStash's rules, so local and production schedules agree.
 * Pure: the caller supplies `now` and the handler's `Retry-After`; nothing here reads a clock.
 */
import type { DelayExpression } from './retry-delay-expression.ts';
import { evaluateDelayExpression } from './retry-delay-expression.ts';

/** One day: QStash never waits longer between attempts, whatever the policy or `Retry-After` says. */
export const MAX_DELAY_MS = 86_400_000;

/**
 * QStash's default backoff: the delay before retry n = retried + 1 is `min(86400, e^(2.5·n))`
 * seconds, in whole milliseconds.
 * @example defaultRetryDelayMs(0) // 12_182 (≈ 12 s before the first retry)
 */
export function defaultRetryDelayMs(retried: number): number {
  const n = retried + 1;
  return clampDelayMs(Math.min(86_400, Math.exp(2.5 * n)) * 1000);
}

// RFC 9110 IMF-fixdate only. The obsolete forms are left out on purpose: asctime carries no zone
// and `Date.parse` would read it as local time, and nothing current sends RFC 850 dates.
const HTTP_DATE =
  /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-3]\d (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} [0-2]\d:[0-5]\d:[0-6]\d GMT$/;
// QStash's duration form (`6m5s`, `1d10h30m`): each unit at most once, largest first.
const DURATION = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;
const DURATION_UNITS_MS = [86_400_000, 3_600_000, 60_000, 1000, 1] as const;

/**
 * Reads a handler's `Retry-After` as a delay in ms: delta-seconds (`120`), an HTTP-date, or
 * QStash's duration (`6m5s`, `1h`, `1d10h30m`, `500ms`). A past date or negative number is 0; the
 * result is capped at one day; anything unreadable is null (the policy then decides).
 * @example parseRetryAfter('6m5s', Date.now()) // 365_000
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | null {
  if (value === null || value === undefined) return null;
  const text = value.trim();
  if (/^-?\d+$/.test(text)) return clampDelayMs(Number(text) * 1000);
  if (HTTP_DATE.test(text)) {
    const at = Date.parse(text);
    return Number.isNaN(at) ? null : clampDelayMs(at - nowMs);
  }
  const duration = DURATION.exec(text);
  // The pattern matches the empty string too: an empty header is absent, not "retry now".
  if (duration === null || text === '') return null;
  let ms = 0;
  for (const [i, unitMs] of DURATION_UNITS_MS.entries()) {
    const amount = duration[i + 1];
    if (amount !== undefined) ms += Number(amount) * unitMs;
  }
  return clampDelayMs(ms);
}

/**
 * The delay before the next attempt, `retried` being the retries already made (0 after the first
 * attempt fails). `Retry-After` wins, then the subscription's expression, then QStash's default;
 * the result is whole milliseconds from 0 to `MAX_DELAY_MS`.
 * @example nextRetryDelayMs({ retried: 0, retryDelay: null, retryAfterMs: null }) // 12_182
 */
export function nextRetryDelayMs(input: {
  retried: number;
  retryDelay: DelayExpression | null;
  retryAfterMs: number | null;
}): number {
  if (input.retryAfterMs !== null) return clampDelayMs(input.retryAfterMs);
  if (input.retryDelay !== null)
    return clampDelayMs(evaluateDelayExpression(input.retryDelay, input.retried));
  return defaultRetryDelayMs(input.retried);
}

function clampDelayMs(ms: number): number {
  // `!(ms > 0)` also catches NaN, so a broken input can never schedule in the past.
  if (!(ms > 0)) return 0;
  return Math.min(Math.round(ms), MAX_DELAY_MS);
}
