import { describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/core/clock.ts';
import type { AttemptOutcome, DeliveryStatus } from '../../src/core/delivery-state.ts';
import { canTransition, DELIVERY_STATUSES, decideAttemptOutcome } from '../../src/core/delivery-state.ts';
import type { DelayExpression } from '../../src/core/retry-delay-expression.ts';
import { parseDelayExpression } from '../../src/core/retry-delay-expression.ts';
import { defaultRetryDelayMs, MAX_DELAY_MS } from '../../src/core/retry-policy.ts';

describe('canTransition', () => {
  const allowed: Record<DeliveryStatus, DeliveryStatus[]> = {
    pending: ['in_flight', 'delivered', 'retrying', 'dead'],
    in_flight: ['delivered', 'retrying', 'dead', 'pending'],
    retrying: ['in_flight', 'delivered', 'retrying', 'dead'],
    delivered: [],
    dead: ['pending'],
  };

  it('allows exactly the moves of the table', () => {
    for (const from of DELIVERY_STATUSES) {
      for (const to of DELIVERY_STATUSES) {
        expect([from, to, canTransition(from, to)]).toEqual([from, to, allowed[from].includes(to)]);
      }
    }
  });

  it('walks the local dispatcher path', () => {
    const path: DeliveryStatus[] = ['pending', 'in_flight', 'retrying', 'in_flight', 'delivered'];
    for (let i = 1; i < path.length; i++) expect(canTransition(path[i - 1]!, path[i]!)).toBe(true);
  });

  it('keeps delivered terminal and lets only a replay revive the dead', () => {
    for (const to of DELIVERY_STATUSES) expect(canTransition('delivered', to)).toBe(false);
    expect(canTransition('dead', 'pending')).toBe(true);
    expect(canTransition('dead', 'in_flight')).toBe(false);
    expect(canTransition('dead', 'retrying')).toBe(false);
  });
});

type Response = { status: number | null; nonRetryable?: boolean; retryAfterMs?: number };

/**
 * Runs one delivery the way a transport does — attempt, decide, wait on a fake clock — and
 * records every attempt, so a full 10-retry schedule takes milliseconds.
 */
function simulate(
  respond: (attempt: number) => Response,
  options: { maxRetries?: number; retryDelay?: DelayExpression | null } = {},
) {
  const clock = createManualClock(0);
  const attempts: { attempt: number; retried: number; at: number }[] = [];
  let retried = 0;
  for (;;) {
    const attempt = retried + 1;
    attempts.push({ attempt, retried, at: clock.now() });
    const response = respond(attempt);
    const outcome: AttemptOutcome = decideAttemptOutcome({
      status: response.status,
      nonRetryable: response.nonRetryable ?? false,
      retried,
      maxRetries: options.maxRetries ?? 10,
      retryDelay: options.retryDelay ?? null,
      retryAfterMs: response.retryAfterMs ?? null,
    });
    if (outcome.status !== 'retrying') return { outcome, attempts, elapsedMs: clock.now() };
    clock.advance(outcome.delayMs);
    retried++;
  }
}

describe('decideAttemptOutcome', () => {
  const base = { nonRetryable: false, retried: 0, maxRetries: 10, retryDelay: null, retryAfterMs: null };

  it('delivers on any 2xx', () => {
    for (const status of [200, 201, 202, 204, 299]) {
      expect(decideAttemptOutcome({ ...base, status })).toEqual({ status: 'delivered' });
    }
  });

  it('retries everything else, a timeout included', () => {
    for (const status of [null, 100, 199, 300, 301, 400, 401, 404, 409, 429, 489, 500, 503]) {
      expect(decideAttemptOutcome({ ...base, status })).toEqual({ status: 'retrying', delayMs: 12_182 });
    }
  });

  it('honours the non-retryable header on 489 only', () => {
    expect(decideAttemptOutcome({ ...base, status: 489, nonRetryable: true })).toEqual({
      status: 'dead',
      reason: 'non_retryable',
    });
    expect(decideAttemptOutcome({ ...base, status: 500, nonRetryable: true }).status).toBe('retrying');
    expect(decideAttemptOutcome({ ...base, status: 200, nonRetryable: true }).status).toBe('delivered');
  });

  it('gives up once maxRetries retries have been made', () => {
    expect(decideAttemptOutcome({ ...base, status: 500, retried: 9 }).status).toBe('retrying');
    expect(decideAttemptOutcome({ ...base, status: 500, retried: 10 })).toEqual({
      status: 'dead',
      reason: 'retries_exhausted',
    });
    expect(decideAttemptOutcome({ ...base, status: 500, maxRetries: 0 })).toEqual({
      status: 'dead',
      reason: 'retries_exhausted',
    });
  });

  it('takes the delay from Retry-After, then the expression, then the default', () => {
    const parsed = parseDelayExpression('1000 * (1 + retried)');
    if (!parsed.ok) throw new Error(parsed.error);
    const retryDelay = parsed.expression;
    expect(
      decideAttemptOutcome({ ...base, status: 503, retried: 2, retryDelay, retryAfterMs: 7000 }),
    ).toEqual({
      status: 'retrying',
      delayMs: 7000,
    });
    expect(decideAttemptOutcome({ ...base, status: 503, retried: 2, retryDelay })).toEqual({
      status: 'retrying',
      delayMs: 3000,
    });
    expect(decideAttemptOutcome({ ...base, status: 503, retried: 2 })).toEqual({
      status: 'retrying',
      delayMs: defaultRetryDelayMs(2),
    });
    expect(decideAttemptOutcome({ ...base, status: 503, retryAfterMs: 3 * MAX_DELAY_MS })).toEqual({
      status: 'retrying',
      delayMs: MAX_DELAY_MS,
    });
  });
});

describe('a simulated schedule', () => {
  it('always 500 with maxRetries 10: exactly 11 attempts on the default backoff, then dead', () => {
    const run = simulate(() => ({ status: 500 }));
    expect(run.outcome).toEqual({ status: 'dead', reason: 'retries_exhausted' });
    expect(run.attempts).toHaveLength(11);
    expect(run.attempts.map((a) => a.retried)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const gaps = run.attempts.slice(1).map((a, i) => a.at - run.attempts[i]!.at);
    expect(gaps).toEqual(Array.from({ length: 10 }, (_, retried) => defaultRetryDelayMs(retried)));
    expect(gaps.slice(0, 4)).toEqual([12_182, 148_413, 1_808_042, 22_026_466]);
    expect(run.elapsedMs).toBe(12_182 + 148_413 + 1_808_042 + 22_026_466 + 6 * MAX_DELAY_MS);
  });

  it('500 three times, then 200: delivered at attempt 4', () => {
    const run = simulate((attempt) => ({ status: attempt <= 3 ? 500 : 200 }));
    expect(run.outcome).toEqual({ status: 'delivered' });
    expect(run.attempts).toHaveLength(4);
    expect(run.attempts.at(-1)).toEqual({ attempt: 4, retried: 3, at: 12_182 + 148_413 + 1_808_042 });
  });

  it('489 with Upstash-NonRetryable-Error: dead after 1 attempt', () => {
    const run = simulate(() => ({ status: 489, nonRetryable: true }));
    expect(run.outcome).toEqual({ status: 'dead', reason: 'non_retryable' });
    expect(run.attempts).toHaveLength(1);
  });

  it('489 without the header: retried like any failure', () => {
    const run = simulate((attempt) => (attempt === 1 ? { status: 489 } : { status: 200 }));
    expect(run.outcome).toEqual({ status: 'delivered' });
    expect(run.attempts).toHaveLength(2);
    expect(run.attempts[1]!.at).toBe(12_182);
  });

  it('timeouts count as failures and respect a custom maxRetries and expression', () => {
    const parsed = parseDelayExpression('pow(2, retried) * 1000');
    if (!parsed.ok) throw new Error(parsed.error);
    const run = simulate(() => ({ status: null }), { maxRetries: 3, retryDelay: parsed.expression });
    expect(run.outcome).toEqual({ status: 'dead', reason: 'retries_exhausted' });
    expect(run.attempts.map((a) => a.at)).toEqual([0, 1000, 3000, 7000]);
  });

  it('Retry-After overrides the schedule for the next attempt only', () => {
    const run = simulate((attempt) =>
      attempt === 1
        ? { status: 429, retryAfterMs: 60_000 }
        : attempt === 2
          ? { status: 503 }
          : { status: 200 },
    );
    expect(run.attempts.map((a) => a.at)).toEqual([0, 60_000, 60_000 + 148_413]);
  });
});
