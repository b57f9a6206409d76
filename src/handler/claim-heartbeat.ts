import type { Clock } from '../core/clock.ts';
import type { Inbox, InboxKey } from './inbox.ts';

export interface ClaimHeartbeatInput {
  readonly inbox: Inbox;
  readonly clock: Clock;
  readonly key: InboxKey;
  /** The claim's own time (`nowMs` given to `claim`): only that claim is extended. */
  readonly claimedAt: number;
  readonly leaseMs: number;
  /** How often the lease is pushed forward; a third of it, so two beats may fail before it lapses. */
  readonly intervalMs: number;
  /** Calls `fn` every `ms` until the returned function is called. */
  readonly repeat: (fn: () => void, ms: number) => () => void;
  /** A failed extension, or the claim found lost (lapsed and taken over by another run). */
  readonly onError: (error: unknown) => void;
}

/**
 * Keeps a claim alive while its handler runs: every `intervalMs` its lease is pushed to
 * `now + leaseMs`, so however long the handler takes, only a holder that died (or stalled past a
 * whole lease) lets a retry take the event over. Beats never overlap. The returned `stop` waits for
 * a beat in flight, so no extension lands after the claim is completed or released.
 * @example
 * const stop = startClaimHeartbeat({ inbox, clock, key, claimedAt, leaseMs, intervalMs: leaseMs / 3, repeat, onError });
 * try { await handler.handle(event, ctx); } finally { await stop(); }
 */
export function startClaimHeartbeat(input: ClaimHeartbeatInput): () => Promise<void> {
  const { inbox, clock, key, claimedAt, leaseMs } = input;
  let stopped = false;
  let inFlight: Promise<void> | undefined;
  const cancel = input.repeat(() => {
    if (stopped || inFlight !== undefined) return;
    inFlight = inbox
      .extend({ ...key, claimedAt, nowMs: clock.now(), leaseMs })
      .then(
        (held) => {
          // Lapsed and taken over: the other run may repeat this one's effects. Nothing to undo
          // here, but the operator should know; and there is no claim left to extend.
          if (!held && !stopped) {
            stopped = true;
            input.onError(new Error('the inbox claim was lost while the handler ran'));
          }
        },
        (error: unknown) => input.onError(error),
      )
      .finally(() => {
        inFlight = undefined;
      });
  }, input.intervalMs);
  return async () => {
    stopped = true;
    cancel();
    await inFlight;
  };
}
