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

/** The code subscriptions as composition declared them, and when. */
interface Declared {
  readonly declared: readonly Subscription[];
  readonly now: number;
}

export interface WorkerCodeSync {
  /** The driver the stores run on: until the sync has committed, each call carries it. */
  readonly driver: SqlDriver;
  /** What the mesh calls at composition instead of the store's sync: it only takes note. */
  readonly syncCodeSubscriptions: SubscriptionStore['syncCodeSubscriptions'];
}

/**
 * The sync of code-declared subscriptions on a Worker, with no round trip of its own (but on a
 * deployment's first isolates: one more, when the check finds the declarations changed). Every
 * isolate must be synced before it accepts an event (a subscription declared in the deployed code
 * applies to every event the new code accepts), but composing the mesh must not wait on the
 * database: `/healthz` and a first request that reads nothing need no sync. So composition only
 * notes what is declared; the isolate's first database call — whatever store makes it — carries a
 * check in the same transaction, before its own statements (a write batch gets it prepended, a
 * query or a `queryAfter` becomes a batch that ends with it): the check writes nothing when the
 * database already holds what is declared, and fails the transaction when it does not, which then
 * runs again with the sync's statements in the check's place. Whatever that call reads or writes
 * (the filter snapshot ingest takes, the INSERT … SELECT that matches subscriptions) sees the
 * synced set, and nothing sees a half-synced one. Calls are marked synced once one such call
 * committed; calls racing it each carry the check (or the idempotent sync) too. No promise is
 * shared between requests (workerd forbids awaiting another request's I/O).
 * @example const sync = createWorkerCodeSync(driver); createSqlStores({ driver: sync.driver });
 */
export function createWorkerCodeSync(
  driver: SqlDriver,
  queryAfter: QueryAfter | undefined = driver.queryAfter?.bind(driver),
): WorkerCodeSync {
  /** What composition declared, until the first call that needs it synced takes it up. */
  let declaredSync: Declared | null = null;
  /**
   * What still has to commit before anything else; null once done (or nothing declared yet). Its
   * check (`toCodeSubscriptionsCheck`) rides first: one statement that writes nothing when the
   * database holds what is declared, as on every isolate after a deployment's first. The sync's
   * own statements are made and run only when the check fails.
   */
  let pending: (Declared & { readonly check: SqlStatement }) | null = null;

  const runQueryAfter: QueryAfter =
    queryAfter ??
    (async (statements, sql, args) => {
      await driver.batch(statements);
      return driver.query(sql, args);
    });

  /** Makes the check: not while composing, which `/healthz` waits for and never needs it. */
  const takeUp = () => {
    const noted = declaredSync;
    if (noted === null) return;
    declaredSync = null;
    pending = { ...noted, check: toCodeSubscriptionsCheck(noted.declared) };
  };

  /**
   * Runs a call with the pending check ahead of it, in its own transaction (`withSync`); when the
   * check fails, the call again with the sync's statements ahead instead — or, if the store's sync
   * could not be captured as one batch, that sync as it is and then the call (`alone`). `alone`
   * once nothing is pending.
   */
  const afterSync = async <T>(
    withSync: (carried: readonly SqlStatement[]) => Promise<T>,
    alone: () => Promise<T>,
  ): Promise<T> => {
    takeUp();
    const carried = pending;
    if (carried === null) return alone();
    let result: T;
    try {
      result = await withSync([carried.check]);
    } catch (error) {
      if (!isCodeSubscriptionsChanged(error)) throw error;
      const sync = await captureSync(carried.declared, carried.now, driver.maxParams);
      if (sync) {
        result = await withSync(sync);
      } else {
        await createSqlSubscriptionStore({ driver }).syncCodeSubscriptions(carried.declared, carried.now);
        result = await alone();
      }
    }
    if (pending === carried) pending = null;
    return result;
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
