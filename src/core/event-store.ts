import type { DeliveryStatus } from './delivery-state.ts';

/** A domain event ready to be written, with everything its converters produced. */
export interface NewDomainEvent {
  readonly id: string;
  readonly type: string;
  readonly source: string;
  /** JSON text of the validated data. */
  readonly data: string;
  readonly occurredAt: string | null;
  /** JSON text of the metadata object, or null. */
  readonly metadata: string | null;
  readonly traceparent: string | null;
  readonly receivedAt: number;
  /** The producer's `notBefore` (epoch ms), when given: no delivery is attempted before it. */
  readonly notBefore?: number;
  readonly integrationEvents: readonly NewIntegrationEvent[];
}

export interface NewIntegrationEvent {
  readonly id: string;
  readonly type: string;
  /** `ce-source`. */
  readonly source: string;
  /** `ce-time`, RFC 3339. */
  readonly time: string;
  /** The payload's JSON, byte for byte what subscribers receive. */
  readonly data: string;
  /**
   * The definition's ordering key: per subscription, deliveries with one key are attempted one at
   * a time, in acceptance order.
   */
  readonly orderingKey?: string;
}

/** What the store keeps of an accepted event, enough to answer a repeated POST. */
export interface StoredDomainEvent {
  readonly id: string;
  readonly type: string;
  readonly source: string;
  readonly data: string;
  readonly occurredAt: string | null;
  readonly metadata: string | null;
  /** Epoch ms, or null. */
  readonly notBefore: number | null;
  readonly integrationEvents: readonly { readonly id: string; readonly type: string }[];
}

export type AppendResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly existing: readonly string[] };

export interface AttemptView {
  readonly number: number;
  readonly at: number;
  readonly status: number | null;
  readonly durationMs: number;
  readonly error: string | null;
  readonly responseExcerpt: string | null;
}

export interface DeliveryView {
  readonly id: string;
  readonly subscriptionId: string;
  readonly url: string;
  readonly status: DeliveryStatus;
  readonly nextAttemptAt: number;
  readonly attempts: readonly AttemptView[];
}

export interface EventView {
  readonly id: string;
  readonly type: string;
  readonly source: string;
  readonly receivedAt: number;
  readonly occurredAt: string | null;
  readonly data: string;
  readonly metadata: string | null;
  readonly integrationEvents: readonly {
    readonly id: string;
    readonly type: string;
    readonly source: string;
    readonly time: string;
    readonly data: string;
    /**
     * Its definition's ordering key, null without one. The key is kept on the deliveries, so an
     * integration event that no subscription took (no delivery) reads null too.
     */
    readonly orderingKey: string | null;
    readonly deliveries: readonly DeliveryView[];
  }[];
}

/**
 * Where accepted events live: ingest appends them (with their deliveries), the API reads them.
 * One implementation per database (libSQL, D1), all held to `test/store/event-store.contract.ts`.
 */
export interface EventStore {
  /**
   * Writes the events, their integration events and one delivery per subscription that matches
   * at commit time — all of them or none. If any id exists already nothing is written and the
   * existing ids are returned.
   */
  appendEvents(events: readonly NewDomainEvent[]): Promise<AppendResult>;
  /** The stored events among `ids` (for idempotent replays). */
  findEvents(ids: readonly string[]): Promise<StoredDomainEvent[]>;
  /** One event with its integration events, deliveries and attempts. */
  getEvent(id: string): Promise<EventView | null>;
  /**
   * Resolves when the database answers and can write; used by /healthz. Rejects with a
   * `StoreUnavailableError` naming the reason when recent writes failed (a full disk).
   */
  ping(): Promise<void>;
}
