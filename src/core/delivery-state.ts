/**
 * The delivery state machine and the reading of one attempt's outcome, shared by every transport
 * so the local dispatcher and QStash callbacks move deliveries the same way.
 */
import type { DelayExpression } from './retry-delay-expression.ts';
import { nextRetryDelayMs } from './retry-policy.ts';

export const DELIVERY_STATUSES = ['pending', 'in_flight', 'retrying', 'delivered', 'dead'] as const;

export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/**
 * Allowed moves, from → to. The local dispatcher leases (`in_flight`) before each attempt; the
 * QStash transport never holds a lease and learns outcomes from callbacks, so it moves straight
 * from `pending`/`retrying`, and sees `retrying` again for each further failed attempt.
 *
 * | from        | to                                                                              |
 * |-------------|---------------------------------------------------------------------------------|
 * | `pending`   | `in_flight` (leased), `delivered` / `retrying` / `dead` (QStash callback)        |
 * | `in_flight` | `delivered`, `retrying`, `dead` (attempt outcome); `pending`, `retrying`         |
 * |             | (lease released or expired: back to the due state it was leased from)            |
 * | `retrying`  | `in_flight` (leased), `delivered` / `retrying` / `dead` (QStash callback)        |
 * | `delivered` | — (terminal)                                                                     |
 * | `dead`      | `pending` (replay only; the caller makes sure it is one)                         |
 */
const TRANSITIONS: Readonly<Record<DeliveryStatus, readonly DeliveryStatus[]>> = Object.freeze({
  pending: ['in_flight', 'delivered', 'retrying', 'dead'],
  in_flight: ['delivered', 'retrying', 'dead', 'pending'],
  retrying: ['in_flight', 'delivered', 'retrying', 'dead'],
  delivered: [],
  dead: ['pending'],
});

/**
 * Whether a delivery may move from one status to another (see the table above).
 * @example canTransition('delivered', 'pending') // false: delivered is terminal
 */
export function canTransition(from: DeliveryStatus, to: DeliveryStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

export interface AttemptOutcomeInput {
  /** The handler's HTTP status; null for a network error or a timeout. */
  status: number | null;
  /** The response carried `Upstash-NonRetryable-Error: true`. */
  nonRetryable: boolean;
  /** Retries already made before this attempt: 0 for the first attempt. */
  retried: number;
  /** Retries allowed after the first attempt (total attempts = maxRetries + 1). */
  maxRetries: number;
  /** The subscription's parsed `retryDelay`; null = QStash's default backoff. */
  retryDelay: DelayExpression | null;
  /** The handler's `Retry-After`, already read by `parseRetryAfter`; null when absent. */
  retryAfterMs: number | null;
}

export type AttemptOutcome =
  | { status: 'delivered' }
  | { status: 'dead'; reason: 'non_retryable' | 'retries_exhausted' }
  | { status: 'retrying'; delayMs: number };

/**
 * Reads one attempt with QStash's semantics: 2xx is delivered; 489 with the non-retryable header
 * is dead at once; anything else retries until `maxRetries` retries have been made.
 * @example
 * decideAttemptOutcome({ status: 500, nonRetryable: false, retried: 0, maxRetries: 10, retryDelay: null, retryAfterMs: null })
 * // { status: 'retrying', delayMs: 12_182 }
 */
export function decideAttemptOutcome(input: AttemptOutcomeInput): AttemptOutcome {
  const { status } = input;
  if (status !== null && status >= 200 && status <= 299) return { status: 'delivered' };
  // The header alone is not enough: QStash honours it only on 489, so a 500 carrying it retries.
  if (status === 489 && input.nonRetryable) return { status: 'dead', reason: 'non_retryable' };
  if (input.retried >= input.maxRetries) return { status: 'dead', reason: 'retries_exhausted' };
  // `retried` still counts the retries made so far, so the first failure waits QStash's first delay.
  return {
    status: 'retrying',
    delayMs: nextRetryDelayMs({
      retried: input.retried,
      retryDelay: input.retryDelay,
      retryAfterMs: input.retryAfterMs,
    }),
  };
}
