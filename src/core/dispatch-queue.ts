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

/**
 * The outcome of one attempt, decided in core (`decideAttemptOutcome`), written only if the
 * writer still holds the lease.
 */
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
 * The local transport's queue: due deliveries out under a lease, attempt outcomes in. One
 * implementation per database, held to `test/store/dispatch-queue.contract.ts`.
 */
export interface DispatchQueue {
  /**
   * Takes up to `limit` deliveries that are due (pending or retrying with `next_attempt_at <= now`,
   * or in flight under an expired lease) and leases them to `owner` until `now + leaseMs`. Atomic:
   * two dispatchers never lease the same delivery at once. A delivery with an ordering key is due
   * only while no delivery of its subscription and key accepted before it is pending, in flight or
   * retrying (DESIGN "Ordering").
   */
  leaseDue(input: LeaseInput): Promise<LeasedDelivery[]>;
  /** Records attempts and moves their deliveries on; a record whose lease was lost is dropped. */
  recordAttempts(records: readonly AttemptRecord[]): Promise<void>;
  /**
   * `recordAttempts(records)` then `leaseDue(lease)` as one transaction: one commit (one fsync)
   * where the two would cost two, and the slots the records free are refilled at once. Records
   * are durable before the call resolves, as with `recordAttempts`. Optional: a queue without it
   * gets the two calls. Do not mix it with `leaseDue` for one owner at the same time.
   */
  recordAndLease?(records: readonly AttemptRecord[], lease: LeaseInput): Promise<LeasedDelivery[]>;
}

export interface LeaseInput {
  readonly owner: string;
  readonly now: number;
  readonly leaseMs: number;
  readonly limit: number;
}
