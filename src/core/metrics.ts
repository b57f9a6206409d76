import { DELIVERY_STATUSES } from './delivery-state.ts';
import { createCounter } from './metrics-counter.ts';
import { createHistogram } from './metrics-histogram.ts';
import type { StoreGauges } from './metrics-store.ts';
import type { MetricFamily } from './metrics-text.ts';

// The names, labels and meanings are DESIGN.md's contract ("Observability"): dashboards and
// alerts are written against them, so they change only with it.

/** How one attempt ended, as `hookmesh_attempts_total{outcome}` counts it. */
export const ATTEMPT_OUTCOMES = ['delivered', 'retry', 'dead'] as const;
export type AttemptOutcomeLabel = (typeof ATTEMPT_OUTCOMES)[number];

/** One HTTP attempt up to the handler's answer or the timeout (15 s by default), in seconds. */
export const ATTEMPT_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30];

/**
 * Acceptance to delivered, in seconds: most land in the first attempt (under a second); retries
 * spread the rest over QStash's schedule — 12 s, 2.5 min, 30 min, 6 h, then a day each, about
 * 6 days for the default 10 retries and two weeks for 20.
 */
export const DELIVERY_LATENCY_BUCKETS = [
  0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, 300, 1800, 3600, 21_600, 86_400, 172_800, 345_600, 604_800,
  1_209_600,
];

/** One attempt as its transport saw it. */
export interface ObservedAttempt {
  readonly outcome: AttemptOutcomeLabel;
  /** The attempt's HTTP time; absent when the transport does not report it (QStash). */
  readonly durationMs?: number;
  /** For a delivered attempt, the time since the event was accepted; absent when unknown. */
  readonly latencyMs?: number;
}

/**
 * What this process counts: events it accepted and attempts it made or was told of. Counters and
 * histograms start at 0 with the process (Prometheus' `rate()` and `increase()` expect that).
 */
export interface MeshMetrics {
  /** Domain events of `type` newly accepted (202). `count` 0 creates the series. */
  countAccepted(type: string, count?: number): void;
  observeAttempt(attempt: ObservedAttempt): void;
  /** The process's counters and histograms, to render. */
  collect(): MetricFamily[];
}

/**
 * @example const metrics = createMeshMetrics(); metrics.observeAttempt({ outcome: 'delivered', durationMs: 42, latencyMs: 120 });
 */
export function createMeshMetrics(): MeshMetrics {
  const accepted = createCounter({
    name: 'hookmesh_events_accepted_total',
    help: 'Domain events newly accepted (202) by this process.',
    labelNames: ['type'],
  });
  const attempts = createCounter({
    name: 'hookmesh_attempts_total',
    help: 'Delivery attempts made or reported to this process, by outcome (delivered, retry, dead).',
    labelNames: ['outcome'],
  });
  for (const outcome of ATTEMPT_OUTCOMES) attempts.inc({ outcome }, 0);
  const duration = createHistogram({
    name: 'hookmesh_attempt_duration_seconds',
    help: "One attempt's HTTP time, request to answer or timeout.",
    buckets: ATTEMPT_DURATION_BUCKETS,
  });
  const latency = createHistogram({
    name: 'hookmesh_delivery_latency_seconds',
    help: 'From the acceptance of an event to the delivery of one of its deliveries.',
    buckets: DELIVERY_LATENCY_BUCKETS,
  });
  return {
    countAccepted(type, count = 1) {
      accepted.inc({ type }, count);
    },
    observeAttempt({ outcome, durationMs, latencyMs }) {
      attempts.inc({ outcome });
      if (durationMs !== undefined) duration.observe(durationMs / 1000);
      // A clock that stepped back would make a negative latency; it says nothing, so it is not counted.
      if (outcome === 'delivered' && latencyMs !== undefined && latencyMs >= 0) {
        latency.observe(latencyMs / 1000);
      }
    },
    collect: () => [accepted.toFamily(), attempts.toFamily(), duration.toFamily(), latency.toFamily()],
  };
}

/**
 * A delivery's next state as `hookmesh_attempts_total` names it.
 * @example toAttemptOutcomeLabel('retrying') // 'retry'
 */
export function toAttemptOutcomeLabel(next: 'delivered' | 'retrying' | 'dead'): AttemptOutcomeLabel {
  return next === 'retrying' ? 'retry' : next;
}

/**
 * The store's gauges as metric families. `now` turns the earliest due time into an age.
 * @example toStoreGaugeFamilies(await metricsStore.readGauges(), clock.now())
 */
export function toStoreGaugeFamilies(gauges: StoreGauges, now: number): MetricFamily[] {
  const due = gauges.earliestDueAt;
  return [
    {
      name: 'hookmesh_deliveries',
      help: 'Deliveries per status, read from the store (every process and runtime sees the same).',
      type: 'gauge',
      samples: DELIVERY_STATUSES.map((status) => ({ labels: { status }, value: gauges.deliveries[status] })),
    },
    {
      name: 'hookmesh_oldest_due_delivery_seconds',
      help: 'Seconds since the longest-waiting due delivery (pending or retrying, not held by a paused subscription) fell due; 0 when none is due.',
      type: 'gauge',
      samples: [{ value: due === null || due >= now ? 0 : (now - due) / 1000 }],
    },
    {
      name: 'hookmesh_subscriptions',
      help: 'Subscriptions by state: active, or paused (deliveries held).',
      type: 'gauge',
      samples: [
        { labels: { state: 'active' }, value: gauges.subscriptions.active },
        { labels: { state: 'paused' }, value: gauges.subscriptions.paused },
      ],
    },
  ];
}
