import type { Clock } from '../core/clock.ts';
import type { OverduePublished, PublishCheckRecord, PublishQueue } from '../core/publish-queue.ts';
import { withTimeout } from './with-timeout.ts';

/**
 * How long past a delivery's expected report QStash may stay silent before it is asked about the
 * message. A report is expected right after the publish (the first attempt) or at the next
 * attempt's due time (`next_attempt_at`, from the latest callback): QStash calls back after every
 * attempt, so silence past that is the sign. Asking is harmless; what the grace protects is the
 * answer 404 for a message QStash finished while its callback is still on its way — QStash retries
 * a callback the mesh did not take on the message's own schedule (12 s, 2 min 28 s, 30 min), so an
 * hour lets a callback route that was away for half an hour catch up without a republish.
 */
export const DEFAULT_RECONCILE_GRACE_MS = 60 * 60_000;
/**
 * Most deliveries one sweep asks QStash about: a bound on the sweep's time and requests. Under a
 * Free Workers plan's 50 subrequests per invocation it leaves room for the sweep's publishes.
 */
export const DEFAULT_RECONCILE_MAX_CHECKS = 40;
/** Questions to QStash in the air at once (a Worker opens at most 6 connections at a time). */
const CHECK_CONCURRENCY = 6;

/**
 * What the reconciler needs of `@upstash/qstash`'s `Client`: `messages.get`, i.e.
 * `GET /v2/messages/{messageId}` — the message while QStash is still delivering or retrying it,
 * an error with `status: 404` once it is delivered, failed or unknown.
 */
export interface QStashMessageReader {
  readonly messages: { get(messageId: string): Promise<unknown> };
}

export interface QStashReconcilerOptions {
  readonly queue: PublishQueue;
  /** `new Client({ token, baseUrl })` from `@upstash/qstash`, or anything with its `messages.get`. */
  readonly client: QStashMessageReader;
  readonly clock: Clock;
  /** Silence tolerated past the expected report before asking, and between two asks (default 1 h). */
  readonly graceMs?: number;
  /** Most deliveries asked about per `reconcile()` (default 40). */
  readonly maxChecks?: number;
  /** A question not answered in this long counts as unanswered (default 10 s). */
  readonly timeoutMs?: number;
  /** Each delivery whose message QStash no longer had: due for a new publish (the operator's note). */
  readonly onLost?: (lost: OverduePublished) => void;
  /** Questions QStash did not answer (down, refused, timed out); never given secrets. */
  readonly onError?: (error: unknown) => void;
}

export interface ReconcileResult {
  /** Overdue deliveries asked about. */
  readonly checked: number;
  /** Of those, still held by QStash (being delivered or retried): left alone until the next grace. */
  readonly held: number;
  /** Of those, unknown to QStash with no outcome heard: pending again under a new generation. */
  readonly lost: number;
  /** Of those, not answered (QStash away): asked again after the grace. */
  readonly unanswered: number;
}

export interface QStashReconciler {
  /**
   * Asks QStash about published deliveries it has been silent about, and has those it no longer
   * knows published again. Run it from the sweep, before `publishDue`, so they go in the same sweep.
   */
  reconcile(): Promise<ReconcileResult>;
}

/**
 * Heals deliveries whose QStash callbacks never arrived (a callback that exhausted its retries
 * while the mesh was away): left alone they would stay `in_flight` or `retrying` forever. A
 * delivery silent past its expected report plus the grace is asked about; QStash still holding the
 * message means it is still being delivered or retried — it is left alone and asked again a grace
 * later. A 404 means QStash finished with it (or never had it) and the outcome is lost: it is
 * published again under a new generation and deduplication id. That may deliver twice, which the
 * handlers' inbox absorbs (at-least-once). States never move back: a callback that lands meanwhile
 * wins, and delivered or dead deliveries are never touched.
 * @example
 * const reconciler = createQStashReconciler({ queue, client: new Client({ token }), clock: systemClock });
 * await reconciler.reconcile();
 * await transport.publishDue();
 */
export function createQStashReconciler(options: QStashReconcilerOptions): QStashReconciler {
  const { queue, client, clock } = options;
  const graceMs = options.graceMs ?? DEFAULT_RECONCILE_GRACE_MS;
  const maxChecks = options.maxChecks ?? DEFAULT_RECONCILE_MAX_CHECKS;
  const timeoutMs = options.timeoutMs ?? 10_000;

  type Verdict = 'held' | 'lost' | 'unanswered';
  const ask = async (d: OverduePublished): Promise<Verdict> => {
    try {
      await withTimeout(client.messages.get(d.messageId), timeoutMs);
      return 'held';
    } catch (error) {
      if (statusOf(error) === 404) return 'lost';
      options.onError?.(error);
      return 'unanswered';
    }
  };

  return {
    async reconcile() {
      const overdue = await queue.findOverdue({ before: clock.now() - graceMs, limit: maxChecks });
      const verdicts = await mapLimited(overdue, CHECK_CONCURRENCY, ask);
      const at = clock.now();
      const record = (d: OverduePublished): PublishCheckRecord => ({ ...d, at });
      const lost = overdue.filter((_, i) => verdicts[i] === 'lost');
      // Unanswered counts as checked: QStash being away is no sign of a lost message, and asking
      // again every minute would only add to its load.
      await queue.markChecked(overdue.filter((_, i) => verdicts[i] !== 'lost').map(record));
      const changed = new Set(await queue.markLost(lost.map(record)));
      for (const d of lost) if (changed.has(d.deliveryId)) options.onLost?.(d);
      return {
        checked: overdue.length,
        held: verdicts.filter((v) => v === 'held').length,
        lost: changed.size,
        unanswered: verdicts.filter((v) => v === 'unanswered').length,
      };
    },
  };
}

/** The HTTP status `@upstash/qstash` puts on its errors (`QstashError.status`), if any. */
function statusOf(error: unknown): number | undefined {
  const status = (error as { status?: unknown } | null)?.status;
  return typeof status === 'number' ? status : undefined;
}

/** `items.map(fn)` with at most `limit` calls pending at once, results in order. */
async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
