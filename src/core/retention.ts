/** What a retention pass removed. */
export interface PurgeResult {
  readonly deliveries: number;
  readonly attempts: number;
  readonly inbox: number;
}

/**
 * Retention: delivered deliveries (with their attempts) and completed inbox entries older than a
 * cutoff are purged; dead deliveries stay until an operator replays or purges them; events stay,
 * so an old id posted again is still recognised as a replay.
 */
export interface RetentionStore {
  /** Purges at most `limit` deliveries per call (bounded work per cron tick). */
  purge(input: { deliveredBefore: number; limit: number }): Promise<PurgeResult>;
}
