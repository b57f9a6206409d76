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
  /** Why no response came; null when one did, as it always has for a delivered attempt. */
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

/**
 * The hand-off (HOOKMESH_ROLE=all): where one process both accepts events and delivers them,
 * ingest's transaction writes the new deliveries that are due now already leased to this
 * process's dispatcher, and gives them to it after the commit — one lease transaction (and its
 * fsync) fewer between a POST and its delivery. The lease is the ordinary kind: if the dispatcher
 * never sends it (the process dies), the delivery goes again once it lapses.
 */
export interface DeliveryHandOff {
  /** The dispatcher's lease: its owner and term. */
  readonly owner: string;
  readonly leaseMs: number;
  now(): number;
  /**
   * Before a write: the slots the dispatcher sets aside for it — the most deliveries the write may
   * lease to it. 0: none (stopped, or busy), the write leases nothing.
   */
  reserve(): number;
  /** After every write, once: what it leased (nothing when it failed) and how to read them. */
  settle(outcome: HandOffOutcome): void;
}

export interface HandOffOutcome {
  /** What `reserve` gave this write: the slots to use or give back. */
  readonly reserved: number;
  /** Deliveries the commit leased to the dispatcher (0 when the write failed). */
  readonly leased: number;
  /**
   * Deliveries the commit wrote without a lease (due later, held by their ordering key, no room,
   * no slot): the poll's, which a nudge sends at once when they are due.
   */
  readonly unleased: number;
  /** Reads the deliveries the commit leased (with what an attempt needs). */
  load(): Promise<LeasedDelivery[]>;
}
