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

/** A pending delivery leased for publishing to a transport that retries on its own (QStash). */
export interface LeasedForPublish extends LeasedDelivery {
  /**
   * The back-off applied after this delivery's last failed publish, 0 if none failed yet: a
   * transport doubles it for the next failure without a counter of its own (which a Worker's
   * short-lived isolates could not keep).
   */
  readonly lastPublishDelayMs: number;
}

/** A publish the transport accepted: from now on it owns the attempts and reports by callback. */
export interface PublishedRecord {
  readonly deliveryId: string;
  /** The lease holder; the record is dropped if the lease was lost meanwhile. */
  readonly owner: string;
  /** The generation published; a replay in between makes the record stale, and it is dropped. */
  readonly generation: number;
  /** The transport's id for the message (QStash `messageId`), which callbacks name. */
  readonly messageId: string;
  readonly at: number;
}

/** A publish that failed (transport down, refused, timed out): nothing was handed over. */
export interface PublishFailedRecord {
  readonly deliveryId: string;
  readonly owner: string;
  /** When the failure was seen; with `nextAttemptAt` it is what `lastPublishDelayMs` is read from. */
  readonly at: number;
  /** When to try publishing again. */
  readonly nextAttemptAt: number;
}

/** One attempt's outcome as a transport's callback reports it (QStash callback / failure callback). */
export interface CallbackReport {
  /** The message the callback is about (QStash `sourceMessageId`). */
  readonly messageId: string;
  /** The destination's HTTP status; null when no answer came (timeout, network error). */
  readonly status: number | null;
  /** Retries made before the reported attempt: 0 for the first. */
  readonly retried: number;
  /** Retries the transport allows the message. */
  readonly maxRetries: number;
  /** The answer carried `Upstash-NonRetryable-Error: true`. */
  readonly nonRetryable: boolean;
  /** The transport gave up on the message (failure callback): dead whatever the status says. */
  readonly failure: boolean;
  /** When the callback arrived: QStash does not say when the attempt itself was made. */
  readonly at: number;
  /** QStash does not report it; 0 when absent. */
  readonly durationMs?: number;
  readonly error: string | null;
  readonly responseExcerpt: string | null;
  /** The destination's `Retry-After`, read; used only to show when the next attempt is due. */
  readonly retryAfterMs?: number | null;
}

/**
 * What a callback did: `applied` (attempt recorded, state moved as far as it may), `duplicate`
 * (that attempt was recorded already: nothing changed), `unknown` (no delivery has that message id).
 */
export type CallbackOutcome = 'applied' | 'duplicate' | 'unknown';

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
  /**
   * For a transport that publishes (QStash): takes up to `limit` deliveries that are pending, never
   * published in this generation (no message id), due, and not under a live lease, and leases them
   * to `owner` until `now + leaseMs`. They stay `pending`. Atomic, like `leaseDue`: overlapping
   * sweeps never publish one delivery twice at once.
   */
  leaseForPublish(input: {
    owner: string;
    now: number;
    leaseMs: number;
    limit: number;
  }): Promise<LeasedForPublish[]>;
  /** Stores each message id, clears the lease and moves the delivery to `in_flight` — only where
   * `owner` still holds the lease on that generation; other records are dropped. */
  markPublished(records: readonly PublishedRecord[]): Promise<void>;
  /** Clears the lease and makes the delivery due again at `nextAttemptAt`, still `pending` — only
   * where `owner` still holds the lease. */
  markPublishFailed(records: readonly PublishFailedRecord[]): Promise<void>;
  /**
   * Records the attempt a callback reports, found by message id, numbered after the attempts of
   * earlier generations (so a repeated callback is a no-op), and moves the delivery: 2xx →
   * `delivered`; a failure callback, 489 non-retryable or `retried >= maxRetries` → `dead`; else
   * `retrying`. Never backwards: `delivered` and `dead` stay, and a late report of an older attempt
   * does not undo a newer one.
   */
  applyCallback(report: CallbackReport): Promise<CallbackOutcome>;
  /** Resolves when the database answers; used by /healthz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
