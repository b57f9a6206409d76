import type { DeliveryStatus } from '../core/delivery-state.ts';

/** `GET /v1/events/:id`'s answer (DESIGN.md "REST API"). More fields may come; these stay. */
export interface MeshEvent {
  readonly id: string;
  readonly type: string;
  /** The producer's name, from its token. */
  readonly source: string;
  readonly receivedAt: string;
  readonly occurredAt: string | null;
  readonly data: unknown;
  readonly metadata: Readonly<Record<string, unknown>> | null;
  readonly integrationEvents: readonly MeshIntegrationEvent[];
}

export interface MeshIntegrationEvent {
  readonly id: string;
  readonly type: string;
  readonly source: string;
  readonly time: string;
  readonly data: unknown;
  readonly deliveries: readonly MeshDelivery[];
}

export interface MeshDelivery {
  readonly id: string;
  readonly subscriptionId: string;
  readonly url: string;
  readonly status: DeliveryStatus;
  /** When the next attempt is due; null once delivered or dead. */
  readonly nextAttemptAt: string | null;
  readonly attempts: readonly MeshAttempt[];
}

/** A producer may see only numbers and statuses: `error` and `responseExcerpt` are the admin's. */
export interface MeshAttempt {
  readonly number: number;
  readonly at: string;
  readonly status: number | null;
  readonly durationMs: number;
  readonly error?: string | null;
  readonly responseExcerpt?: string | null;
}
