import { Hono } from 'hono';
import type { Clock } from '../core/clock.ts';
import type { DeliveryAdminStore } from '../core/delivery-admin-store.ts';
import type { SubscriptionUrlRules } from '../core/network-address.ts';
import type { OutboxStore } from '../core/outbox-store.ts';
import type { Registry } from '../core/registry.ts';
import type { SubscriptionStore } from '../core/subscription-store.ts';
import { type Authenticator, createAuthenticator, type TokenConfig } from './auth.ts';
import { createDeliveriesRoutes } from './deliveries-routes.ts';
import { createEventsRoutes } from './events-routes.ts';
import { createIngestService } from './ingest.ts';
import { problem, problemFromError } from './problem.ts';
import { createQStashCallbackRoutes, type QStashCallbackOptions } from './qstash-callback-routes.ts';
import { createSubscriptionsRoutes } from './subscriptions-routes.ts';

export interface ApiOptions {
  readonly registry: Registry;
  readonly store: OutboxStore;
  readonly subscriptions: SubscriptionStore;
  readonly deliveries: DeliveryAdminStore;
  /** What API-created subscriptions may target (DESIGN "Trust"); production: https, no private network. */
  readonly urlRules: SubscriptionUrlRules;
  readonly tokens: TokenConfig;
  readonly clock: Clock;
  readonly newId: () => string;
  /** Resolves true once migrations are applied; /healthz answers 503 until then. */
  readonly ready?: () => Promise<boolean>;
  readonly maxBodyBytes?: number;
  readonly maxInFlight?: number;
  /** Where unexpected errors go; never given secrets. */
  readonly onError?: (error: unknown) => void;
  /** The QStash transport runs: mount `POST /v1/qstash/callback` with these keys and its own URL. */
  readonly qstash?: QStashCallbackOptions;
}

/**
 * The mesh's HTTP API, on web standards only: runs on Node, Deno and Workers alike.
 * @example const app = createApi({ registry, store, subscriptions, deliveries, urlRules, tokens, clock: systemClock, newId });
 */
export function createApi(options: ApiOptions) {
  const auth: Authenticator = createAuthenticator(options.tokens);
  const ingest = createIngestService(options);
  const app = new Hono();

  app.onError((error, c) => {
    const response = problemFromError(c, error);
    if (response.status >= 500) options.onError?.(error);
    return response;
  });
  app.notFound((c) => problem(c, 404, 'not-found', `no route ${c.req.method} ${c.req.path}`));

  app.get('/healthz', async (c) => {
    try {
      await options.store.ping();
      if (options.ready && !(await options.ready())) {
        return problem(c, 503, 'unavailable', 'migrations are not applied yet');
      }
      return c.json({ status: 'ok' });
    } catch {
      return problem(c, 503, 'unavailable', 'the database does not answer');
    }
  });

  app.route(
    '/v1/events',
    createEventsRoutes({
      ingest,
      store: options.store,
      auth,
      maxBodyBytes: options.maxBodyBytes ?? 256 * 1024,
      maxInFlight: options.maxInFlight ?? 256,
    }),
  );
  app.route(
    '/v1/subscriptions',
    createSubscriptionsRoutes({
      subscriptions: options.subscriptions,
      auth,
      clock: options.clock,
      newId: options.newId,
      urlRules: options.urlRules,
    }),
  );
  app.route(
    '/v1/deliveries',
    createDeliveriesRoutes({ deliveries: options.deliveries, auth, clock: options.clock }),
  );
  if (options.qstash) {
    app.route(
      '/v1/qstash',
      createQStashCallbackRoutes({ ...options.qstash, store: options.store, clock: options.clock }),
    );
  }
  return app;
}
