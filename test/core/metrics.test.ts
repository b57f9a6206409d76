import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import {
  ATTEMPT_DURATION_BUCKETS,
  createMeshMetrics,
  DELIVERY_LATENCY_BUCKETS,
  toAttemptOutcomeLabel,
  toStoreGaugeFamilies,
} from '../../src/core/metrics.ts';
import { createCounter } from '../../src/core/metrics-counter.ts';
import { createHistogram } from '../../src/core/metrics-histogram.ts';
import { type MetricFamily, toPrometheusText } from '../../src/core/metrics-text.ts';

interface ParsedFamily {
  name: string;
  help: string;
  type: string;
  metrics: {
    value?: string;
    labels?: Record<string, string>;
    buckets?: Record<string, string>;
    count?: string;
    sum?: string;
  }[];
}
// A real Prometheus text-format parser (ported from the Python client's), not a regex of ours.
const parsePrometheus = createRequire(import.meta.url)('parse-prometheus-text-format') as (
  text: string,
) => ParsedFamily[];

describe('toPrometheusText', () => {
  it('writes HELP and TYPE before the samples and escapes label values and help', () => {
    const families: MetricFamily[] = [
      {
        name: 'x_total',
        help: 'Back\\slash and\nnewline; "quotes" stay.',
        type: 'counter',
        samples: [
          { labels: { type: 'a"b\\c\nd' }, value: 3 },
          { labels: { type: 'plain' }, value: 0 },
        ],
      },
      {
        name: 'y',
        help: 'Y.',
        type: 'gauge',
        samples: [{ value: Number.POSITIVE_INFINITY }, { value: 1.5 }],
      },
    ];
    const text = toPrometheusText(families);
    expect(text).toBe(
      '# HELP x_total Back\\\\slash and\\nnewline; "quotes" stay.\n' +
        '# TYPE x_total counter\n' +
        'x_total{type="a\\"b\\\\c\\nd"} 3\n' +
        'x_total{type="plain"} 0\n' +
        '# HELP y Y.\n# TYPE y gauge\ny +Inf\ny 1.5\n',
    );
    const [x] = parsePrometheus(text);
    expect(x?.help).toBe('Back\\slash and\nnewline; "quotes" stay.');
    expect(x?.metrics.map((m) => m.labels?.type)).toEqual(['a"b\\c\nd', 'plain']);
  });
});

describe('createCounter', () => {
  it('keeps one series per label values, in any key order, and refuses to go down', () => {
    const c = createCounter({ name: 'c_total', help: 'C.', labelNames: ['a', 'b'] });
    c.inc({ a: '1', b: '2' });
    c.inc({ b: '2', a: '1' }, 2);
    c.inc({ a: 'x', b: 'y' }, 0);
    expect(c.toFamily().samples).toEqual([
      { labels: { a: '1', b: '2' }, value: 3 },
      { labels: { a: 'x', b: 'y' }, value: 0 },
    ]);
    expect(() => c.inc({ a: '1', b: '2' }, -1)).toThrow(RangeError);
    expect(() => c.inc({ a: '1', b: '2' }, Number.NaN)).toThrow(RangeError);
  });
});

describe('createHistogram', () => {
  it('renders cumulative buckets, +Inf, sum and count that a Prometheus parser reads back', () => {
    const h = createHistogram({ name: 'h_seconds', help: 'H.', buckets: [0.1, 1, 10] });
    for (const v of [0.05, 0.1, 0.5, 3, 3, 60]) h.observe(v);
    const [parsed] = parsePrometheus(toPrometheusText([h.toFamily()]));
    expect(parsed?.type).toBe('HISTOGRAM');
    expect(parsed?.metrics[0]?.buckets).toEqual({ '0.1': '2', '1': '3', '10': '5', '+Inf': '6' });
    expect(Number(parsed?.metrics[0]?.count)).toBe(6);
    expect(Number(parsed?.metrics[0]?.sum)).toBeCloseTo(66.65);
  });

  it('refuses buckets that are not strictly increasing and finite', () => {
    expect(() => createHistogram({ name: 'h', help: 'H.', buckets: [1, 1] })).toThrow(RangeError);
    expect(() => createHistogram({ name: 'h', help: 'H.', buckets: [1, Number.POSITIVE_INFINITY] })).toThrow(
      RangeError,
    );
  });
});

describe('createMeshMetrics', () => {
  it('starts every outcome at 0 and observes durations and delivered latencies in seconds', () => {
    const m = createMeshMetrics();
    m.countAccepted('OrderCreated', 0);
    m.countAccepted('OrderPaid');
    m.countAccepted('OrderPaid');
    m.observeAttempt({ outcome: 'retry', durationMs: 20 });
    m.observeAttempt({ outcome: 'delivered', durationMs: 40, latencyMs: 12_500 });
    // Latency is a delivered attempt's; a negative one (a clock stepped back) says nothing.
    m.observeAttempt({ outcome: 'dead', durationMs: 1, latencyMs: 5 });
    m.observeAttempt({ outcome: 'delivered', latencyMs: -1 });
    const parsed = parsePrometheus(toPrometheusText(m.collect()));
    const family = (name: string) => parsed.find((f) => f.name === name)!;
    expect(family('hookmesh_events_accepted_total').metrics).toEqual([
      { labels: { type: 'OrderCreated' }, value: '0' },
      { labels: { type: 'OrderPaid' }, value: '2' },
    ]);
    expect(family('hookmesh_attempts_total').metrics).toEqual([
      { labels: { outcome: 'delivered' }, value: '2' },
      { labels: { outcome: 'retry' }, value: '1' },
      { labels: { outcome: 'dead' }, value: '1' },
    ]);
    const duration = family('hookmesh_attempt_duration_seconds').metrics[0]!;
    expect(duration.count).toBe('3');
    expect(Number(duration.sum)).toBeCloseTo(0.061);
    expect(Object.keys(duration.buckets!)).toHaveLength(ATTEMPT_DURATION_BUCKETS.length + 1);
    const latency = family('hookmesh_delivery_latency_seconds').metrics[0]!;
    expect(latency.count).toBe('1');
    expect(latency.sum).toBe('12.5');
    expect(latency.buckets?.['5']).toBe('0');
    expect(latency.buckets?.['15']).toBe('1');
    expect(Object.keys(latency.buckets!)).toHaveLength(DELIVERY_LATENCY_BUCKETS.length + 1);
  });

  it('names the retrying state as the retry outcome', () => {
    expect(['delivered', 'retrying', 'dead'].map((s) => toAttemptOutcomeLabel(s as 'dead'))).toEqual([
      'delivered',
      'retry',
      'dead',
    ]);
  });
});

describe('toStoreGaugeFamilies', () => {
  const gauges = {
    deliveries: { pending: 2, in_flight: 1, retrying: 3, delivered: 10, dead: 0 },
    subscriptions: { active: 4, paused: 1 },
  };
  const now = Date.UTC(2026, 0, 1, 12);

  it('reports every status, the age of the earliest due delivery and subscriptions by state', () => {
    const parsed = parsePrometheus(
      toPrometheusText(toStoreGaugeFamilies({ ...gauges, earliestDueAt: now - 90_500 }, now)),
    );
    expect(parsed.map((f) => [f.name, f.type])).toEqual([
      ['hookmesh_deliveries', 'GAUGE'],
      ['hookmesh_oldest_due_delivery_seconds', 'GAUGE'],
      ['hookmesh_subscriptions', 'GAUGE'],
    ]);
    expect(parsed[0]!.metrics.map((m) => [m.labels?.status, m.value])).toEqual([
      ['pending', '2'],
      ['in_flight', '1'],
      ['retrying', '3'],
      ['delivered', '10'],
      ['dead', '0'],
    ]);
    expect(parsed[1]!.metrics).toEqual([{ value: '90.5' }]);
    expect(parsed[2]!.metrics.map((m) => [m.labels?.state, m.value])).toEqual([
      ['active', '4'],
      ['paused', '1'],
    ]);
  });

  it('is 0 seconds when nothing is due, or the earliest is due later', () => {
    for (const earliestDueAt of [null, now, now + 1000]) {
      const [, oldest] = toStoreGaugeFamilies({ ...gauges, earliestDueAt }, now);
      expect(oldest?.samples).toEqual([{ value: 0 }]);
    }
  });
});
