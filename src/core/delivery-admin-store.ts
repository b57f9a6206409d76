import type { DeliveryStatus } from './delivery-state.ts';

/** Which deliveries an operator means; every field narrows, none = all. */
export interface DeliveryFilter {
  readonly status?: DeliveryStatus;
  /** The integration event's exact type, or `prefix.*`. */
  readonly type?: string;
  readonly subscriptionId?: string;
  /** Created at or after (epoch ms). */
  readonly since?: number;
  /** Created before (epoch ms). */
  readonly until?: number;
}

/** One delivery as the admin API lists it: no payload, no attempts. */
export interface DeliverySummary {
  readonly id: string;
  /** The domain event the delivery came from. */
  readonly eventId: string;
  readonly integrationEventId: string;
  /** The integration event's type. */
  readonly type: string;
  readonly subscriptionId: string;
  readonly url: string;
  readonly status: DeliveryStatus;
  /** Attempts over every generation. */
  readonly attempts: number;
  readonly nextAttemptAt: number;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** Replays so far. */
  readonly generation: number;
  /** The integration event's ordering key, null without one (DESIGN "Ordering"). */
  readonly orderingKey: string | null;
}

export type ReplayOutcome = 'replayed' | 'unchanged' | 'delivered' | 'not_found';

/** Keyset position: the last row of the previous page. */
export interface DeliveryCursor {
  readonly createdAt: number;
  readonly id: string;
}

/**
 * What operators do with deliveries: look at them, and replay dead ones. A replay moves a `dead`
 * delivery back to `pending` as a new generation (fresh retry budget, new transport dedup id);
 * nothing else moves, so replaying twice — or from two processes at once — replays once.
 */
export interface DeliveryAdminStore {
  /** Deliveries ordered by (createdAt, id), strictly after `after` when given. */
  listDeliveries(
    filter: DeliveryFilter & { readonly limit: number; readonly after?: DeliveryCursor },
  ): Promise<DeliverySummary[]>;
  /**
   * Replays one delivery if it is dead. `unchanged` when it is already due or in flight (the
   * replay is idempotent), `delivered` when there is nothing to replay; `delivery` is the row after.
   */
  replayDelivery(
    id: string,
    now: number,
  ): Promise<{ readonly outcome: ReplayOutcome; readonly delivery: DeliverySummary | null }>;
  /**
   * Replays every dead delivery matching the filter; returns how many moved. A `status` other than
   * `dead` matches nothing that can move.
   */
  replayDeliveries(filter: DeliveryFilter, now: number): Promise<number>;
  /**
   * Deletes dead deliveries created before `acceptedBefore`, oldest first, at most `limit`, with
   * their attempts; an event goes too once none of its deliveries remains (its id may then be
   * posted again as a new event). Runs in short transactions. `more`: dead deliveries before the
   * cutoff are left for another call.
   */
  purgeDeadDeliveries(input: {
    readonly acceptedBefore: number;
    readonly limit: number;
  }): Promise<{ readonly purged: number; readonly more: boolean }>;
}
