import type { DeliveryStatus } from './delivery-state.ts';

/** Keyset position in a newest-first list of events: the last row of the previous page. */
export interface EventCursor {
  readonly receivedAt: number;
  readonly id: string;
}

/** One accepted domain event as a list shows it: no payload, its deliveries counted by status. */
export interface EventSummary {
  readonly id: string;
  readonly type: string;
  readonly source: string;
  readonly receivedAt: number;
  readonly integrationEvents: number;
  /** Deliveries of its integration events, per status; statuses with none are left out. */
  readonly deliveries: Readonly<Partial<Record<DeliveryStatus, number>>>;
}

/**
 * What an operator browses accepted events by (the dashboard's events page and overview). Reads
 * only, from indexes: a page is a range of the `received_at` index, never a scan of the table.
 */
export interface EventSearch {
  /** Events newest first (by `receivedAt`, then id), strictly after `after` when given. */
  listEvents(filter: {
    /** A domain event type, exactly. */
    readonly type?: string;
    readonly limit: number;
    readonly after?: EventCursor;
  }): Promise<EventSummary[]>;
  /** How many events were received at or after `since` (epoch ms). */
  countEventsSince(since: number): Promise<number>;
}
