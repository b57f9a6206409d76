import {
  type Context,
  type Env,
  type ErrorHandler,
  type ExecutionContext,
  Hono,
  type NotFoundHandler,
  type Schema,
} from 'hono';
import { TrieRouter } from 'hono/router/trie-router';
import type { Clock } from '../core/clock.ts';
import type { DeliveryAdminStore } from '../core/delivery-admin-store.ts';
import { StoreUnavailableError } from '../core/errors.ts';
import type { EventSearch } from '../core/event-search.ts';
import type { EventStore } from '../core/event-store.ts';
import type { MeshMetrics } from '../core/metrics.ts';
import type { MetricsStore } from '../core/metrics-store.ts';
import type { SubscriptionUrlRules } from '../core/network-address.ts';
import type { Registry } from '../core/registry.ts';
import type { SubscriptionStore } from '../core/subscription-store.ts';
import { type Authenticator, createAuthenticator, type TokenConfig } from './auth.ts';
import { createDashboardRoutes } from './dashboard/dashboard-routes.tsx';
import { createDeliveriesRoutes } from './deliveries-routes.ts';
import { createEventsRoutes } from './events-routes.ts';
import { createIngestService } from './ingest.ts';
import { createMetricsRoutes } from './metrics-routes.ts';
import { createOpenApiRoutes } from './openapi/openapi-routes.ts';
import { problem, problemFromError } from './problem.ts';
import {
  createQStashCallbackRoutes,
  type QStashCallbackOptions,
  type QStashCallbackRoutesOptions,
} from './qstash-callback-routes.ts';
import { createSubscriptionsRoutes } from './subscriptions-routes.ts';

export interface ApiOptions {
  readonly registry: Registry;
  readonly events: EventStore;
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
  /**
   * The QStash transport runs: mount `POST /v1/qstash/callback` with these keys and its own URL,
   * recording outcomes in `queue`, and publishing the next of an ordering key once its head is
   * settled (`publishNextOfKey`).
   */
  readonly qstash?: QStashCallbackOptions & Pick<QStashCallbackRoutesOptions, 'queue' | 'publishNextOfKey'>;
  /**
   * Mounts `GET /metrics`: the store's gauges, and this process's counters (`process`, shared with
   * its dispatcher), which the API feeds with accepted events and QStash callbacks. `token` is
   * `HOOKMESH_METRICS_TOKEN`, good there beside the admin token.
   */
  readonly metrics?: {
    readonly store: MetricsStore;
    readonly process?: MeshMetrics;
    readonly token?: string | null;
  };
  /**
   * Mounts `GET /dashboard`, the operator's pages: they read the stores above, `eventSearch` and
   * the store's `gauges`, and make every change through this API, in process.
   */
  readonly dashboard?: { readonly eventSearch: EventSearch; readonly gauges: MetricsStore };
}

/**
 * The mesh's HTTP API, on web standards only: runs on Node, Deno and Workers alike.
 * @example const app = createApi({ registry, events, subscriptions, deliveries, urlRules, tokens, clock: systemClock, newId });
 */
export function createApi(options: ApiOptions) {
  const auth: Authenticator = createAuthenticator(options.tokens);
  const counted = options.metrics?.process;
  const ingest = createIngestService(
    counted ? { ...options, events: countAcceptedEvents(options.events, counted) } : options,
  );
  // Every domain event type has its accepted series from the start, at 0.
  if (counted) for (const type of options.registry.domainEvents.keys()) counted.countAccepted(type, 0);
  const maxBodyBytes = options.maxBodyBytes ?? 256 * 1024;
  // The trie router, named: SmartRouter's first choice, the RegExpRouter, refuses these routes
  // (`POST /v1/deliveries/retry` beside `/v1/deliveries/:id/retry`) and it fell back to this one
  // anyway — after compiling every route into a regex on the first request, which a Worker pays
  // in every new isolate.
  const app = new Hono({ router: new TrieRouter() });
  const onError: ErrorHandler = (error, c) => {
    const response = problemFromError(c, error);
    if (response.status >= 500) options.onError?.(error);
    return response;
  };
  const notFound: NotFoundHandler = (c) =>
    problem(c, 404, 'not-found', `no route ${c.req.method} ${c.req.path}`);
  app.onError(onError);
  app.notFound(notFound);

  app.get('/healthz', async (c) => {
    try {
      await options.events.ping();
      if (options.ready && !(await options.ready())) {
        return problem(c, 503, 'unavailable', 'migrations are not applied yet');
      }
      return c.json({ status: 'ok' });
    } catch (error) {
      // A full disk still answers reads: the store names what its last writes ran into.
      return error instanceof StoreUnavailableError
        ? problem(c, 503, 'unavailable', `storage: ${error.message}`, { reason: error.reason })
        : problem(c, 503, 'unavailable', 'the database does not answer');
    }
  });

  app.route(
    '/v1/events',
    createEventsRoutes({
      ingest,
      events: options.events,
      auth,
      maxBodyBytes,
      maxInFlight: options.maxInFlight ?? 256,
    }),
  );
  // Only the routes a first request is likely to need are composed with the app; the others are
  // composed on their first request, each in an app of its own: composing the API happens once per
  // Worker isolate, on its first request, and each route added costs the router a parse.
  const mountLazily = <TEnv extends Env, TSchema extends Schema, TBase extends string>(
    prefix: string,
    build: () => Hono<TEnv, TSchema, TBase>,
  ) => {
    let mounted: Hono | undefined;
    const serve = (c: Context) => {
      mounted ??= new Hono({ router: new TrieRouter() })
        .onError(onError)
        .notFound(notFound)
        .route(prefix, build());
      return mounted.fetch(c.req.raw, c.env, executionContextOf(c));
    };
    // One route: Hono's `/prefix/*` takes `/prefix` itself too (not `/prefixx`).
    app.all(`${prefix}/*`, serve);
  };
  mountLazily('/v1/subscriptions', () =>
    createSubscriptionsRoutes({
      subscriptions: options.subscriptions,
      auth,
      clock: options.clock,
      newId: options.newId,
      urlRules: options.urlRules,
    }),
  );
  mountLazily('/v1/deliveries', () =>
    createDeliveriesRoutes({ deliveries: options.deliveries, auth, clock: options.clock }),
  );
  const { qstash } = options;
  if (qstash) {
    mountLazily('/v1/qstash', () =>
      createQStashCallbackRoutes({
        ...qstash,
        clock: options.clock,
        ...(counted ? { metrics: counted } : {}),
      }),
    );
  }
  mountLazily('/openapi.json', () =>
    createOpenApiRoutes({
      auth,
      registry: options.registry,
      urlRules: options.urlRules,
      maxBodyBytes,
      qstashCallback: qstash !== undefined,
    }),
  );
  const { metrics } = options;
  if (metrics) {
    mountLazily('/metrics', () =>
      createMetricsRoutes({
        store: metrics.store,
        metrics: counted ?? null,
        auth,
        token: metrics.token ?? null,
        clock: options.clock,
      }),
    );
  }
  if (options.dashboard) {
    const { eventSearch, gauges } = options.dashboard;
    // The operator's pages — half the routes — wait for an operator.
    mountLazily('/dashboard', () =>
      createDashboardRoutes({
        adminToken: options.tokens.admin,
        auth,
        events: options.events,
        eventSearch,
        subscriptions: options.subscriptions,
        deliveries: options.deliveries,
        gauges,
        registry: options.registry,
        clock: options.clock,
        api: async (path, init) => app.request(path, init),
      }),
    );
  }
  return app;
}

/** The request's `ExecutionContext` where the host gives one (a Worker); Hono's getter throws without. */
function executionContextOf(c: Context): ExecutionContext | undefined {
  try {
    return c.executionCtx;
  } catch {
    return undefined;
  }
}

/** The event store, counting what each successful append newly accepted (a replay appends nothing). */
function countAcceptedEvents(events: EventStore, metrics: MeshMetrics): EventStore {
  return {
    ...events,
    async appendEvents(batch) {
      const result = await events.appendEvents(batch);
      if (result.ok) for (const event of batch) metrics.countAccepted(event.type);
      return result;
    },
  };
}
