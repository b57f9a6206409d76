import { type DelayExpression, parseDelayExpression } from '../../src/core/retry-delay-expression.ts';
import { nextRetryDelayMs } from '../../src/core/retry-policy.ts';
import type { Subscription } from '../../src/core/subscription.ts';
import { ANALYTICS_PAUSED_FOR_MS, INTEGRATION_TYPE, SUBSCRIPTIONS } from './operator-fixture.ts';

// The history bench:operator's store tells, one accepted event at a time: what ingest wrote and
// what the dispatcher would have made of each delivery by "now" — every attempt at the time the
// subscription's retry policy (the mesh's own `nextRetryDelayMs`) puts it. Deterministic for a seed.
//
// The story: billing is healthy but for a few broken orders; notifications had three outages in the
// week (their deliveries died after 8 quick retries: most of the dead) and is failing right now
// (retrying); analytics was paused 4 h ago, so its deliveries since are held (pending).

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Notifications' endpoint is down during these windows, [from, to) before now. */
const NOTIFY_OUTAGES: readonly [number, number][] = [
  [6 * DAY, 6 * DAY - 6 * HOUR],
  [3 * DAY + 10 * HOUR, 3 * DAY + 5 * HOUR],
  [DAY + 4 * HOUR, DAY],
  [45 * 60_000, 0],
];

export interface AttemptFate {
  at: number;
  status: number | null;
  durationMs: number;
  error: string | null;
  excerpt: string | null;
}

export interface DeliveryFate {
  id: string;
  subscription: Subscription;
  status: 'pending' | 'retrying' | 'delivered' | 'dead';
  retried: number;
  nextAttemptAt: number;
  updatedAt: number;
  attempts: AttemptFate[];
}

export interface EventFate {
  id: string;
  type: keyof typeof INTEGRATION_TYPE;
  source: string;
  data: string;
  traceparent: string | null;
  integration: { id: string; type: string; source: string; time: string; data: string };
  deliveries: DeliveryFate[];
}

/** Whether an attempt at `at` fails, and how; null = it succeeds. */
type Failure = (at: number, n: number) => Omit<AttemptFate, 'at'> | null;

export function createHistory(options: { now: number; seed: number }) {
  const { now } = options;
  const random = mulberry32(options.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const hex = (digits: number) => {
    let s = '';
    for (let i = 0; i < digits; i++) s += HEX_DIGITS[Math.floor(random() * 16)];
    return s;
  };
  const uuidv7 = (ms: number) => {
    const t = ms.toString(16).padStart(12, '0');
    const variant = HEX_DIGITS[8 + Math.floor(random() * 4)];
    return `${t.slice(0, 8)}-${t.slice(8)}-7${hex(3)}-${variant}${hex(3)}-${hex(12)}`;
  };
  const delays = new Map<string, DelayExpression | null>(
    SUBSCRIPTIONS.map((s) => {
      if (s.retryDelay === null) return [s.id, null];
      const parsed = parseDelayExpression(s.retryDelay);
      if (!parsed.ok) throw new Error(`${s.id}: ${parsed.error}`);
      return [s.id, parsed.expression];
    }),
  );
  const [billing, notifications, analytics] = SUBSCRIPTIONS;
  const analyticsPausedAt = now - ANALYTICS_PAUSED_FOR_MS;
  let order = 0;

  const ok = (): Omit<AttemptFate, 'at'> => ({
    status: 200,
    durationMs: 15 + Math.floor(random() * 180),
    error: null,
    excerpt: random() < 0.5 ? '{"received":true}' : null,
  });
  const failure = (): Omit<AttemptFate, 'at'> => {
    const r = random();
    if (r < 0.55) {
      return {
        status: 503,
        durationMs: 3 + Math.floor(random() * 40),
        error: null,
        excerpt: 'upstream connect error or disconnect/reset before headers',
      };
    }
    if (r < 0.8) {
      return {
        status: null,
        durationMs: 1 + Math.floor(random() * 4),
        error: 'connect ECONNREFUSED 203.0.113.7:443',
        excerpt: null,
      };
    }
    return {
      status: null,
      durationMs: 15_000,
      error: 'The operation was aborted due to timeout',
      excerpt: null,
    };
  };
  const rejected = (): Omit<AttemptFate, 'at'> => ({
    status: 489,
    durationMs: 5 + Math.floor(random() * 30),
    error: null,
    excerpt: '{"error":"schema mismatch: amount must be a number"}',
  });
  const inOutage = (at: number) => NOTIFY_OUTAGES.some(([from, to]) => at >= now - from && at < now - to);
  /** Notifications' endpoint: down during its outages, else as `rest` says. */
  const duringOutages =
    (rest: Failure): Failure =>
    (at, n) =>
      inOutage(at) ? failure() : rest(at, n);

  /** Plays one delivery forward from its acceptance to now. */
  const play = (subscription: Subscription, createdAt: number, fails: Failure): DeliveryFate => {
    const fate: DeliveryFate = {
      id: `${createdAt.toString(16).padStart(12, '0')}${hex(20)}`,
      subscription,
      status: 'pending',
      retried: 0,
      nextAttemptAt: createdAt,
      updatedAt: createdAt,
      attempts: [],
    };
    let at = createdAt + 20 + Math.floor(random() * 300);
    for (let n = 1; at <= now; n++) {
      const failed = fails(at, n);
      fate.attempts.push({ at, ...(failed ?? ok()) });
      fate.updatedAt = at;
      fate.nextAttemptAt = at;
      if (failed === null) {
        fate.status = 'delivered';
        return fate;
      }
      if (failed.status === 489 || fate.retried >= subscription.retries) {
        fate.status = 'dead';
        return fate;
      }
      const delay = nextRetryDelayMs({
        retried: fate.retried,
        retryDelay: delays.get(subscription.id)!,
        retryAfterMs: null,
      });
      fate.retried++;
      fate.status = 'retrying';
      fate.nextAttemptAt = at + delay;
      at = fate.nextAttemptAt + 5 + Math.floor(random() * 200);
    }
    return fate;
  };

  /** Healthy but imperfect: a few flaky deliveries (fail 1–2 times), rare broken and rejected ones. */
  const usual = (flaky: number, broken: number, reject: number): Failure => {
    const r = random();
    if (r < reject) return (_, n) => (n === 1 ? rejected() : null);
    if (r < reject + broken) return () => failure();
    if (r < reject + broken + flaky) {
      const times = 1 + Math.floor(random() * 2);
      return (_, n) => (n <= times ? failure() : null);
    }
    return () => null;
  };

  return {
    event(receivedAt: number): EventFate {
      const n = ++order;
      const created = random() < 0.55;
      const type = created ? 'OrderCreated' : 'OrderPaid';
      const orderId = `o-${String(created ? n : Math.max(1, n - 40)).padStart(8, '0')}`;
      const amount = Math.round(random() * 50_000) / 100;
      const iso = new Date(receivedAt).toISOString();
      const customerId = `c-${String(n % 9973).padStart(5, '0')}`;
      const currency = pick(['EUR', 'USD', 'GBP']);
      // The domain event as a producer posts it, and its integration event as orderConverters make it.
      const [data, converted] = created
        ? [
            { order: { id: orderId, customerId, total: amount, currency } },
            { orderId, customerId, total: amount, currency },
          ]
        : [
            { orderId, amount, paidAt: iso },
            { orderId, amount, paidAt: iso },
          ];
      const source = created ? 'shop' : 'billing';
      const integration = {
        id: uuidv7(receivedAt),
        type: INTEGRATION_TYPE[type],
        source: `/producers/${source}`,
        time: iso,
        data: JSON.stringify(converted),
      };
      const direct = created
        ? play(billing, receivedAt, usual(0.013, 0.0015, 0.0005))
        : play(notifications, receivedAt, duringOutages(usual(0.025, 0.002, 0.003)));
      const everything =
        receivedAt >= analyticsPausedAt
          ? held(analytics, receivedAt)
          : play(analytics, receivedAt, usual(0.005, 0, 0));
      return {
        id: uuidv7(receivedAt),
        type,
        source,
        data: JSON.stringify(data),
        traceparent: random() < 0.3 ? `00-${hex(32)}-${hex(16)}-01` : null,
        integration,
        deliveries: [direct, everything],
      };
    },
  };

  /** A paused subscription's delivery: accepted, never attempted. */
  function held(subscription: Subscription, createdAt: number): DeliveryFate {
    return {
      id: `${createdAt.toString(16).padStart(12, '0')}${hex(20)}`,
      subscription,
      status: 'pending',
      retried: 0,
      nextAttemptAt: createdAt,
      updatedAt: createdAt,
      attempts: [],
    };
  }
}

const HEX_DIGITS = '0123456789abcdef';

/** A small seeded PRNG (mulberry32): the same seed, the same store. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
