/** What one retention batch removed. */
export interface PurgeResult {
  readonly events: number;
  readonly integrationEvents: number;
  readonly deliveries: number;
  readonly attempts: number;
}

/** Keyset position among domain events (oldest first): the last event a batch examined. */
export interface RetentionCursor {
  readonly receivedAt: number;
  readonly id: string;
}

/** Rows of the lookup tables a pass deleted because nothing refers to them any more. */
export interface PruneResult {
  /** `event_types` no domain or integration event holds. */
  readonly eventTypes: number;
  /** `endpoints` no subscription (deleted ones included) or delivery holds. */
  readonly endpoints: number;
  /** `subscription_refs` no subscription (deleted ones included) or delivery holds. */
  readonly subscriptionRefs: number;
}

/** Space handed back after a pass (a libSQL file; other stores report nothing). */
export interface ReclaimResult {
  /** Pages released to the file system by incremental vacuum. */
  readonly pagesFreed: number;
}

/**
 * Retention bounds the store: a domain event received before the cutoff whose every delivery is
 * delivered (also before the cutoff) — or that has no delivery at all — goes with its integration
 * events, deliveries and attempts. Events that keep a dead, pending or retrying delivery stay whole
 * until it is delivered, replayed or purged by an operator. So idempotency by id holds within the
 * retention window: an id posted again after its event was purged is accepted as new.
 */
export interface RetentionStore {
  /**
   * Purges at most `limit` events, in one short transaction, examining only events after `after`.
   * `next` is where the following batch starts, null once no older event is left to examine.
   */
  purge(input: {
    readonly before: number;
    readonly limit: number;
    readonly after?: RetentionCursor | undefined;
  }): Promise<PurgeResult & { readonly next: RetentionCursor | null }>;
  /**
   * Deletes lookup rows (event types, endpoints, subscription numbers) that nothing refers to any
   * more, so a mesh whose types, URLs and subscriptions churn for months keeps them bounded too:
   * at most `limit` subscription numbers, and a few endpoints and types while the table that would
   * hold them (deliveries, integration events) has at most `holderRows` rows — no index says
   * whether one still does, so deleting one reads that table under the write lock. Each table's
   * check and delete are one statement: an ingest committed before or after it keeps its rows.
   */
  prune(input: { readonly limit: number; readonly holderRows: number }): Promise<PruneResult>;
  /** Hands freed pages back and keeps the write-ahead log small; a no-op where the host does it. */
  reclaim(): Promise<ReclaimResult>;
}

export interface RetentionPassOptions {
  /** Cutoff (epoch ms): events and deliveries older than this may go. */
  readonly before: number;
  /** Events per transaction: small, so ingest never waits long on the write lock. */
  readonly batch?: number;
  /**
   * Batches per pass, so one pass has bounded work (a cron tick, an hourly timer); by default as
   * many as make `RETENTION_PASS_EVENTS`.
   */
  readonly maxBatches?: number;
  /**
   * Awaited between two batches with how long the last one took (ms). Where other processes or
   * threads write the same file, `pauseForLockShare` leaves them most of the write lock's time:
   * back to back, the purge would take it again before a waiting writer tries again.
   */
  readonly between?: (batchMs: number) => Promise<void>;
  /** The clock `between` is told durations by (ms, monotonic); `performance.now` by default. */
  readonly now?: () => number;
  /** `RetentionStore.prune`'s `holderRows`: `RETENTION_PRUNE_HOLDER_ROWS` unless told. */
  readonly holderRows?: number;
}

/**
 * A pause after each batch so that the purge holds the write lock at most `share` of the time
 * (at least 1 ms): a batch that held it 3 ms is followed by 12 ms without it at a share of 0.2,
 * 57 ms at 0.05.
 * SQLite's lock is not fair: back to back, a purge takes it again before a waiting writer retries.
 * @example await runRetentionPass(store, { before, between: pauseForLockShare(RETENTION_LOCK_SHARE) });
 */
export function pauseForLockShare(share: number): (batchMs: number) => Promise<void> {
  return (batchMs) => new Promise((resolve) => setTimeout(resolve, lockSharePauseMs(batchMs, share)));
}

/** How long `pauseForLockShare` waits after a batch of `batchMs` (whole ms, at least 1). */
export function lockSharePauseMs(batchMs: number, share: number): number {
  return Math.max(1, Math.ceil(batchMs * (1 / share - 1)));
}

export const RETENTION_BATCH = 500;

/**
 * Endpoints and event types are pruned only while deliveries and integration events each hold at
 * most this many rows: deleting one reads that table whole under the write lock, twice (the check
 * and the foreign key's), ~80 ns a row on this machine (16 ms for 200,000 rows, 2026-12-03): ~3 ms
 * here. A larger store keeps its few unreferenced ones.
 */
export const RETENTION_PRUNE_HOLDER_ROWS = 20_000;

const NOTHING_PRUNED: PruneResult = { eventTypes: 0, endpoints: 0, subscriptionRefs: 0 };

/** Events one pass examines at most unless told (`maxBatches`): 200 batches of 500, 2,000 of 50. */
export const RETENTION_PASS_EVENTS = 100_000;

/**
 * Events per batch where ingest writes the same file beside the purge (the local mesh). A batch's
 * write costs a fixed ~1 ms (its commit's sync) and ~17 µs an event (2.6 ms for 100, 1.2 for 25,
 * 8.7 for 400: p50 on a 200k store, 2026-12-03): every ingest commit that meets a batch waits out
 * the rest of it, so half of 100 halves that wait for a third less purged per ms of lock (issue 11).
 */
export const LOCAL_RETENTION_BATCH = 50;

/**
 * The write lock's share the local purge takes at most: ingest meets a batch in about one commit
 * in twenty. Beside wrk's ingest (bench:scale --purge, 2026-12-03, a shared machine) batches of 50
 * at this share purged 334-574 events/s with ingest p99 0.73-0.95 of the figure without them; 50
 * at 0.1 ~700/s (0.98-1.01), 100 at 0.2 (the setting before) 2,000-2,700/s (0.85-1.97 that day,
 * 1.11 and 0.93 on a quieter one). That is 3-5 times the 100 events/s the store is sized for with
 * ingest saturating the machine; a quieter one purges faster (each batch's pause is 19 times its
 * length), and a day's backlog (8.6 million events) goes in under 7 hours even so.
 */
export const RETENTION_LOCK_SHARE = 0.05;

/**
 * One retention pass: batches of old, settled events purged oldest first; once a pass has purged
 * what was left, the lookup rows nothing refers to any more (`prune`); then the space reclaimed.
 * @example const removed = await runRetentionPass(stores.retention, { before: now - 7 * 86_400_000 });
 */
export async function runRetentionPass(
  store: RetentionStore,
  options: RetentionPassOptions,
): Promise<PurgeResult & PruneResult & { readonly done: boolean; readonly pagesFreed: number }> {
  const batch = options.batch ?? RETENTION_BATCH;
  const maxBatches = options.maxBatches ?? Math.ceil(RETENTION_PASS_EVENTS / batch);
  let total = { events: 0, integrationEvents: 0, deliveries: 0, attempts: 0 };
  let after: RetentionCursor | undefined;
  let done = false;
  const now = options.now ?? (() => performance.now());
  for (let round = 0; round < maxBatches; round++) {
    const startedAt = now();
    const { next, ...removed } = await store.purge({ before: options.before, limit: batch, after });
    total = {
      events: total.events + removed.events,
      integrationEvents: total.integrationEvents + removed.integrationEvents,
      deliveries: total.deliveries + removed.deliveries,
      attempts: total.attempts + removed.attempts,
    };
    if (next === null) {
      done = true;
      break;
    }
    after = next;
    if (options.between !== undefined && round + 1 < maxBatches) await options.between(now() - startedAt);
  }
  // Only a pass that purged something can have left a lookup row unreferenced (a subscription's
  // URL change leaves its old endpoint to the deliveries that hold it), and only once the backlog
  // is gone: passes a second apart while catching up would otherwise read the same rows again.
  const pruned =
    done && total.events > 0
      ? await store.prune({
          limit: batch,
          holderRows: options.holderRows ?? RETENTION_PRUNE_HOLDER_ROWS,
        })
      : NOTHING_PRUNED;
  const { pagesFreed } = total.events > 0 ? await store.reclaim() : { pagesFreed: 0 };
  return { ...total, ...pruned, done, pagesFreed };
}

/** Between passes once the last one found nothing more to purge. */
export const RETENTION_EVERY_MS = 3_600_000;
/** Between passes while the last one stopped at its batch limit: a backlog is being worked off. */
export const RETENTION_CATCH_UP_MS = 1_000;

/**
 * When the next pass runs: an hour after a pass that purged all it could, a second after one that
 * stopped at `maxBatches` (100,000 events). One pass an hour would otherwise purge at most 100,000
 * events an hour while 100 events/s bring 360,000: the store would grow without bound. The second
 * between passes leaves the write lock to ingest.
 */
export function nextRetentionDelay(pass: { readonly done: boolean }): number {
  return pass.done ? RETENTION_EVERY_MS : RETENTION_CATCH_UP_MS;
}
