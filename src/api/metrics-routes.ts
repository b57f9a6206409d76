import { Hono } from 'hono';
import type { Clock } from '../core/clock.ts';
import type { MeshMetrics } from '../core/metrics.ts';
import { toStoreGaugeFamilies } from '../core/metrics.ts';
import type { MetricsStore } from '../core/metrics-store.ts';
import { PROMETHEUS_CONTENT_TYPE, toPrometheusText } from '../core/metrics-text.ts';
import { type Authenticator, authenticate, createAuthenticator } from './auth.ts';

export interface MetricsRoutesOptions {
  readonly store: MetricsStore;
  /** This process's counters and histograms; null reports the store's gauges alone. */
  readonly metrics: MeshMetrics | null;
  readonly auth: Authenticator;
  /** `HOOKMESH_METRICS_TOKEN`: a scraper's token, good for this route only (the admin's is too). */
  readonly token: string | null;
  readonly clock: Clock;
}

const ADMIN = ['admin'] as const;

/**
 * `GET /metrics` in Prometheus' text format: the store's gauges (true across processes and on
 * Workers) and this process's counters and histograms. The admin token or the metrics token.
 * @example app.route('/metrics', createMetricsRoutes({ store, metrics, auth, token: config.metricsToken, clock }));
 */
export function createMetricsRoutes(options: MetricsRoutesOptions) {
  const { store, metrics, clock } = options;
  // The metrics token stands for the admin here only: the authenticator that knows it is this
  // route's. Both are asked every time, so the answer's timing does not tell which one matched.
  const scraper = options.token ? createAuthenticator({ producers: [], admin: options.token }) : null;
  const auth: Authenticator = scraper
    ? {
        identify(token) {
          const asScraper = scraper.identify(token);
          const principal = options.auth.identify(token);
          return asScraper ?? principal;
        },
      }
    : options.auth;

  return new Hono().get('/', async (c) => {
    const principal = authenticate(c, auth, ADMIN);
    if (principal instanceof Response) return principal;
    const gauges = await store.readGauges();
    const text = toPrometheusText([
      ...toStoreGaugeFamilies(gauges, clock.now()),
      ...(metrics?.collect() ?? []),
    ]);
    return c.body(text, 200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'cache-control': 'no-store' });
  });
}
