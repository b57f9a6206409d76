import type { DeliveryStatus } from './delivery-state.ts';

/** What the store says about the whole mesh: the same from every process, on every runtime. */
export interface StoreGauges {
  /** Deliveries in each status (every status present, 0 included). */
  readonly deliveries: Readonly<Record<DeliveryStatus, number>>;
  /**
   * When the delivery waiting longest fell due (epoch ms): the earliest `next_attempt_at` among
   * pending and retrying deliveries, those a paused subscription holds left out. Null when there
   * are none; later than now when none is due yet.
   */
  readonly earliestDueAt: number | null;
  /** Live subscriptions (deleted ones left out), by whether deliveries to them are held. */
  readonly subscriptions: { readonly active: number; readonly paused: number };
}

/**
 * The store's side of `GET /metrics`. One read, cheap on a big store (index counts, no table scan):
 * a scraper calls it every few seconds. One implementation per database family (SQL: libSQL, D1).
 */
export interface MetricsStore {
  readGauges(): Promise<StoreGauges>;
}
