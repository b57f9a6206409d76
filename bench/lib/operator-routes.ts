import type { Credential } from './operator-client.ts';
import type { StoreFacts } from './operator-store-facts.ts';

// The requests bench:operator times: what an operator opens, in the order of a visit, with a check
// that each answer is the real page (not a sign-in redirect, not an empty list) and the goal, if any.

/** Issue 9: the overview and /metrics answer in at most this, with 1,000,000 deliveries stored. */
export const GOAL_MS = 250;

export interface OperatorRoute {
  name: string;
  path: string;
  credential: Credential;
  /** null: no goal of its own, reported for the operator's sake. */
  goalMs: number | null;
  /** The framework's floor, measured in the same rounds. */
  baseline?: boolean;
  /** A problem with a 200 answer's body, or null. */
  check(body: string): string | null;
}

const contains =
  (...needles: string[]) =>
  (body: string) => {
    const missing = needles.find((n) => !body.includes(n));
    return missing === undefined ? null : `lacks ${JSON.stringify(missing)}`;
  };

export function operatorRoutes(facts: StoreFacts): OperatorRoute[] {
  const dead = facts.byStatus.dead ?? 0;
  return [
    {
      name: 'healthz (baseline)',
      path: '/healthz',
      credential: 'none',
      goalMs: null,
      baseline: true,
      check: () => null,
    },
    {
      name: 'overview',
      path: '/dashboard',
      credential: 'session',
      goalMs: GOAL_MS,
      check: contains('Deliveries per status', 'Subscriptions and their state', 'sub_notifications'),
    },
    {
      name: 'metrics',
      path: '/metrics',
      credential: 'bearer',
      goalMs: GOAL_MS,
      // The store's gauge must say what the file holds: the figure is of a real count.
      check: (body) => {
        const line = /^hookmesh_deliveries\{status="dead"\} (\d+)/m.exec(body);
        if (line === null) return 'lacks hookmesh_deliveries{status="dead"}';
        return Number(line[1]) === dead
          ? null
          : `reports ${line[1]} dead deliveries, the store holds ${dead}`;
      },
    },
    {
      name: 'events',
      path: '/dashboard/events',
      credential: 'session',
      goalMs: null,
      check: contains('/dashboard/events/'),
    },
    {
      name: 'events ?type=OrderPaid',
      path: '/dashboard/events?type=OrderPaid',
      credential: 'session',
      goalMs: null,
      check: contains('/dashboard/events/'),
    },
    {
      // No stored event has this type: the page walks the whole received_at index (worst case).
      name: 'events ?type=<none stored>',
      path: '/dashboard/events?type=OrderRefunded',
      credential: 'session',
      goalMs: null,
      check: contains('Events'),
    },
    {
      name: `one event (${facts.deadEventAttempts} attempts)`,
      path: `/dashboard/events/${encodeURIComponent(facts.deadEventId)}`,
      credential: 'session',
      goalMs: null,
      check: contains(facts.deadEventId, 'Replay'),
    },
    {
      name: 'deliveries ?status=dead',
      path: '/dashboard/deliveries?status=dead',
      credential: 'session',
      goalMs: null,
      check: contains('Replay all', '/replay'),
    },
    {
      name: 'deliveries ?status=retrying',
      path: '/dashboard/deliveries?status=retrying',
      credential: 'session',
      goalMs: null,
      check: contains('sub_notifications'),
    },
    {
      name: 'deliveries ?status=pending',
      path: '/dashboard/deliveries?status=pending',
      credential: 'session',
      goalMs: null,
      check: contains('sub_analytics'),
    },
    {
      name: 'deliveries ?status=delivered',
      path: '/dashboard/deliveries?status=delivered',
      credential: 'session',
      goalMs: null,
      check: contains('sub_billing'),
    },
    {
      name: 'deliveries ?subscription=',
      path: '/dashboard/deliveries?subscription=sub_notifications',
      credential: 'session',
      goalMs: null,
      check: contains('sub_notifications'),
    },
    {
      name: 'deliveries ?type=',
      path: '/dashboard/deliveries?type=order.paid.v1',
      credential: 'session',
      goalMs: null,
      check: contains('order.paid.v1'),
    },
    {
      // A type no delivery has: the page walks every delivery (worst case of a rare type).
      name: 'deliveries ?type=<none stored>',
      path: '/dashboard/deliveries?type=order.refunded.v1',
      credential: 'session',
      goalMs: null,
      check: contains('Deliveries'),
    },
    {
      name: 'subscriptions',
      path: '/dashboard/subscriptions',
      credential: 'session',
      goalMs: null,
      check: contains('sub_analytics'),
    },
    {
      name: 'GET /v1/deliveries?status=dead',
      path: '/v1/deliveries?status=dead',
      credential: 'bearer',
      goalMs: null,
      check: (body) => (/"status":"dead"/.test(body) ? null : 'lists no dead delivery'),
    },
  ];
}
