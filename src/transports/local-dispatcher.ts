import type { Clock } from '../core/clock.ts';
import {
  type DeliveryRequest,
  type QStashSigner,
  signDeliveryRequest,
  toSignedDeliveryRequest,
} from '../core/delivery-request.ts';
import { decideAttemptOutcome } from '../core/delivery-state.ts';
import type { AttemptRecord, DispatchQueue, LeasedDelivery } from '../core/dispatch-queue.ts';
import type { HttpSender, SendResult } from '../core/http-sender.ts';
import { type DelayExpression, parseDelayExpression } from '../core/retry-delay-expression.ts';
import { parseRetryAfter } from '../core/retry-policy.ts';
import { endDeliverSpan, inDeliverSpan, startDeliverSpan, toOnwardTraceparent } from '../tracing/tracing.ts';

/** An attempt's `deliver` span (OpenTelemetry stays inside the tracing file). */
type DeliverSpan = ReturnType<typeof startDeliverSpan>;

export interface LocalDispatcherOptions {
  readonly queue: DispatchQueue;
  readonly send: HttpSender;
  readonly clock: Clock;
  /** `QSTASH_CURRENT_SIGNING_KEY`: every attempt carries a signature minted with it. */
  readonly signingKey: string;
  /** How tokens are minted (default: WebCrypto); Node injects a synchronous `node:crypto` one. */
  readonly sign?: QStashSigner;
  /** Unique per process: leases name their holder. */
  readonly owner: string;
  readonly leaseMs: number;
  readonly attemptTimeoutMs: number;
  /** Most attempts in flight at once (default 64). */
  readonly concurrency?: number;
  /**
   * Finished attempts that make a commit worth running at once (default half of `concurrency`);
   * fewer wait up to `commitWaitMs` (default 5) for others still out.
   */
  readonly commitBatch?: number;
  readonly commitWaitMs?: number;
  /** How often to look for due deliveries when nothing nudges (default 250 ms). */
  readonly pollMs?: number;
  readonly onError?: (error: unknown) => void;
  /** Called after each attempt is recorded (logs, metrics). */
  readonly onAttempt?: (delivery: LeasedDelivery, record: AttemptRecord) => void;
}

/** An attempt done and decided, waiting for the cycle that records it (its slot is `held` till then). */
interface Finished {
  readonly delivery: LeasedDelivery;
  readonly record: AttemptRecord;
}

export interface LocalDispatcher {
  /**
   * Attempts every delivery due now and resolves when all those attempts are recorded. Tests drive
   * retry schedules with this and a manual clock — no timers, no sleeping.
   */
  runOnce(): Promise<number>;
  /** Starts polling (and reacting to `nudge`). */
  start(): void;
  /** Look now: something was just accepted. */
  nudge(): void;
  /**
   * The hand-off (`DeliveryHandOff`), step 1: sets aside free slots for deliveries this process
   * will lease to this dispatcher in another transaction (ingest's), and says how many — at most a
   * refill batch, so the poll always keeps slots of its own. 0 unless started and not stopped.
   * Each reservation ends with one `take`.
   */
  reserve(): number;
  /**
   * Step 2: attempts the deliveries leased on a reservation of `reserved` slots (a promise while
   * they are read) and gives back the slots they leave. Taken before `stop`, they go out (it waits
   * for them); taken after it, or unreadable, they are not sent: their leases lapse and the
   * deliveries go again after `leaseMs`, as after a crash.
   */
  take(reserved: number, leased: readonly LeasedDelivery[] | Promise<readonly LeasedDelivery[]>): void;
  /** Stops taking new work and waits for attempts in flight to be recorded. */
  stop(): Promise<void>;
}

/**
 * The embedded transport: takes due deliveries from the outbox under a lease (safe with several
 * processes on one database), sends them signed exactly as QStash would, and records each attempt.
 * @example const d = createLocalDispatcher({ queue, send, clock, signingKey, owner, leaseMs: 30_000, attemptTimeoutMs: 15_000 }); d.start();
 */
export function createLocalDispatcher(options: LocalDispatcherOptions): LocalDispatcher {
  const { queue, send, clock } = options;
  const concurrency = options.concurrency ?? 64;
  const pollMs = options.pollMs ?? 250;
  const refillBatch = Math.max(1, Math.floor(concurrency / 4));
  const inFlight = new Set<Promise<void>>();
  const expressions = new Map<string, DelayExpression | null>();
  let timer: ReturnType<typeof setInterval> | null = null;
  let pumping: Promise<void> | null = null;
  let again = false;
  let stopped = false;

  const delayExpression = (source: string | null): DelayExpression | null => {
    if (source === null) return null;
    let parsed = expressions.get(source);
    if (parsed === undefined) {
      const result = parseDelayExpression(source);
      // Validated when the subscription was made; a bad one falls back to the default backoff.
      parsed = result.ok ? result.expression : null;
      expressions.set(source, parsed);
    }
    return parsed;
  };

  /**
   * Sends one attempt and decides its outcome; never rejects (a failure is the outcome). With a
   * synchronous signer the request is built and sent in this turn, with no promise before the
   * send's own: two fewer promises and three fewer microtask turns per attempt than awaiting it.
   */
  const runAttempt = (delivery: LeasedDelivery): Promise<AttemptRecord> => {
    const at = clock.now();
    const started = performance.now();
    // A no-op until the app installs an OpenTelemetry SDK; then the handler's span is its child.
    const span = startDeliverSpan(delivery);
    let sent: Promise<SendResult>;
    try {
      const input = {
        url: delivery.url,
        event: delivery.event,
        traceparent: toOnwardTraceparent(span, delivery.traceparent),
        retried: delivery.retried,
        messageId: `msg_${delivery.id}_${delivery.generation}`,
        signingKey: options.signingKey,
        nowMs: at,
        sign: options.sign,
      };
      const signature = signDeliveryRequest(input);
      sent =
        typeof signature === 'string'
          ? sendIn(span, delivery, toSignedDeliveryRequest(input, signature))
          : signature.then((s) => sendIn(span, delivery, toSignedDeliveryRequest(input, s)));
    } catch (cause) {
      sent = Promise.reject(cause);
    }
    return sent.then(
      (result) => toRecord(delivery, span, at, started, result, null),
      (cause: unknown) =>
        toRecord(delivery, span, at, started, null, cause instanceof Error ? cause.message : String(cause)),
    );
  };

  const sendIn = (
    span: DeliverSpan,
    delivery: LeasedDelivery,
    request: DeliveryRequest,
  ): Promise<SendResult> =>
    inDeliverSpan(span, () =>
      send(request, { trusted: delivery.origin === 'code', timeoutMs: options.attemptTimeoutMs }),
    );

  /** An attempt's record, from its response (`result`) or the error that stood for one. */
  const toRecord = (
    delivery: LeasedDelivery,
    span: DeliverSpan,
    at: number,
    started: number,
    result: SendResult | null,
    error: string | null,
  ): AttemptRecord => {
    const durationMs = Math.round(performance.now() - started);
    // A 2xx's headers are never read: the undici sender then never decodes them.
    const failed = result === null || result.status < 200 || result.status > 299;
    const headers = failed ? result?.headers : undefined;
    const outcome = decideAttemptOutcome({
      status: result?.status ?? null,
      nonRetryable: headers?.['upstash-nonretryable-error']?.toLowerCase() === 'true',
      retried: delivery.retried,
      maxRetries: delivery.maxRetries,
      retryDelay: delayExpression(delivery.retryDelay),
      retryAfterMs: parseRetryAfter(headers?.['retry-after'], at),
    });
    const record: AttemptRecord = {
      deliveryId: delivery.id,
      owner: options.owner,
      number: delivery.attempts + 1,
      at,
      status: result?.status ?? null,
      durationMs,
      error,
      responseExcerpt: result?.excerpt || null,
      next: outcome.status,
      nextAttemptAt: outcome.status === 'retrying' ? at + outcome.delayMs : at,
      retried: outcome.status === 'retrying' ? delivery.retried + 1 : delivery.retried,
    };
    endDeliverSpan(span, record);
    return record;
  };

  const attempt = async (delivery: LeasedDelivery): Promise<void> => {
    const record = await runAttempt(delivery);
    await queue.recordAttempts([record]);
    options.onAttempt?.(delivery, record);
  };

  const recordAndLease = queue.recordAndLease?.bind(queue);
  // Started with a queue that can record and lease in one transaction: attempts hand their records
  // to `cycle`, which commits every record that is ready together with the lease that refills the
  // slots they free — one commit per round trip of the pipeline instead of one per lease plus one
  // per group of records. Without it: `pump` leases, and each attempt records through the queue's
  // own group commit.
  const finished: Finished[] = [];
  /** Deliveries leased and not yet recorded (or dropped): the slots in use. */
  let held = 0;
  let cycling: Promise<void> | null = null;
  let cycleWanted = false;
  let cycleScheduled = false;
  let commitTimer: ReturnType<typeof setTimeout> | null = null;
  const commitBatch = options.commitBatch ?? Math.max(1, Math.floor(concurrency / 2));
  // Short beside any lease (30 s and more): a slot waits that long at most to be refilled.
  const commitWaitMs = options.commitWaitMs ?? 5;

  /** Resolves `untilNoneHeld`'s waiters once the last slot is given back. */
  let noneHeld: (() => void) | null = null;
  const release = (slots: number) => {
    held -= slots;
    if (held === 0 && noneHeld !== null) {
      const resolve = noneHeld;
      noneHeld = null;
      resolve();
    }
  };
  /** Until every leased delivery is recorded or dropped (`stop`): a count, not a promise per attempt. */
  const untilNoneHeld = (): Promise<void> =>
    held === 0
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          const before = noneHeld;
          noneHeld = () => {
            before?.();
            resolve();
          };
        });

  const hold = (delivery: LeasedDelivery) => {
    held++;
    runAttempt(delivery).then(
      (record) => {
        finished.push({ delivery, record });
        recordSoon();
      },
      (error: unknown) => {
        options.onError?.(error);
        release(1);
      },
    );
  };

  /**
   * Asks for a cycle. It runs after this turn's I/O callbacks (setImmediate), so every response
   * read in one poll of the event loop shares the commit; one asked for while a cycle runs follows it.
   */
  const cycle = () => {
    if (cycling !== null) {
      cycleWanted = true;
      return;
    }
    if (cycleScheduled) return;
    cycleScheduled = true;
    setImmediate(() => {
      cycleScheduled = false;
      if (cycling !== null) {
        cycleWanted = true;
        return;
      }
      // Reset in `finally`, which always runs later: a pass with nothing to do ends synchronously,
      // and resetting inside it would come before this assignment and wedge the dispatcher.
      cycling = runCycles().finally(() => {
        cycling = null;
        if (cycleWanted && !stopped) cycle();
        else if (finished.length > 0) recordSoon();
      });
    });
  };

  const runCycles = async (): Promise<void> => {
    do {
      cycleWanted = false;
      if (commitTimer !== null) clearTimeout(commitTimer);
      commitTimer = null;
      const batch = finished.splice(0);
      const limit = stopped ? 0 : concurrency - (held - batch.length) - reserved;
      if (batch.length === 0 && limit <= 0) break;
      let leased: LeasedDelivery[] = [];
      try {
        leased = await recordAndLease!(
          batch.map((f) => f.record),
          { owner: options.owner, now: clock.now(), leaseMs: options.leaseMs, limit },
        );
        for (const f of batch) options.onAttempt?.(f.delivery, f.record);
      } catch (error) {
        // Not recorded: the leases lapse and the deliveries are attempted again (at least once).
        options.onError?.(error);
      } finally {
        release(batch.length);
      }
      for (const delivery of leased) hold(delivery);
      // A full lease took every free slot: the next ones free with records (`worthCommitting`).
    } while (cycleWanted ? !stopped || finished.length > 0 : finished.length > 0 && worthCommitting());
  };

  /**
   * Whether the records waiting should be committed now rather than with the next ones: each
   * cycle costs a lease statement, a commit and an fsync whatever it carries (~1 ms of the
   * dispatcher's core), and under load it carried ~12 records when every response asked for one.
   * Now when `commitBatch` records wait, when no other attempt is out (none to wait for), or when
   * stopping; else within `commitWaitMs` (`recordSoon`).
   *
   * What decides a cycle's size, then (bench:delivery, 2026-12-04): with every slot held, the
   * `commitBatch` test — 32-36 records a cycle at 64 slots. When the due deliveries' subscriptions
   * allow fewer attempts out than the free slots (`max_concurrency`), every cycle waits for all
   * of them — 16 a cycle for a subscription left alone at the default 16. The example app's run in
   * bench:delivery averages ~27 a cycle: the app's own subscription (16) outlasts the bench's (64)
   * and runs alone for ~40 % of it. A larger `commitBatch` changes only the first regime.
   */
  const worthCommitting = () => stopped || finished.length >= commitBatch || finished.length >= held;

  /**
   * A record is ready: a cycle now if `worthCommitting`, else one timer for the records that wait.
   * While cycles run, nothing: their loop takes it when worth it, and their end calls this again.
   */
  const recordSoon = () => {
    if (cycling !== null) return;
    if (worthCommitting()) {
      cycle();
      return;
    }
    commitTimer ??= setTimeout(() => {
      commitTimer = null;
      cycle();
    }, commitWaitMs);
  };

  const track = (delivery: LeasedDelivery) => {
    const p: Promise<void> = attempt(delivery)
      .catch((e) => options.onError?.(e))
      .finally(() => {
        inFlight.delete(p);
        // Refill in batches: every lease is a committed write, so one per freed slot would cost
        // an fsync per delivery.
        if (!stopped && inFlight.size + reserved <= concurrency - refillBatch) pump();
      });
    inFlight.add(p);
  };

  // One lease query at a time; a request to pump while one runs makes it go round once more.
  // `active` is set before the first await: a pass that finds nothing to do finishes synchronously.
  let active = false;
  const pump = (): Promise<void> => {
    if (recordAndLease) {
      if (!stopped) cycle();
      return cycling ?? Promise.resolve();
    }
    if (active) {
      again = true;
      return pumping ?? Promise.resolve();
    }
    active = true;
    const pass = (async () => {
      try {
        do {
          again = false;
          while (!stopped && inFlight.size + reserved < concurrency) {
            const leased = await queue.leaseDue({
              owner: options.owner,
              now: clock.now(),
              leaseMs: options.leaseMs,
              limit: concurrency - inFlight.size - reserved,
            });
            for (const delivery of leased) track(delivery);
            if (leased.length === 0) break;
          }
        } while (again && !stopped);
      } catch (error) {
        options.onError?.(error);
      } finally {
        active = false;
        pumping = null;
      }
    })();
    if (active) pumping = pass;
    return pass;
  };

  // The hand-off: slots set aside for deliveries leased by ingest's transaction (`reserve`),
  // counted as used by the lease paths above until `take` fills or frees them.
  let reserved = 0;
  const handOffs = new Set<Promise<void>>();

  const reserve = (): number => {
    if (stopped || timer === null) return 0;
    const used = (recordAndLease ? held : inFlight.size) + reserved;
    const n = Math.max(0, Math.min(refillBatch, concurrency - used));
    reserved += n;
    return n;
  };

  const take = (slots: number, leased: readonly LeasedDelivery[] | Promise<readonly LeasedDelivery[]>) => {
    // Stopped before the write that leased them settled: not waited for, so not sent — they lapse.
    const send = !stopped;
    const p: Promise<void> = Promise.resolve(leased)
      .then(
        (deliveries) => {
          reserved -= slots;
          if (!send) return;
          for (const delivery of deliveries.slice(0, slots)) {
            if (recordAndLease) hold(delivery);
            else track(delivery);
          }
        },
        (error: unknown) => {
          reserved -= slots;
          options.onError?.(error);
        },
      )
      .finally(() => handOffs.delete(p));
    handOffs.add(p);
  };

  return {
    reserve,
    take,
    async runOnce() {
      let attempted = 0;
      for (;;) {
        const leased = await queue.leaseDue({
          owner: options.owner,
          now: clock.now(),
          leaseMs: options.leaseMs,
          limit: concurrency,
        });
        if (leased.length === 0) return attempted;
        attempted += leased.length;
        await Promise.all(leased.map((d) => attempt(d)));
      }
    },
    start() {
      stopped = false;
      if (timer) return;
      timer = setInterval(() => void pump(), pollMs);
      void pump();
    },
    nudge() {
      if (!stopped && timer) void pump();
    },
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      timer = null;
      // Records waiting to share a commit: committed now.
      if (finished.length > 0) cycle();
      await pumping;
      // Deliveries handed over just before the stop go out, and are waited for below.
      while (handOffs.size > 0) await Promise.allSettled([...handOffs]);
      // Attempts in flight finish and their records are committed (a cycle without a lease).
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
      await untilNoneHeld();
      await cycling;
    },
  };
}
