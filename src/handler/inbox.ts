/**
 * The Inbox port: what a consuming service has already handled, keyed by (handler name, `ce-id`).
 * The mesh delivers at least once; the inbox is what turns that into effectively-once execution.
 * Adapters: `createMemoryInbox()` (one process), `createSqlInbox()` / `createLibsqlInbox()` (a
 * SQLite table shared by every process of the service).
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
}
