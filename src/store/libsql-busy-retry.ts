/** How a libSQL file driver waits out another process's write lock, off the event loop. */
export interface BusyRetryOptions {
  /** Counted from when the lock was first met; past it each try fails at once. */
  readonly busyWaitMs: number;
  /** The pause between tries (tests observe or drive it). */
  readonly wait: (ms: number) => Promise<void>;
}

/**
 * Tries come 1, 2, then every 4 ms: a try of `BEGIN IMMEDIATE` costs microseconds, and a writer
 * asleep longer can miss the lock when a neighbour (the retention job's next batch) takes it again
 * meanwhile — SQLite's lock is not fair (issue 11: ingest p99 while purging).
 */
const FIRST_BACKOFF_MS = 1;
const MAX_BACKOFF_MS = 4;
/** No lock met for this long: the next one is a new episode with a fresh budget. */
const EPISODE_GAP_MS = 1_000;

/**
 * Runs a statement again while the database is locked by another connection, backing off on
 * timers. Safe to repeat: a busy statement or `BEGIN IMMEDIATE` wrote nothing, and a failed batch
 * is rolled back. Reads that succeed meanwhile (WAL readers never wait) say nothing about the lock.
 *
 * The wait is budgeted per lock episode, not per call: work queued behind a waiting write (group
 * commit, the dispatcher) fails fast once the episode's budget is spent instead of each waiting it
 * out again. An episode ends when a write gets the lock, or after a quiet gap.
 * @example const whileBusy = createBusyRetry({ busyWaitMs: 3_000, wait }); await whileBusy(run, true);
 */
export function createBusyRetry(
  options: BusyRetryOptions,
): <T>(fn: () => T | Promise<T>, takesLock: boolean) => Promise<T> {
  let busySince: number | null = null;
  let lastBusyAt = Number.NEGATIVE_INFINITY;
  return async (fn, takesLock) => {
    let metBusy = false;
    for (let backoff = FIRST_BACKOFF_MS; ; backoff = Math.min(backoff * 2, MAX_BACKOFF_MS)) {
      try {
        const result = await fn();
        if (metBusy || takesLock) busySince = null;
        return result;
      } catch (error) {
        if (!isBusyError(error)) throw error;
        metBusy = true;
        const now = performance.now();
        if (busySince === null || now - lastBusyAt > EPISODE_GAP_MS) busySince = now;
        lastBusyAt = now;
        const left = busySince + options.busyWaitMs - now;
        if (left <= 0) throw error;
        await options.wait(Math.min(backoff, left));
      }
    }
  };
}

/** Another connection holds the lock this statement needs (the native binding's error codes). */
function isBusyError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && /^SQLITE_(BUSY|LOCKED)/.test(code);
}
