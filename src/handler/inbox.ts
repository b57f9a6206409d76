/**
 * The Inbox port: what a consuming service has already handled, keyed by (handler name, `ce-id`).
 * The mesh delivers at least once; the inbox is what turns that into effectively-once execution.
 * Adapters: `createMemoryInbox()` (one process), `createLibsqlInbox()` / `createD1Inbox()` (a
 * SQLite table shared by every process of the service).
 *
 * What the webhook app gets from each, per handled event:
 * - every inbox: copies of an event arriving while it runs in this process join that run (the
 *   app's map of runs) and never reach the inbox's claim; a copy of a handled event is answered 2xx
 *   without running; a token presented twice never runs a handler; a failed run leaves nothing done;
 * - a durable inbox (libSQL file on Node, libSQL client, D1), on a database shared by any number of
 *   processes: two synced commits. The first records the token and a leased claim before the
 *   handler runs, so a copy in another process waits for that run (503 past its wait) and a
 *   replayed token is refused by every process, across crashes; the second records `done` before
 *   the 2xx. Issue 12 measured one commit per event (look first, claim in memory, write token and
 *   `done` after the run): slower on this route, and it let a copy or a replay reaching another
 *   process during the run run beside it — so it is not used. Group commit shares each commit's
 *   fsync between the requests that arrive together (not in D1, which groups nothing);
 * - the memory inbox: the same answers within one process, forgotten on restart.
 */

export interface InboxKey {
  /** The handler's name (`HandlerDefinition.name`). */
  readonly handler: string;
  /** The integration event's id (`ce-id`), stable across retries and transports. */
  readonly eventId: string;
}

/**
 * - `claimed`: the caller now holds the claim and must `complete` or `release` it;
 * - `done`: handled before — acknowledge, do not run again;
 * - `running`: someone else holds a live claim.
 */
export type InboxClaimResult = 'claimed' | 'done' | 'running';

/** A signed request's token (`jti`), bound to the key of the run it was first presented for. */
export interface InboxToken extends InboxKey {
  /** The token's `jti` claim: unique per attempt, since every attempt is signed anew. */
  readonly jti: string;
  /** When no verifier accepts the token any more (`exp` plus the clock tolerance), in ms. */
  readonly expiresAtMs: number;
}

/**
 * - `new`: the token was never presented before; it is now recorded against this key;
 * - `replay`: it was, for `key` (the first presentation's, whatever this request's unsigned headers
 *   say now); `handled` tells whether that key is done.
 */
export type InboxTokenResult =
  | { readonly status: 'new' }
  | { readonly status: 'replay'; readonly key: InboxKey; readonly handled: boolean };

/**
 * What `recordTokenAndClaim` decided: the token's fate and, only when the token was new, the
 * claim's (a replay never claims).
 */
export type InboxAdmission =
  | { readonly token: { readonly status: 'new' }; readonly claim: InboxClaimResult }
  | { readonly token: Extract<InboxTokenResult, { status: 'replay' }>; readonly claim: null };

/**
 * How long a durable inbox remembers a handled event by default: longer than the longest retry
 * schedule (20 retries, each delay capped at one day as QStash caps it, so at most 20 days after
 * the first attempt) plus a day's margin — a copy arriving on the last retry is still recognised.
 */
export const DEFAULT_INBOX_RETENTION_MS = 21 * 86_400_000;

/** Done entries are purged in passes of at most this many rows, at most once an hour. */
export const INBOX_PURGE_BATCH = 500;
export const INBOX_PURGE_EVERY_MS = 3_600_000;
/**
 * Expired token records go far more often: a token lives minutes, and every request adds one. A
 * durable inbox deletes a few with each new record instead (see sql-inbox.ts).
 */
export const INBOX_TOKEN_PURGE_EVERY_MS = 60_000;

export interface Inbox {
  /**
   * Claims a key for one run, atomically across every process sharing the inbox. A claim whose
   * lease has expired (its holder crashed or hung) can be claimed again; a done key never can.
   */
  claim(input: InboxKey & { readonly nowMs: number; readonly leaseMs: number }): Promise<InboxClaimResult>;
  /** Marks the key handled for good: later copies are acknowledged without running. */
  complete(input: InboxKey & { readonly nowMs: number }): Promise<void>;
  /**
   * Drops a running claim after a failed run, so the mesh's retry may run the handler. Only the
   * claim made at `claimedAt` (the `nowMs` given to `claim`) is dropped: if it lapsed and another
   * run took the key over meanwhile, that run's claim stands.
   */
  release(input: InboxKey & { readonly claimedAt: number }): Promise<void>;
  /**
   * Pushes the lease of the claim made at `claimedAt` to `nowMs + leaseMs` while its handler still
   * runs, so a long run is never taken over by a retry. Answers whether that claim was still held
   * (false once it was completed, released, or lapsed and taken over by another run).
   */
  extend(
    input: InboxKey & { readonly claimedAt: number; readonly nowMs: number; readonly leaseMs: number },
  ): Promise<boolean>;
  /**
   * Records a verified request's token, atomically across every process sharing the inbox, until
   * it expires; expired records are purged on the way. A second presentation of one token — a
   * captured request replayed, or a network duplicate — is a `replay` and must never run a handler.
   */
  recordToken(input: InboxToken & { readonly nowMs: number }): Promise<InboxTokenResult>;
  /**
   * `recordToken`, then — only if the token is new — `claim`, as one atomic write: a durable inbox
   * commits (and syncs) once where the two calls would commit twice. Optional: the webhook app
   * calls the two methods in turn on an inbox without it, with the same outcome.
   */
  recordTokenAndClaim?(
    input: InboxToken & { readonly nowMs: number; readonly leaseMs: number },
  ): Promise<InboxAdmission>;
}

/** What every inbox adapter takes besides its database. */
export interface InboxRetentionOptions {
  /**
   * How long a handled event is remembered (default 21 days, `DEFAULT_INBOX_RETENTION_MS`); a
   * shorter value is raised to that, since forgetting before the retries end would run a handler
   * twice. Older entries are purged on the way, at most once an hour, in small batches.
   */
  readonly retainMs?: number | undefined;
}

/** The retention an adapter applies: never shorter than the longest retry schedule. */
export function toInboxRetentionMs(options: InboxRetentionOptions = {}): number {
  return Math.max(options.retainMs ?? DEFAULT_INBOX_RETENTION_MS, DEFAULT_INBOX_RETENTION_MS);
}
