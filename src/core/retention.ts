/** What a retention pass removed. */
export interface PurgeResult {
  readonly deliveries: number;
  readonly attempts: number;
}

/**
 * Retention: delivered deliveries (with their attempts) older than a cutoff are purged (handled
 * inbox entries are purged by the inbox itself, past the longest retry schedule); dead deliveries stay until an operator replays or purges them; events stay,
 * so an old id posted again is still recognised as a replay.
 */
export interface RetentionStore {
  /** Purges at most `limit` deliveries per call (bounded work per cron tick). */
  purge(input: { deliveredBefore: number; limit: number }): Promise<PurgeResult>;
}
