import type { PauseReason, StoredSubscription } from '../../core/subscription-store.ts';

export type SubscriptionState =
  | { readonly state: 'active' }
  | { readonly state: 'paused'; readonly reason: PauseReason; readonly since: number };

/** Whether deliveries to a subscription are held, why and since when (DESIGN "Delivery control"). */
export function toSubscriptionState(s: StoredSubscription): SubscriptionState {
  return s.pausedAt === null
    ? { state: 'active' }
    : { state: 'paused', reason: s.pausedReason ?? 'manual', since: s.pausedAt };
}

/** How the dashboard says why a subscription is paused. */
export const PAUSE_REASONS: Readonly<Record<PauseReason, string>> = {
  manual: 'by an operator',
  failing: 'failing: the circuit breaker paused it',
};
