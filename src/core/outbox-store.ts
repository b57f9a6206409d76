import type { DeliveryStatus } from './delivery-state.ts';
import type { Subscription } from './subscription.ts';

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
}

/** What the store keeps of an accepted event, enough to answer a repeated POST. */
export interface StoredDomainEvent {
  readonly id: string;
  readonly type: string;
  readonly source: string;
  readonly data: string;
  readonly occurredAt: string | null;
  readonly metadata: string | null;
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
    readonly deliveries: readonly DeliveryView[];
  }[];
}

/** A delivery the dispatcher holds under a lease, with what it needs to send one attempt. */
export interface LeasedDelivery {
  readonly id: string;
  readonly url: string;
  readonly subscriptionId: string;
  /** `code` subscriptions are the operator's own (trusted); `api` ones go through the address guard. */
  readonly origin: 'code' | 'api';
  /** Attempts made so far over all generations; this attempt's number is `attempts + 1`. */
  readonly attempts: number;
  /** Retries made in this generation (`Upstash-Retried`). */
  readonly retried: number;
  readonly maxRetries: number;
  readonly retryDelay: string | null;
  readonly generation: number;
  readonly traceparent: string | null;
  readonly event: {
    readonly id: string;
    readonly type: string;
    readonly source: string;
    readonly time: string;
    readonly data: string;
  };
}

/** The outcome of one attempt, written only if the writer still holds the lease. */
export interface AttemptRecord {
  readonly deliveryId: string;
  readonly owner: string;
  readonly number: number;
  readonly at: number;
  readonly status: number | null;
  readonly durationMs: number;
  readonly error: string | null;
  readonly responseExcerpt: string | null;
  readonly next: 'delivered' | 'retrying' | 'dead';
  /** When the next attempt is due (retrying), else `at`. */
  readonly nextAttemptAt: number;
  /** Retries made in this generation after this attempt. */
  readonly retried: number;
}

/**
 * The outbox: where accepted events live until every subscriber has them. One implementation per
 * database (libSQL, D1), all held to `test/store/outbox-store.contract.ts`.
 */
export interface OutboxStore {
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
  /** Makes the code-declared subscriptions the stored ones of origin `code` (others are retired). */
  syncCodeSubscriptions(subscriptions: readonly Subscription[], now: number): Promise<void>;
  /**
   * Takes up to `limit` deliveries that are due (pending or retrying with `next_attempt_at <= now`,
   * or in flight under an expired lease) and leases them to `owner` until `now + leaseMs`. Atomic:
   * two dispatchers never lease the same delivery at once.
   */
  leaseDue(input: { owner: string; now: number; leaseMs: number; limit: number }): Promise<LeasedDelivery[]>;
  /** Records attempts and moves their deliveries on; a record whose lease was lost is dropped. */
  recordAttempts(records: readonly AttemptRecord[]): Promise<void>;
  /** Resolves when the database answers; used by /healthz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
