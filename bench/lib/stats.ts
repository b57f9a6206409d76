/** The q-quantile (0–1) of unsorted samples, nearest rank; NaN when there are none. */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

/** "best (min–max over n runs)" for a figure where higher is better, e.g. `12.3k (11.8k–12.3k, 3 runs)`. */
export function spread(values: readonly number[], format: (n: number) => string): string {
  if (values.length <= 1) return values.length === 1 ? format(values[0]!) : '?';
  const min = Math.min(...values);
  const max = Math.max(...values);
  const noise = max > 0 ? ((max - min) / max) * 100 : 0;
  return `${format(min)}–${format(max)} over ${values.length} runs (spread ${noise.toFixed(0)}%)`;
}

export function kilo(n: number): string {
  return n >= 10_000 ? `${(n / 1000).toFixed(1)}k` : n.toFixed(0);
}
