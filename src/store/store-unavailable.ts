import { StoreUnavailableError, type StoreUnavailableReason } from '../core/errors.ts';
import type { SqlDriver } from './sql-driver.ts';

/**
 * SQLite's result codes for "cannot write now", as the native binding and `@libsql/client` name
 * them (`SQLITE_BUSY`, `SQLITE_IOERR_WRITE`, …). A constraint or syntax error is not among them:
 * that is the request's fault, and retrying changes nothing.
 */
const CODES: readonly (readonly [RegExp, StoreUnavailableReason])[] = [
  [/^SQLITE_(BUSY|LOCKED)/, 'busy'],
  [/^SQLITE_FULL/, 'full'],
  [/^SQLITE_IOERR/, 'io'],
  [/^SQLITE_READONLY/, 'read_only'],
  // `@libsql/client` over the network (Turso, sqld): the socket failed or the server answered 5xx.
  [/^(HRANA_WEBSOCKET_ERROR|HRANA_CLOSED_ERROR|SERVER_ERROR)$/, 'unreachable'],
  // Node's own network errors under a `fetch` that failed (`cause.code`).
  [/^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|UND_ERR_\w+)$/, 'unreachable'],
];

/**
 * What only text tells: D1 reports errors as messages (`D1_ERROR: database or disk is full:
 * SQLITE_FULL`), and Cloudflare documents the transient ones its clients should retry.
 */
const MESSAGES: readonly (readonly [RegExp, StoreUnavailableReason])[] = [
  // The mesh's tables are missing: a Worker serving before `wrangler d1 migrations apply` ran (it
  // never migrates itself). Every table the stores name comes from a migration.
  [
    /no such table: (domain_events|integration_events|event_types|subscriptions|subscription_revision|subscription_refs|endpoints|deliveries|attempts)\b/i,
    'not_migrated',
  ],
  [/database is locked|database table is locked|\bSQLITE_(BUSY|LOCKED)\b/i, 'busy'],
  [/database or disk is full|\bSQLITE_FULL\b|exceeded maximum DB size|maximum database size/i, 'full'],
  [/disk I\/O error|\bSQLITE_IOERR/i, 'io'],
  [/attempt to write a readonly database|\bSQLITE_READONLY\b/i, 'read_only'],
  [/D1 DB is overloaded|too many requests queued|requests queued for too long/i, 'overloaded'],
  [
    /Network connection lost|D1 DB reset because its code was updated|transient issue on remote node|storage operation exceeded timeout|Internal error in D1 DB storage/i,
    'unreachable',
  ],
];

/** Causes followed at most: drivers wrap the database's error once or twice. */
const MAX_DEPTH = 4;

/**
 * The database's "cannot write now" as a `StoreUnavailableError` (the original as `cause`), or
 * null for any other error. Recognises the libSQL native binding, `@libsql/client` (file and
 * remote) and D1.
 * @example const unavailable = toStoreUnavailable(error); if (unavailable) throw unavailable;
 */
export function toStoreUnavailable(error: unknown): StoreUnavailableError | null {
  if (error instanceof StoreUnavailableError) return error;
  const reason = reasonOf(error);
  return reason === null ? null : new StoreUnavailableError(reason, { cause: error });
}

function reasonOf(error: unknown): StoreUnavailableReason | null {
  let e: unknown = error;
  for (let depth = 0; depth < MAX_DEPTH && typeof e === 'object' && e !== null; depth++) {
    const { code, message, cause } = e as { code?: unknown; message?: unknown; cause?: unknown };
    if (typeof code === 'string') {
      for (const [pattern, reason] of CODES) if (pattern.test(code)) return reason;
    }
    if (typeof message === 'string') {
      for (const [pattern, reason] of MESSAGES) if (pattern.test(message)) return reason;
    }
    e = cause;
  }
  return null;
}

/** How long `writeFailure` reports a failure no successful write has cleared since. */
const FAILURE_REPORTED_MS = 10_000;

/**
 * The driver, with "cannot write now" errors thrown as `StoreUnavailableError` (so every store, on
 * every driver, fails the same typed way) and the latest one kept for `/healthz` (`writeFailure`):
 * a read-only health check cannot see a full disk, the writes that failed can. A batch that
 * changes rows clears it; otherwise it is reported for 10 s, so a process that stopped getting
 * writes (a load balancer took it out) reads healthy again and is tried again.
 * @example const driver = withStoreUnavailable(createD1Driver(env.DB));
 */
export function withStoreUnavailable(
  driver: SqlDriver,
  options: { readonly now?: () => number } = {},
): SqlDriver {
  if (driver.writeFailure) return driver;
  const now = options.now ?? Date.now;
  let failure: StoreUnavailableError | null = null;
  let failedAt = 0;
  const fail = (error: unknown): never => {
    const unavailable = toStoreUnavailable(error);
    if (unavailable === null) throw error;
    failure = unavailable;
    failedAt = now();
    throw unavailable;
  };
  const { reclaimSpace, queryAfter } = driver;
  return {
    ...driver,
    query: (sql, args) => driver.query(sql, args).catch(fail),
    async batch(statements) {
      try {
        const changes = await driver.batch(statements);
        if (changes.some((n) => n > 0)) failure = null;
        return changes;
      } catch (error) {
        return fail(error);
      }
    },
    // Typed like the rest, but not remembered for /healthz: on a Worker the isolate's first call is
    // one of these, and a database wrangler has not migrated yet is /healthz's own finding.
    ...(queryAfter
      ? {
          queryAfter: (statements, sql, args) =>
            queryAfter(statements, sql, args).catch((error: unknown) => {
              throw toStoreUnavailable(error) ?? error;
            }),
        }
      : {}),
    ...(reclaimSpace ? { reclaimSpace: () => reclaimSpace().catch(fail) } : {}),
    writeFailure: () => (failure !== null && now() - failedAt < FAILURE_REPORTED_MS ? failure : null),
  };
}
