/**
 * A bound on how many of something run at once, refusing rather than queueing past it: what keeps
 * a flood of requests from holding unbounded memory (each unverified body up to its size limit).
 */
export interface ConcurrencyLimit {
  /** A slot, as the function that gives it back (once; later calls do nothing), or null when full. */
  tryAcquire(): (() => void) | null;
  /** Slots taken now. */
  readonly inFlight: number;
}

/**
 * @example
 * const reads = createConcurrencyLimit(64);
 * const release = reads.tryAcquire();
 * if (release === null) return new Response(null, { status: 429, headers: { 'retry-after': '1' } });
 * try { await readBody(); } finally { release(); }
 */
export function createConcurrencyLimit(max: number): ConcurrencyLimit {
  if (!Number.isInteger(max) || max < 1) throw new RangeError('a concurrency limit is a positive integer');
  let inFlight = 0;
  return {
    tryAcquire() {
      if (inFlight >= max) return null;
      inFlight++;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        inFlight--;
      };
    },
    get inFlight() {
      return inFlight;
    },
  };
}
