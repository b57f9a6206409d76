/**
 * A publishing transport's callback (QStash) read into a delivery's next state — by the rules a
 * local attempt follows (`decideAttemptOutcome`), here in core, so both transports move
 * deliveries alike and the store only applies what was decided.
 */
import { type AttemptOutcome, decideAttemptOutcome } from './delivery-state.ts';
import type {
  CallbackOutcome,
  CallbackTransition,
  OrderingKeyScope,
  PublishedDelivery,
  PublishQueue,
} from './publish-queue.ts';
import { parseDelayExpression } from './retry-delay-expression.ts';

/** One attempt's outcome as a transport's callback reports it (QStash callback / failure callback). */
export interface CallbackReport {
  /** The message the callback is about (QStash `sourceMessageId`). */
  readonly messageId: string;
  /** The destination's HTTP status; null when no answer came (timeout, network error). */
  readonly status: number | null;
  /** Retries made before the reported attempt: 0 for the first. */
  readonly retried: number;
  /** Retries the transport allows the message. */
  readonly maxRetries: number;
  /** The answer carried `Upstash-NonRetryable-Error: true`. */
  readonly nonRetryable: boolean;
  /** The transport gave up on the message (failure callback): dead whatever the status says. */
  readonly failure: boolean;
  /** When the callback arrived: QStash does not say when the attempt itself was made. */
  readonly at: number;
  /** QStash does not report it; 0 when absent. */
  readonly durationMs?: number;
  readonly error: string | null;
  readonly responseExcerpt: string | null;
  /** The destination's `Retry-After`, read; used only to show when the next attempt is due. */
  readonly retryAfterMs?: number | null;
}

/**
 * The state a callback reports: a failure callback is dead whatever the status; otherwise the
 * attempt is read as a local one is.
 * @example decideCallbackOutcome({ status: 500, failure: true, … }, null) // { status: 'dead', reason: 'retries_exhausted' }
 */
export function decideCallbackOutcome(report: CallbackReport, retryDelay: string | null): AttemptOutcome {
  if (report.failure) return { status: 'dead', reason: 'retries_exhausted' };
  const parsed = retryDelay === null ? null : parseDelayExpression(retryDelay);
  return decideAttemptOutcome({
    status: report.status,
    nonRetryable: report.nonRetryable,
    retried: report.retried,
    maxRetries: report.maxRetries,
    // Validated when the subscription was made; a bad one falls back to the default back-off.
    retryDelay: parsed?.ok ? parsed.expression : null,
    retryAfterMs: report.retryAfterMs ?? null,
  });
}

/**
 * The attempt a callback reports, numbered after the delivery's earlier generations, with the
 * state it moves to. Pure: whether the store may still apply it (never backwards) is the store's
 * guard, checked atomically against the row.
 */
export function toCallbackTransition(
  report: CallbackReport,
  delivery: PublishedDelivery,
): CallbackTransition {
  const outcome = decideCallbackOutcome(report, delivery.retryDelay);
  return {
    deliveryId: delivery.id,
    messageId: delivery.messageId,
    number: delivery.earlierAttempts + report.retried + 1,
    at: report.at,
    status: report.status,
    durationMs: report.durationMs ?? 0,
    error: report.error,
    responseExcerpt: report.responseExcerpt,
    next: outcome.status,
    nextAttemptAt: outcome.status === 'retrying' ? report.at + outcome.delayMs : report.at,
    retried: report.retried + 1,
  };
}

/** What recording a callback did, and what it let go. */
export interface RecordedCallback {
  readonly outcome: CallbackOutcome;
  /**
   * The (subscription, ordering key) whose next delivery may be published now: this callback was
   * recorded and reports its keyed delivery delivered or dead. Null otherwise (no key, a retry, a
   * repeat, an unknown message).
   */
  readonly released: OrderingKeyScope | null;
}

/**
 * Records what a callback reports: finds its delivery, decides, and has the queue apply it.
 * @example const { outcome, released } = await recordCallback(queue, report);
 */
export async function recordCallback(queue: PublishQueue, report: CallbackReport): Promise<RecordedCallback> {
  const delivery = await queue.findPublished(report.messageId);
  if (delivery === null) return { outcome: 'unknown', released: null };
  const transition = toCallbackTransition(report, delivery);
  const outcome = await queue.applyCallback(transition);
  // A report of `delivered` or `dead` applied to a delivery that was settled already (never
  // backwards) releases nothing new; a publish pass then simply finds nothing to take.
  const settles = transition.next === 'delivered' || transition.next === 'dead';
  const released =
    outcome === 'applied' && settles && delivery.orderingKey !== null
      ? { subscriptionId: delivery.subscriptionId, orderingKey: delivery.orderingKey }
      : null;
  return { outcome, released };
}

/**
 * `recordCallback`'s outcome alone.
 * @example const outcome = await settleCallback(queue, report); // 'applied' | 'duplicate' | 'unknown'
 */
export async function settleCallback(queue: PublishQueue, report: CallbackReport): Promise<CallbackOutcome> {
  return (await recordCallback(queue, report)).outcome;
}
