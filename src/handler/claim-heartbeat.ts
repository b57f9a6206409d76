import type { Clock } from '../core/clock.ts';
import type { Inbox, InboxKey } from './inbox.ts';

export interface ClaimKeeperInput {
  readonly inbox: Inbox;
  readonly clock: Clock;
  readonly leaseMs: number;
  /** How often leases are pushed forward; a third of one, so two beats may fail before it lapses. */
  readonly intervalMs: number;
  /** Calls `fn` every `ms` until the returned function is called. */
  readonly repeat: (fn: () => void, ms: number) => () => void;
}

export interface KeptClaim {
  readonly key: InboxKey;
  /** The claim's own time (`nowMs` given to `claim`): only that claim is extended. */
  readonly claimedAt: number;
  /** A failed extension, or the claim found lost (lapsed and taken over by another run). */
  readonly onError: (error: unknown) => void;
}

export interface ClaimKeeper {
  /**
   * Keeps a claim alive while its handler runs: at least every `intervalMs` its lease is pushed to
   * `now + leaseMs`, so however long the handler takes, only a holder that died (or stalled past a
   * whole lease) lets a retry take the event over. Beats of one claim never overlap. The returned
   * `stop` waits for a beat in flight, so no extension lands after the claim is completed or released.
   */
  keep(claim: KeptClaim): () => Promise<void>;
}

/**
 * The heartbeat of every claim an app holds, on one timer: it runs while at least one claim is
 * kept, and each tick extends every kept claim — a claim that joins between ticks is extended at
 * the next one, within `intervalMs` of its start, as a timer of its own would. One timer instead
 * of a timer per request (armed and cleared around every handler run) is a set insertion per run.
 * @example
 * const keeper = createClaimKeeper({ inbox, clock, leaseMs, intervalMs: leaseMs / 3, repeat });
 * const stop = keeper.keep({ key, claimedAt, onError });
 * try { await handler.handle(event, ctx); } finally { await stop(); }
 */
export function createClaimKeeper(input: ClaimKeeperInput): ClaimKeeper {
  const { inbox, clock, leaseMs } = input;
  const beats = new Set<() => void>();
  let cancel: (() => void) | undefined;
  const tick = () => {
    for (const beat of beats) beat();
  };
  return {
    keep({ key, claimedAt, onError }) {
      let stopped = false;
      let inFlight: Promise<void> | undefined;
      const beat = () => {
        if (stopped || inFlight !== undefined) return;
        inFlight = inbox
          .extend({ ...key, claimedAt, nowMs: clock.now(), leaseMs })
          .then(
            (held) => {
              // Lapsed and taken over: the other run may repeat this one's effects. Nothing to undo
              // here, but the operator should know; and there is no claim left to extend.
              if (!held && !stopped) {
                stopped = true;
                onError(new Error('the inbox claim was lost while the handler ran'));
              }
            },
            (error: unknown) => onError(error),
          )
          .finally(() => {
            inFlight = undefined;
          });
      };
      beats.add(beat);
      cancel ??= input.repeat(tick, input.intervalMs);
      return async () => {
        stopped = true;
        beats.delete(beat);
        if (beats.size === 0 && cancel !== undefined) {
          const stopTimer = cancel;
          cancel = undefined;
          stopTimer();
        }
        await inFlight;
      };
    },
  };
}
