import type { MetricFamily } from './metrics-text.ts';

/** A monotonic count per combination of label values, kept in this process. */
export interface Counter<TLabel extends string> {
  /**
   * Adds `by` (default 1; never negative) to the series of these label values. Adding 0 creates
   * the series at 0, so a scraper sees it before its first event and `rate()` counts that one.
   */
  inc(labels: Readonly<Record<TLabel, string>>, by?: number): void;
  toFamily(): MetricFamily;
}

/**
 * @example const accepted = createCounter({ name: 'x_total', help: 'X.', labelNames: ['type'] }); accepted.inc({ type: 'A' });
 */
export function createCounter<const TLabel extends string>(definition: {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly TLabel[];
}): Counter<TLabel> {
  // Keyed by the label values in `labelNames` order: callers may build the record in any order.
  const series = new Map<string, { labels: Record<string, string>; value: number }>();
  return {
    inc(labels, by = 1) {
      if (!(by >= 0)) throw new RangeError(`${definition.name} only counts up (got ${by})`);
      const values = definition.labelNames.map((name) => labels[name]);
      const key = JSON.stringify(values);
      const entry = series.get(key);
      if (entry) entry.value += by;
      else {
        const ordered: Record<string, string> = {};
        definition.labelNames.forEach((name, i) => {
          ordered[name] = values[i]!;
        });
        series.set(key, { labels: ordered, value: by });
      }
    },
    toFamily() {
      return {
        name: definition.name,
        help: definition.help,
        type: 'counter',
        samples: [...series.values()].map(({ labels, value }) => ({ labels: { ...labels }, value })),
      };
    },
  };
}
