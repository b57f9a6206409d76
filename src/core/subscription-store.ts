import type { Subscription } from './subscription.ts';

/** A subscription as stored: the definition plus when it was created and last changed (epoch ms). */
export type StoredSubscription = Subscription & { readonly createdAt: number; readonly updatedAt: number };

export interface NewSubscription {
  readonly id: string;
  /** Exact integration event type or `prefix.*`, already validated. */
  readonly type: string;
  /** Already checked against the URL rules (DESIGN "Trust"). */
  readonly url: string;
  readonly retries: number;
  /** A delay expression already parsed once; null = QStash's default backoff. */
  readonly retryDelay: string | null;
  readonly now: number;
}

export interface SubscriptionPatch {
  readonly type?: string;
  readonly url?: string;
  readonly retries?: number;
  readonly retryDelay?: string | null;
}

/**
 * The subscriptions the admin API manages. The store does what it is told: refusing to change a
 * code-declared subscription is the API's decision, not the store's. Ingest reads the same rows
 * (matching at commit time), so a change applies to events accepted after it.
 */
export interface SubscriptionStore {
  /** Creates a subscription of origin `api`. */
  createSubscription(subscription: NewSubscription): Promise<StoredSubscription>;
  /**
   * Active subscriptions of both origins, ordered by creation time then id. `type` selects those
   * whose type (or pattern) is exactly that string.
   */
  listSubscriptions(filter?: { readonly type?: string }): Promise<StoredSubscription[]>;
  /** An active subscription, or null (unknown or deleted). */
  getSubscription(id: string): Promise<StoredSubscription | null>;
  /** Changes the given fields of an active subscription; null when there is none. */
  updateSubscription(id: string, patch: SubscriptionPatch, now: number): Promise<StoredSubscription | null>;
  /**
   * Soft-deletes (sets `deleted_at`): deliveries already made keep pointing at it. False when no
   * active subscription has that id.
   */
  deleteSubscription(id: string, now: number): Promise<boolean>;
}
