import type { MetricFamily, MetricSample } from './metrics-text.ts';
import { toSampleValue } from './metrics-text.ts';

/** A distribution of observed values over fixed buckets, kept in this process. */
export interface Histogram {
  /** Counts one value (in the histogram's unit, e.g. seconds). */
  observe(value: number): void;
  toFamily(): MetricFamily;
}

/**
 * Cumulative buckets as Prometheus reads them: `_bucket{le}` counts the values at most `le`,
 * `+Inf` all of them, beside `_sum` and `_count`.
 * @example const h = createHistogram({ name: 'x_seconds', help: 'X.', buckets: [0.1, 1, 10] }); h.observe(0.25);
 */
export function createHistogram(definition: {
  readonly name: string;
  readonly help: string;
  /** Upper bounds, strictly increasing and finite; `+Inf` is added. */
  readonly buckets: readonly number[];
}): Histogram {
  const bounds = [...definition.buckets];
  bounds.forEach((bound, i) => {
    if (!Number.isFinite(bound) || (i > 0 && bound <= bounds[i - 1]!)) {
      throw new RangeError(`${definition.name}: buckets must be finite and strictly increasing`);
    }
  });
  // Per bucket, the values that fell in it alone; made cumulative when rendered.
  const counts = new Array<number>(bounds.length + 1).fill(0);
  let sum = 0;
  let count = 0;
  return {
    observe(value) {
      if (Number.isNaN(value)) return;
      let i = 0;
      while (i < bounds.length && value > bounds[i]!) i++;
      counts[i]!++;
      sum += value;
      count++;
    },
    toFamily() {
      const samples: MetricSample[] = [];
      let cumulative = 0;
      bounds.forEach((bound, i) => {
        cumulative += counts[i]!;
        samples.push({ suffix: '_bucket', labels: { le: toSampleValue(bound) }, value: cumulative });
      });
      samples.push(
        { suffix: '_bucket', labels: { le: '+Inf' }, value: count },
        { suffix: '_sum', value: sum },
        { suffix: '_count', value: count },
      );
      return { name: definition.name, help: definition.help, type: 'histogram', samples };
    },
  };
}
