/** A span of time: milliseconds, or units that add up (`{ minutes: 2, seconds: 28 }`). */
export type Duration =
  | number
  | {
      readonly days?: number;
      readonly hours?: number;
      readonly minutes?: number;
      readonly seconds?: number;
      readonly ms?: number;
    };

const UNIT_MS = { days: 86_400_000, hours: 3_600_000, minutes: 60_000, seconds: 1000, ms: 1 } as const;

/**
 * A duration in whole milliseconds. Negative or non-finite spans are a mistake in the test, not a
 * way back in time: they throw.
 * @example toMilliseconds({ minutes: 2, seconds: 28 }) // 148_000
 */
export function toMilliseconds(duration: Duration): number {
  let ms = 0;
  if (typeof duration === 'number') ms = duration;
  else {
    for (const [unit, factor] of Object.entries(UNIT_MS)) {
      ms += (duration[unit as keyof typeof UNIT_MS] ?? 0) * factor;
    }
  }
  if (!Number.isFinite(ms) || ms < 0) {
    throw new RangeError(`a duration must be finite and not negative (got ${JSON.stringify(duration)})`);
  }
  return Math.round(ms);
}

/** Epoch milliseconds of a `Date` or a number. */
export function toEpochMs(at: Date | number): number {
  const ms = typeof at === 'number' ? at : at.getTime();
  if (!Number.isFinite(ms)) throw new RangeError(`${String(at)} is not a point in time`);
  return ms;
}
