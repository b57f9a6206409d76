import type { Clock } from '../../core/clock.ts';
import type { DeliveryAdminStore } from '../../core/delivery-admin-store.ts';
import type { EventSearch } from '../../core/event-search.ts';
import type { EventStore } from '../../core/event-store.ts';
import type { MetricsStore } from '../../core/metrics-store.ts';
import type { Registry } from '../../core/registry.ts';
import type { SubscriptionStore } from '../../core/subscription-store.ts';
import type { Authenticator } from '../auth.ts';
import type { ApiCall } from './api-actions.ts';

export interface DashboardOptions {
  /** The admin token the session stands for; null: the dashboard says it is not configured. */
  readonly adminToken: string | null;
  /** Checks the sign-in form's token as the API checks bearer tokens (constant time). */
  readonly auth: Authenticator;
  readonly events: Pick<EventStore, 'getEvent'>;
  readonly eventSearch: EventSearch;
  readonly subscriptions: Pick<SubscriptionStore, 'listSubscriptions'>;
  readonly deliveries: Pick<DeliveryAdminStore, 'listDeliveries'>;
  /** The store's gauges, as `GET /metrics` reads them. */
  readonly gauges: MetricsStore;
  readonly registry: Pick<Registry, 'domainEvents' | 'integrationEvents'>;
  readonly clock: Clock;
  /**
   * The mesh's API, in process: every change the dashboard makes goes through it (and the event
   * catalog comes from its `/openapi.json`).
   */
  readonly api: ApiCall;
  /** How long a session lasts (default 12 h). */
  readonly sessionTtlMs?: number;
}
