import type { LeasedDelivery } from './dispatch-queue.ts';

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

/**
 * One subscription's deliveries with one ordering key (DESIGN "Ordering"): a line that moves one
 * delivery at a time, in acceptance order.
 */
export interface OrderingKeyScope {
  readonly subscriptionId: string;
  readonly orderingKey: string;
}

/** A published delivery, found by the message id a callback names: what deciding its outcome needs. */
export interface PublishedDelivery {
  readonly id: string;
  readonly messageId: string;
  readonly subscriptionId: string;
  /** Its ordering key, null without one: settling a keyed delivery releases the next of its key. */
  readonly orderingKey: string | null;
  /** The subscription's delay expression copied at acceptance; null = QStash's default backoff. */
  readonly retryDelay: string | null;
  /**
   * Attempts made in earlier generations. While a generation is published this does not change
   * (each callback raises `attempts` and `retried` alike), so the attempt a callback reports is
   * number `earlierAttempts + retried + 1` whatever order callbacks arrive in.
   */
  readonly earlierAttempts: number;
}

/** One reported attempt and the state it moves its delivery to — decided in core (`toCallbackTransition`). */
export interface CallbackTransition {
  readonly deliveryId: string;
  /** Applied only while the delivery still carries this message id (a replay in between drops it). */
  readonly messageId: string;
  readonly number: number;
  readonly at: number;
  readonly status: number | null;
  readonly durationMs: number;
  readonly error: string | null;
  readonly responseExcerpt: string | null;
  readonly next: 'delivered' | 'retrying' | 'dead';
  /** When the next attempt is due (retrying), else `at`. */
  readonly nextAttemptAt: number;
  /** Retries seen in this generation once this attempt counts (the report's `retried` + 1). */
  readonly retried: number;
}

/**
 * A published delivery the transport has been silent about for too long: no callback since its
 * last word (publish, callback or check, `updated_at`) nor since its next attempt was due.
 */
export interface OverduePublished {
  readonly deliveryId: string;
  /** The message the transport was last asked to deliver; every update is applied under it. */
  readonly messageId: string;
}

/** What asking the transport about an overdue delivery found, and when. */
export interface PublishCheckRecord {
  readonly deliveryId: string;
  /** Applied only while the delivery still carries this message id (nothing new published since). */
  readonly messageId: string;
  readonly at: number;
}

/**
 * What a callback did: `applied` (attempt recorded, state moved as far as it may), `duplicate`
 * (that attempt was recorded already: nothing changed), `unknown` (no delivery has that message id).
 */
export type CallbackOutcome = 'applied' | 'duplicate' | 'unknown';

/**
 * The publishing transport's queue (QStash): pending deliveries out under a lease, publishes and
 * callbacks in. One implementation per database, held to `test/store/publish-queue.contract.ts`.
 */
export interface PublishQueue {
  /**
   * Takes up to `limit` deliveries that are pending, never published in this generation (no
   * message id), due, and not under a live lease, and leases them to `owner` until
   * `now + leaseMs`. They stay `pending`. Atomic: overlapping sweeps never publish one delivery
   * twice at once. Of the deliveries with one subscription and ordering key, only the earliest
   * accepted that is not yet delivered or dead is taken: the next waits until a callback settles it.
   *
   * With `only`, just that (subscription, key)'s head, if it is publishable by the rules above (at
   * most one, whatever `limit`): what a callback that settled the one before released, found
   * through the ordering index without reading anything else that is due.
   */
  leaseForPublish(input: {
    owner: string;
    now: number;
    leaseMs: number;
    limit: number;
    only?: OrderingKeyScope;
  }): Promise<LeasedForPublish[]>;
  /** Stores each message id, clears the lease and moves the delivery to `in_flight` — only where
   * `owner` still holds the lease on that generation; other records are dropped. */
  markPublished(records: readonly PublishedRecord[]): Promise<void>;
  /** Clears the lease and makes the delivery due again at `nextAttemptAt`, still `pending` — only
   * where `owner` still holds the lease. */
  markPublishFailed(records: readonly PublishFailedRecord[]): Promise<void>;
  /** The delivery currently published under `messageId`, or null (unknown, or replayed since). */
  findPublished(messageId: string): Promise<PublishedDelivery | null>;
  /**
   * Records a callback's attempt and applies its decided state, in one transaction. A repeat (that
   * attempt number recorded already) changes nothing: `duplicate`. Never backwards: `delivered`
   * and `dead` stay, and a late report of an older attempt (`retried` below the delivery's) is
   * recorded without setting its state or schedule.
   */
  applyCallback(transition: CallbackTransition): Promise<Exclude<CallbackOutcome, 'unknown'>>;
  /**
   * Up to `limit` published deliveries (`in_flight` or `retrying`, with a message id) whose last
   * word and next due attempt are both at or before `before` (the caller's now minus its grace):
   * the transport has said nothing about them for longer than it should have. Least recently heard
   * of first, so a check that moves a delivery's last word lets the next call reach others.
   */
  findOverdue(input: { before: number; limit: number }): Promise<OverduePublished[]>;
  /**
   * The transport still holds these messages (or could not be asked): their last word becomes
   * `at`, so they are not asked about again before `at` plus the caller's grace. State, schedule
   * and attempts stay. Only while still published under that message id and not settled.
   */
  markChecked(records: readonly PublishCheckRecord[]): Promise<void>;
  /**
   * The transport no longer has these messages and never reported an outcome: each becomes
   * `pending`, due at `at`, under a new generation (a new deduplication id) with a fresh retry
   * budget — a publish that failed, in effect. Only while still published under that message id
   * and `in_flight` or `retrying`: `delivered` and `dead` never move back. Returns the delivery
   * ids it changed.
   */
  markLost(records: readonly PublishCheckRecord[]): Promise<string[]>;
}
