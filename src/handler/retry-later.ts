/** How long the mesh should wait before the next attempt. */
export type RetryLaterAfter = { readonly seconds: number } | { readonly ms: number };

/** QStash caps every delay at one day; asking for more would only be cut down on the other side. */
const MAX_RETRY_AFTER_SEC = 86_400;

// A registered symbol, not `instanceof`: a service that ends up with two copies of hookmesh (a
// bundler, a monorepo) must still recognise the signal thrown by the other copy's context.
const RETRY_LATER = Symbol.for('hookmesh.retryLater');

/**
 * Thrown by `ctx.retryLater(...)`. Not a HookmeshError: nothing went wrong, the handler chose to
 * come back later. It extends Error only so that code between the handler and the app that logs
 * or rethrows what it catches keeps a stack and a message.
 */
export interface RetryLaterSignal extends Error {
  /** Whole seconds, rounded up, as sent in `Retry-After`. */
  readonly retryAfterSec: number;
}

/**
 * Builds the signal `ctx.retryLater` throws. A negative, NaN or infinite delay is a programming
 * error and throws a RangeError instead (which the app answers as a handler failure).
 * @example throw toRetryLaterSignal({ ms: 1500 }) // Retry-After: 2
 */
export function toRetryLaterSignal(after: RetryLaterAfter): RetryLaterSignal {
  const ms = 'ms' in after ? after.ms : after.seconds * 1000;
  if (!Number.isFinite(ms) || ms < 0) {
    throw new RangeError('retryLater needs a finite, non-negative delay');
  }
  const retryAfterSec = Math.min(Math.ceil(ms / 1000), MAX_RETRY_AFTER_SEC);
  const signal = new Error(`retry later (after ${retryAfterSec} s)`);
  signal.name = 'RetryLaterSignal';
  return Object.assign(signal, { [RETRY_LATER]: true as const, retryAfterSec });
}

/** @example if (isRetryLaterSignal(error)) return retryLater(error.retryAfterSec); */
export function isRetryLaterSignal(value: unknown): value is RetryLaterSignal {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as Record<symbol, unknown>)[RETRY_LATER] === true &&
    typeof (value as { retryAfterSec?: unknown }).retryAfterSec === 'number'
  );
}
