import { type ApiOptions, createApi } from '../api/app.ts';
import type { TokenConfig } from '../api/auth.ts';
import type { Clock } from '../core/clock.ts';
import type { DeliveryAdminStore } from '../core/delivery-admin-store.ts';
import type { EventStore } from '../core/event-store.ts';
import { createIdGenerator, type RandomSource } from '../core/ids.ts';
import type { SubscriptionUrlRules } from '../core/network-address.ts';
import { createRegistry, type MeshDefinitions } from '../core/registry.ts';
import type { SubscriptionStore } from '../core/subscription-store.ts';
import type { Logger } from './log.ts';
import { createFailureLog } from './log.ts';

export interface MeshParts {
  readonly definitions: MeshDefinitions;
  readonly events: EventStore;
  readonly subscriptions: SubscriptionStore;
  readonly deliveries: DeliveryAdminStore;
  readonly urlRules: SubscriptionUrlRules;
  readonly tokens: TokenConfig;
  readonly clock: Clock;
  readonly random?: RandomSource;
  readonly log: Logger;
  readonly ready?: () => Promise<boolean>;
  /** With the QStash transport: where QStash reports outcomes, and the keys its calls are signed with. */
  readonly qstash?: ApiOptions['qstash'];
  /** `GET /metrics`: the store's gauges, this process's counters and the metrics token. */
  readonly metrics?: ApiOptions['metrics'];
  /** `GET /dashboard`: the event search and the store's gauges its pages read. */
  readonly dashboard?: ApiOptions['dashboard'];
}

/**
 * Composes the mesh from its parts, the same on every runtime: the runtime entries only read
 * their environment, open the database and serve `app.fetch`.
 */
export async function createMesh(parts: MeshParts) {
  const registry = createRegistry(parts.definitions);
  await parts.subscriptions.syncCodeSubscriptions(registry.subscriptions, parts.clock.now());
  const newId = createIdGenerator(parts.clock, parts.random);
  const logFailure = createFailureLog(parts.log);
  const app = createApi({
    registry,
    events: parts.events,
    subscriptions: parts.subscriptions,
    deliveries: parts.deliveries,
    urlRules: parts.urlRules,
    tokens: parts.tokens,
    clock: parts.clock,
    newId,
    ...(parts.ready ? { ready: parts.ready } : {}),
    ...(parts.qstash ? { qstash: parts.qstash } : {}),
    ...(parts.metrics ? { metrics: parts.metrics } : {}),
    ...(parts.dashboard ? { dashboard: parts.dashboard } : {}),
    onError: (error) => logFailure('request failed', error),
  });
  return { app, registry };
}
