import { createFilterIndex, type FilteredSubscription, type FilterIndex } from '../core/filter-index.ts';
import type { SqlDriver, SqlRow, SqlStatement } from './sql-driver.ts';
import { toInteger, toText } from './sql-row.ts';

/**
 * The filtered subscriptions as of one revision of `subscription_revision` (migration 0005). A
 * filter is JSON the database cannot evaluate, so ingest evaluates it here and hands the matching
 * ids to the delivery INSERT … SELECT; the batch's first statement ({@link toSnapshotGuard})
 * makes it fail when the revision moved, so a snapshot is never applied to subscriptions it
 * does not describe — on any process, without an interactive transaction (D1 has none).
 */
export interface FilterSnapshot {
  /** Null for {@link NO_FILTERS_PRESUMED}: a guard on "none exist", not on a revision. */
  readonly revision: number | null;
  readonly index: FilterIndex;
}

/**
 * What a process presumes before it has read a snapshot: no filtered subscription at all. A write
 * on it is guarded by "none exist" (see {@link toSnapshotGuard}) and reads the real snapshot in the
 * same round trip (`SqlDriver.queryAfter`), so a process's first write needs no read before it.
 */
export const NO_FILTERS_PRESUMED: FilterSnapshot = { revision: null, index: createFilterIndex([]) };

/**
 * A per-process cache of the snapshot. Steady state costs no query: the guard in each batch checks
 * it, and only a stale one (the batch failed with {@link isStaleSnapshotError}) is reloaded.
 */
export interface FilterSnapshotCache {
  current(): Promise<FilterSnapshot>;
  /**
   * {@link NO_FILTERS_PRESUMED} until this process has known a snapshot (read, or given to
   * `remember`) or seen the presumption refuted; null after.
   */
  presumption(): FilterSnapshot | null;
  /** Keeps a snapshot read along with a write (`SNAPSHOT_QUERY` after it), unless one is cached. */
  remember(snapshot: FilterSnapshot): void;
  /** Forgets `stale` (unless a newer one replaced it already), so `current()` reloads. */
  invalidate(stale: FilterSnapshot): void;
}

/** The name of the CHECK a stale snapshot trips; nothing else in the schema carries it. */
const STALE_CONSTRAINT = 'subscriptions_changed';

/**
 * @example const filters = createFilterSnapshotCache(driver); const { revision, index } = await filters.current();
 */
export function createFilterSnapshotCache(driver: SqlDriver): FilterSnapshotCache {
  // A value, never a shared promise: on a Worker a promise made in one request's I/O context must
  // not be awaited by another.
  let cached: FilterSnapshot | null = null;
  let presume = true;
  return {
    async current() {
      if (cached !== null) return cached;
      const loaded = await loadFilterSnapshot(driver);
      cached = loaded;
      presume = false;
      return loaded;
    },
    presumption: () => (presume && cached === null ? NO_FILTERS_PRESUMED : null),
    remember(snapshot) {
      cached ??= snapshot;
      presume = false;
    },
    invalidate(stale) {
      if (stale === NO_FILTERS_PRESUMED) presume = false;
      if (cached === stale) cached = null;
    },
  };
}

/**
 * Reads the revision and the filtered subscriptions in one statement, so they agree with each
 * other.
 */
export async function loadFilterSnapshot(driver: SqlDriver): Promise<FilterSnapshot> {
  return toFilterSnapshot(await driver.query(SNAPSHOT_QUERY));
}

/** The revision and the filtered subscriptions, one row per subscription (one with nulls if none). */
export const SNAPSHOT_QUERY = `SELECT r.revision AS revision, s.id AS id, s.type AS type, s.filter AS filter
     FROM subscription_revision r
     LEFT JOIN subscriptions s ON s.filter IS NOT NULL AND s.deleted_at IS NULL
     WHERE r.id = 0`;

/** The snapshot in the rows of {@link SNAPSHOT_QUERY}. */
export function toFilterSnapshot(rows: readonly SqlRow[]): FilterSnapshot {
  if (rows.length === 0) throw new Error('subscription_revision has no row 0: migration 0005 is missing');
  const filtered: FilteredSubscription[] = rows
    .filter((r) => r.id !== null && r.id !== undefined)
    .map((r) => ({ id: toText(r.id), type: toText(r.type), filter: toText(r.filter) }));
  return { revision: toInteger(rows[0]!.revision), index: createFilterIndex(filtered) };
}

/**
 * The statement that fails the batch (CHECK `subscriptions_changed`) when filtered subscriptions
 * changed since `revision`; when they did not, it writes nothing (a primary-key read). For
 * {@link NO_FILTERS_PRESUMED} (`null`), when any filtered subscription exists.
 */
export function toSnapshotGuard(revision: number | null): SqlStatement {
  if (revision === null) {
    return {
      sql: `INSERT INTO subscription_revision (id, revision)
          SELECT 1, revision FROM subscription_revision WHERE id = 0
            AND EXISTS (SELECT 1 FROM subscriptions WHERE filter IS NOT NULL AND deleted_at IS NULL)`,
      args: [],
    };
  }
  return {
    sql: `INSERT INTO subscription_revision (id, revision)
          SELECT 1, revision FROM subscription_revision WHERE id = 0 AND revision <> ?`,
    args: [revision],
  };
}

/** Whether a batch failed on the guard: the snapshot was stale (retry on a fresh one). */
export function isStaleSnapshotError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    if (e.message.includes(STALE_CONSTRAINT)) return true;
  }
  return false;
}
