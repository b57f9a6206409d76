import type { createManualClock } from '../core/clock.ts';
import type { DeliveryAdminStore } from '../core/delivery-admin-store.ts';
import type { DispatchQueue } from '../core/dispatch-queue.ts';
import type { HttpSender } from '../core/http-sender.ts';
import { createLocalDispatcher } from '../transports/local-dispatcher.ts';
import { type Duration, toMilliseconds } from './duration.ts';
import { listAllDeliveries, type TestAttempt, toTestAttempt } from './test-views.ts';

export interface DeliverOptions {
  /**
   * Stop after this many attempts (default 1000) and throw if deliveries are still due: a handler
   * that publishes an event on every delivery would otherwise never let `deliver` end.
   */
  readonly maxAttempts?: number;
}

export interface DrainOptions {
  /** Let at most this much time pass; the clock ends there if attempts are still scheduled later. */
  readonly within?: Duration;
  /** Stop after this many attempts (default 10 000) and throw if any are still scheduled. */
  readonly maxAttempts?: number;
}

export interface DeliveryRunnerOptions {
  readonly dispatch: DispatchQueue;
  readonly deliveries: DeliveryAdminStore;
  readonly send: HttpSender;
  readonly clock: ReturnType<typeof createManualClock>;
  readonly signingKey: string;
  readonly concurrency: number;
}

/** The local dispatcher driven by hand: attempts happen when the test asks, at the clock's time. */
export interface DeliveryRunner {
  deliver(options?: DeliverOptions): Promise<TestAttempt[]>;
  deliverNext(): Promise<TestAttempt[]>;
  drain(options?: DrainOptions): Promise<TestAttempt[]>;
  /** When the earliest pending or retrying delivery is due (epoch ms); null when none is. */
  nextAttemptAt(): Promise<number | null>;
  /** Moves the clock forward (never back). */
  advanceTo(at: number): void;
  /** Waits for the call running now, then stops the dispatcher. */
  stop(): Promise<void>;
}

const DEFAULT_MAX_DELIVER_ATTEMPTS = 1000;
const DEFAULT_MAX_DRAIN_ATTEMPTS = 10_000;

/**
 * The real local dispatcher (leases, signing, outcomes, retry schedule) with nothing running on a
 * timer: each call runs `runOnce` at the manual clock's time, bounded by a number of attempts.
 * Calls run one after another, in the order they were made.
 * @example const runner = createDeliveryRunner({ dispatch, deliveries, send, clock, signingKey, concurrency: 1 }); await runner.drain();
 */
export function createDeliveryRunner(options: DeliveryRunnerOptions): DeliveryRunner {
  const { clock, dispatch } = options;
  // The dispatcher leases through this queue, so that a call can stop after a number of attempts.
  let budget = 0;
  const leasing: DispatchQueue = {
    ...dispatch,
    async leaseDue(input) {
      if (budget <= 0) return [];
      const leased = await dispatch.leaseDue({ ...input, limit: Math.min(input.limit, budget) });
      budget -= leased.length;
      return leased;
    },
  };
  let made: TestAttempt[] = [];
  const errors: unknown[] = [];
  const dispatcher = createLocalDispatcher({
    queue: leasing,
    send: options.send,
    clock,
    signingKey: options.signingKey,
    owner: 'hookmesh-testing',
    // No lease lapses while a call runs: the clock stands still until the call is over.
    leaseMs: 30_000,
    attemptTimeoutMs: 15_000,
    concurrency: options.concurrency,
    onError: (error) => errors.push(error),
    onAttempt: (delivery, record) => made.push(toTestAttempt(delivery, record)),
  });

  let queue: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(run: () => Promise<T>): Promise<T> => {
    const result = queue.then(run);
    queue = result.catch(() => {});
    return result;
  };

  /** Attempts what is due now, at most `limit` attempts; a store failure is thrown, not logged. */
  const runDue = async (limit: number): Promise<TestAttempt[]> => {
    budget = limit;
    made = [];
    errors.length = 0;
    try {
      await dispatcher.runOnce();
    } finally {
      budget = 0;
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, 'the dispatcher failed');
    return made;
  };

  const scheduled = async (): Promise<number[]> => {
    const due: number[] = [];
    for (const status of ['pending', 'retrying'] as const) {
      for (const d of await listAllDeliveries(options.deliveries, { status })) due.push(d.nextAttemptAt);
    }
    return due;
  };
  const nextAfterNow = async () => {
    const later = (await scheduled()).filter((at) => at > clock.now());
    return later.length === 0 ? null : Math.min(...later);
  };
  const anyScheduled = async () => (await scheduled()).length > 0;

  const advanceTo = (at: number) => {
    if (at < clock.now()) {
      throw new RangeError(
        `the clock moves forward only: ${new Date(at).toISOString()} is before ${new Date(clock.now()).toISOString()}`,
      );
    }
    clock.set(at);
  };

  return {
    deliver: (deliverOptions = {}) =>
      exclusive(async () => {
        const max = deliverOptions.maxAttempts ?? DEFAULT_MAX_DELIVER_ATTEMPTS;
        const attempts = await runDue(max);
        if (attempts.length >= max && (await scheduled()).some((at) => at <= clock.now())) {
          throw new Error(
            `deliver() stopped after ${max} attempts with deliveries still due: does a handler publish an event on every delivery?`,
          );
        }
        return attempts;
      }),

    deliverNext: () =>
      exclusive(async () => {
        const now = await runDue(DEFAULT_MAX_DELIVER_ATTEMPTS);
        if (now.length > 0) return now;
        const next = await nextAfterNow();
        if (next === null) return [];
        advanceTo(next);
        return runDue(DEFAULT_MAX_DELIVER_ATTEMPTS);
      }),

    drain: (drainOptions = {}) =>
      exclusive(async () => {
        const max = drainOptions.maxAttempts ?? DEFAULT_MAX_DRAIN_ATTEMPTS;
        const deadline =
          drainOptions.within === undefined
            ? Number.POSITIVE_INFINITY
            : clock.now() + toMilliseconds(drainOptions.within);
        const attempts: TestAttempt[] = [];
        for (;;) {
          attempts.push(...(await runDue(max - attempts.length)));
          if (attempts.length >= max && (await anyScheduled())) {
            throw new Error(
              `drain() stopped after ${max} attempts with deliveries still scheduled: does a handler publish an event on every delivery?`,
            );
          }
          // Due but not attempted (held back) is not waited for: only a later time moves the clock.
          const next = await nextAfterNow();
          if (next === null) return attempts;
          if (next > deadline) {
            advanceTo(deadline);
            return attempts;
          }
          advanceTo(next);
        }
      }),

    async nextAttemptAt() {
      const due = await scheduled();
      return due.length === 0 ? null : Math.min(...due);
    },

    advanceTo,

    async stop() {
      await queue;
      await dispatcher.stop();
    },
  };
}
