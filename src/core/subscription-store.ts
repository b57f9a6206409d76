import type { Subscription } from './subscription.ts';
import type { SubscriptionFilter } from './subscription-filter.ts';

/** Why a subscription is paused: an operator paused it, or (issue 10) the circuit breaker did. */
export type PauseReason = 'manual' | 'failing';

/**
 * A subscription as stored: the definition, when it was created and last changed (epoch ms), and
 * whether it is paused — operational state, kept for code-declared subscriptions across starts.
 */
export type StoredSubscription = Subscription & {
  readonly createdAt: number;
  readonly updatedAt: number;
  /** When it was paused; null while active. A paused subscription's deliveries are held. */
  readonly pausedAt: number | null;
  readonly pausedReason: PauseReason | null;
};

export interface NewSubscription {
  readonly id: string;
  /** Exact integration event type or `prefix.*`, already validated. */
  readonly type: string;
  /** Already checked against the URL rules (DESIGN "Trust"). */
  readonly url: string;
  readonly retries: number;
  /** A delay expression already parsed once; null = QStash's default backoff. */
  readonly retryDelay: string | null;
  readonly maxConcurrency: number;
  readonly pauseAfter: number;
  /** Created paused (reason `manual`): its deliveries wait until it is resumed. */
  readonly paused: boolean;
  /** Already validated (`compileFilter`); null or absent = every event of its type. */
  readonly filter?: SubscriptionFilter | null;
  readonly now: number;
}

export interface SubscriptionPatch {
  readonly type?: string;
  readonly url?: string;
  readonly retries?: number;
  readonly retryDelay?: string | null;
  readonly maxConcurrency?: number;
  readonly pauseAfter?: number;
  /**
   * `true` pauses (reason `manual`; an earlier pause keeps its time), `false` resumes: held
   * deliveries are due at once, however long ago they fell due.
   */
  readonly paused?: boolean;
  /** A new filter (validated), or null to remove it. */
  readonly filter?: SubscriptionFilter | null;
}

/**
 * The subscriptions the admin API manages, and those declared in code. The store does what it is
 * told: refusing to change a code-declared subscription is the API's decision, not the store's.
 * Ingest reads the same rows (matching at commit time), so a change applies to events accepted
 * after it; the transports' leases read the pause and `maxConcurrency` as they lease.
 */
export interface SubscriptionStore {
  /**
   * Makes the code-declared subscriptions the stored ones of origin `code` (others of origin `code`
   * are retired); run at start, so a deploy's definitions apply to events accepted after it. A
   * pause is operational and survives the sync.
   */
  syncCodeSubscriptions(subscriptions: readonly Subscription[], now: number): Promise<void>;
  /** Creates a subscription of origin `api`. */
  createSubscription(subscription: NewSubscription): Promise<StoredSubscription>;
  /**
   * Subscriptions not deleted, of both origins, paused or not, ordered by creation time then id.
   * `type` selects those whose type (or pattern) is exactly that string.
   */
  listSubscriptions(filter?: { readonly type?: string }): Promise<StoredSubscription[]>;
  /** A subscription not deleted, or null (unknown or deleted). */
  getSubscription(id: string): Promise<StoredSubscription | null>;
  /** Changes the given fields of a subscription not deleted; null when there is none. */
  updateSubscription(id: string, patch: SubscriptionPatch, now: number): Promise<StoredSubscription | null>;
  /**
   * Soft-deletes (sets `deleted_at`): deliveries already made keep pointing at it. False when no
   * subscription not deleted has that id.
   */
  deleteSubscription(id: string, now: number): Promise<boolean>;
}
