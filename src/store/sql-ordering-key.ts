/**
 * The condition of the partial index `deliveries_ordering` (schema.ts, migration 0006) after its
 * `ordering_key IS NOT NULL`: a delivery not yet settled (delivered or dead). SQLite uses a
 * partial index only when the query carries each of its terms word for word, so the lease
 * queries build theirs from this one string.
 */
export const ORDERING_UNSETTLED = `(status = 'pending' OR status = 'in_flight' OR status = 'retrying')`;

/**
 * SQL true when the delivery `x` (an alias of `deliveries`) may be attempted as far as ordering
 * keys go (DESIGN "Ordering"): it has no key, or no delivery of its subscription and key accepted
 * before it (a lower rowid: SQLite hands rowids out in commit order) is still unsettled — pending
 * (a delayed one, or a replayed one, included), in flight, or retrying. So per (subscription, key)
 * one goes at a time, in acceptance order, each after the one before is delivered or dead.
 *
 * A keyless delivery stops at `IS NULL`. A keyed one costs one probe of `deliveries_ordering`,
 * whose entries are the unsettled deliveries of one (subscription, key) in rowid order: the first
 * entry of that range decides.
 * @example `... WHERE x.status = 'pending' AND ${isFirstOfItsKey('x')}`
 */
export function isFirstOfItsKey(x: string): string {
  return `(${x}.ordering_key IS NULL OR NOT EXISTS (
    SELECT 1 FROM deliveries e
    WHERE e.subscription_ref = ${x}.subscription_ref AND e.ordering_key = ${x}.ordering_key
      AND ${ORDERING_UNSETTLED.replaceAll('status', 'e.status')} AND e.rowid < ${x}.rowid))`;
}
