import type { Subscription } from '../core/subscription.ts';
import type { SubscriptionStore } from '../core/subscription-store.ts';
import type { SqlDriver, SqlRow, SqlStatement, SqlValue } from '../store/sql-driver.ts';
import {
  createSqlSubscriptionStore,
  isCodeSubscriptionsChanged,
  toCodeSubscriptionsCheck,
} from '../store/sql-subscription-store.ts';

/**
 * Runs `statements` and then the query `sql` in one transaction, answering the query's rows. On D1
 * that is one `d1.batch()`: one round trip.
 */
export type QueryAfter = (
  statements: readonly SqlStatement[],
  sql: string,
  args: readonly SqlValue[],
) => Promise<SqlRow[]>;

export interface WorkerCodeSync {
  /** The driver the stores run on: until the sync has committed, each call carries it. */
  readonly driver: SqlDriver;
  /** What the mesh calls at composition instead of the store's sync: it only takes note. */
  readonly syncCodeSubscriptions: SubscriptionStore['syncCodeSubscriptions'];
}

/**
 * The sync of code-declared subscriptions on a Worker, with no round trip of its own (but on a
 * deployment's first isolates: one more, when the check finds them changed). Every
 * isolate must sync before it accepts an event (a subscription declared in the deployed code
 * applies to every event the new code accepts), but composing the mesh must not wait on the
 * database: `/healthz` and a first request that reads nothing need no sync. So composition only
 * notes what is declared; the isolate's first database call — whatever store makes it — captures
 * the sync's statements and runs them in the same transaction, before its own statements: a write
 * batch gets them prepended, a query (or a `queryAfter`) becomes a batch that ends with it. Whatever that call reads or writes (the
 * filter snapshot ingest takes, the INSERT … SELECT that matches subscriptions) already sees the
 * synced set, and nothing sees a half-synced one. Calls are marked synced once one such call
 * committed; calls racing it each carry the (idempotent) statements too. No promise is shared
 * between requests (workerd forbids awaiting another request's I/O).
 * @example const sync = createWorkerCodeSync(driver); createSqlStores({ driver: sync.driver });
 */
export function createWorkerCodeSync(
  driver: SqlDriver,
  queryAfter: QueryAfter | undefined = driver.queryAfter?.bind(driver),
): WorkerCodeSync {
  /** What composition declared, until its statements are captured (on the first call that needs them). */
  let declaredSync: { readonly declared: readonly Subscription[]; readonly now: number } | null = null;
  /**
   * What still has to commit before anything else; null once done (or nothing declared yet). The
   * check first (`toCodeSubscriptionsCheck`: one statement that writes nothing when the database
   * holds what is declared, as on every isolate after a deployment's first); the sync's statements
   * only when it fails.
   */
  let pending: { readonly check: SqlStatement; readonly sync: readonly SqlStatement[] } | null = null;
  /** When the store's sync could not be captured as one batch: run as it is, before the call. */
  let fallback: (() => Promise<void>) | null = null;

  const runQueryAfter: QueryAfter =
    queryAfter ??
    (async (statements, sql, args) => {
      await driver.batch(statements);
      return driver.query(sql, args);
    });

  /**
   * Captures the declared sync's statements: not while composing, which `/healthz` waits for and
   * never needs them. Calls racing here each capture; the first to finish installs its statements.
   */
  const capture = async () => {
    const noted = declaredSync;
    if (noted === null) return;
    const captured = await captureSync(noted.declared, noted.now, driver.maxParams);
    if (declaredSync !== noted) return;
    declaredSync = null;
    if (captured) {
      pending = { check: toCodeSubscriptionsCheck(noted.declared), sync: captured };
      fallback = null;
    } else {
      pending = null;
      fallback = () =>
        createSqlSubscriptionStore({ driver }).syncCodeSubscriptions(noted.declared, noted.now);
    }
  };

  const settled = (carried: unknown) => {
    if (pending === carried) pending = null;
    if (fallback === carried) fallback = null;
  };

  /**
   * Runs the pending sync ahead of a call: run alone first when it could not be captured, else
   * carried in the call's own transaction (`withSync`); `alone` once nothing is pending.
   */
  const afterSync = async <T>(
    withSync: (carried: readonly SqlStatement[]) => Promise<T>,
    alone: () => Promise<T>,
  ): Promise<T> => {
    await capture();
    const carried = pending;
    const run = fallback;
    if (run) {
      await run();
      settled(run);
    } else if (carried) {
      let result: T;
      try {
        result = await withSync([carried.check]);
      } catch (error) {
        if (!isCodeSubscriptionsChanged(error)) throw error;
        result = await withSync(carried.sync);
      }
      settled(carried);
      return result;
    }
    return alone();
  };

  /** Runs `statements` then `sql` with the sync ahead of them while it is pending. */
  const syncedQueryAfter: QueryAfter = (statements, sql, args) =>
    afterSync(
      (carried) => runQueryAfter([...carried, ...statements], sql, args),
      () => (statements.length === 0 ? driver.query(sql, args) : runQueryAfter(statements, sql, args)),
    );

  const synced: SqlDriver = {
    ...driver,
    query: (sql, args = []) => syncedQueryAfter([], sql, args),
    batch: (statements) =>
      afterSync(
        async (carried) => (await driver.batch([...carried, ...statements])).slice(carried.length),
        () => driver.batch(statements),
      ),
    // Only where the database answers a query after a batch in one round trip: stores take that
    // path only then.
    ...(queryAfter
      ? { queryAfter: (statements, sql, args = []) => syncedQueryAfter(statements, sql, args) }
      : {}),
  };

  return {
    driver: synced,
    async syncCodeSubscriptions(declared: readonly Subscription[], now: number) {
      declaredSync = { declared, now };
      pending = null;
      fallback = null;
    },
  };
}

/**
 * The statements the SQL subscription store's sync would send, taken without a database: its sync
 * is one batch of statements that read nothing back. Null if it ever does more than that.
 */
async function captureSync(
  declared: readonly Subscription[],
  now: number,
  maxParams: number,
): Promise<SqlStatement[] | null> {
  const statements: SqlStatement[] = [];
  let batches = 0;
  let other = false;
  const capturing: SqlDriver = {
    maxParams,
    async query() {
      other = true;
      return [];
    },
    async batch(batch) {
      batches += 1;
      statements.push(...batch);
      return batch.map(() => 0);
    },
    isConstraintError: () => false,
    async close() {},
  };
  await createSqlSubscriptionStore({ driver: capturing }).syncCodeSubscriptions(declared, now);
  return other || batches !== 1 ? null : statements;
}
