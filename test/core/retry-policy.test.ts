import { describe, expect, it } from 'vitest';
import type { DelayExpression } from '../../src/core/retry-delay-expression.ts';
import { parseDelayExpression } from '../../src/core/retry-delay-expression.ts';
import {
  defaultRetryDelayMs,
  MAX_DELAY_MS,
  nextRetryDelayMs,
  parseRetryAfter,
} from '../../src/core/retry-policy.ts';

function expression(source: string): DelayExpression {
  const result = parseDelayExpression(source);
  if (!result.ok) throw new Error(result.error);
  return result.expression;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const NOW = Date.parse('2025-01-15T12:00:00Z');

describe('defaultRetryDelayMs', () => {
  it("is QStash's min(86400, e^(2.5·n)) seconds for retry n = retried + 1", () => {
    const delays = Array.from({ length: 11 }, (_, retried) => defaultRetryDelayMs(retried));
    expect(delays).toEqual([
      12_182,
      148_413,
      1_808_042,
      22_026_466,
      MAX_DELAY_MS,
      MAX_DELAY_MS,
      MAX_DELAY_MS,
      MAX_DELAY_MS,
      MAX_DELAY_MS,
      MAX_DELAY_MS,
      MAX_DELAY_MS,
    ]);
  });

  it('reads as the documented 12 s, 2 m 28 s, 30 m, 6 h 7 m, then a day each', () => {
    const whole = (ms: number, unit: number) => Math.floor(ms / unit);
    expect(whole(defaultRetryDelayMs(0), SECOND)).toBe(12);
    expect(whole(defaultRetryDelayMs(1), SECOND)).toBe(2 * 60 + 28);
    expect(whole(defaultRetryDelayMs(2), MINUTE)).toBe(30);
    expect(whole(defaultRetryDelayMs(3), MINUTE)).toBe(6 * 60 + 7);
    expect(defaultRetryDelayMs(4)).toBe(24 * HOUR);
    expect(MAX_DELAY_MS).toBe(24 * HOUR);
  });

  it('returns whole milliseconds', () => {
    for (let retried = 0; retried <= 20; retried++) {
      expect(Number.isInteger(defaultRetryDelayMs(retried))).toBe(true);
    }
  });
});

describe('parseRetryAfter', () => {
  it('is null when absent or unreadable', () => {
    for (const value of [
      null,
      undefined,
      '',
      '   ',
      'soon',
      '1.5',
      '12 s',
      '1h30',
      'Tomorrow',
      '5m1h',
      'ms',
    ]) {
      expect(parseRetryAfter(value, NOW)).toBeNull();
    }
  });

  it('reads delta-seconds', () => {
    expect(parseRetryAfter('120', NOW)).toBe(120 * SECOND);
    expect(parseRetryAfter(' 5 ', NOW)).toBe(5 * SECOND);
    expect(parseRetryAfter('0', NOW)).toBe(0);
  });

  it('treats negative seconds as now', () => {
    expect(parseRetryAfter('-30', NOW)).toBe(0);
  });

  it('reads an HTTP-date relative to now', () => {
    expect(parseRetryAfter('Wed, 15 Jan 2025 12:02:00 GMT', NOW)).toBe(2 * MINUTE);
    expect(parseRetryAfter(new Date(NOW + 90 * SECOND).toUTCString(), NOW)).toBe(90 * SECOND);
  });

  it('treats a past HTTP-date as now', () => {
    expect(parseRetryAfter('Wed, 15 Jan 2025 11:00:00 GMT', NOW)).toBe(0);
    expect(parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', NOW)).toBe(0);
  });

  it('refuses date-like text that is not an IMF-fixdate', () => {
    // asctime has no zone: Date.parse would read it in local time.
    expect(parseRetryAfter('Wed Jan 15 12:02:00 2025', NOW)).toBeNull();
    expect(parseRetryAfter('2025-01-15T12:02:00Z', NOW)).toBeNull();
    expect(parseRetryAfter('Wed, 15 Jan 2025 12:02:00', NOW)).toBeNull();
  });

  it("reads QStash's duration form", () => {
    expect(parseRetryAfter('6m5s', NOW)).toBe(6 * MINUTE + 5 * SECOND);
    expect(parseRetryAfter('1h', NOW)).toBe(HOUR);
    expect(parseRetryAfter('50s', NOW)).toBe(50 * SECOND);
    expect(parseRetryAfter('500ms', NOW)).toBe(500);
    expect(parseRetryAfter('5m', NOW)).toBe(5 * MINUTE);
    expect(parseRetryAfter('1h30m', NOW)).toBe(90 * MINUTE);
    expect(parseRetryAfter('0d10h30m', NOW)).toBe(10 * HOUR + 30 * MINUTE);
  });

  it('caps every form at one day', () => {
    expect(parseRetryAfter('86400', NOW)).toBe(MAX_DELAY_MS);
    expect(parseRetryAfter('86401', NOW)).toBe(MAX_DELAY_MS);
    expect(parseRetryAfter('99999999999999999999999', NOW)).toBe(MAX_DELAY_MS);
    expect(parseRetryAfter('1d10h30m', NOW)).toBe(MAX_DELAY_MS);
    expect(parseRetryAfter('48h', NOW)).toBe(MAX_DELAY_MS);
    expect(parseRetryAfter('Fri, 17 Jan 2025 12:00:00 GMT', NOW)).toBe(MAX_DELAY_MS);
  });
});

describe('nextRetryDelayMs', () => {
  it("uses QStash's default without an expression or Retry-After", () => {
    expect(nextRetryDelayMs({ retried: 0, retryDelay: null, retryAfterMs: null })).toBe(12_182);
    expect(nextRetryDelayMs({ retried: 1, retryDelay: null, retryAfterMs: null })).toBe(148_413);
  });

  it('uses the expression, evaluated with the retries already made', () => {
    const retryDelay = expression('pow(2, retried) * 1000');
    expect(nextRetryDelayMs({ retried: 0, retryDelay, retryAfterMs: null })).toBe(1000);
    expect(nextRetryDelayMs({ retried: 3, retryDelay, retryAfterMs: null })).toBe(8000);
  });

  it('lets Retry-After win over the expression and the default', () => {
    const retryDelay = expression('1000');
    expect(nextRetryDelayMs({ retried: 0, retryDelay, retryAfterMs: 5000 })).toBe(5000);
    expect(nextRetryDelayMs({ retried: 0, retryDelay: null, retryAfterMs: 5000 })).toBe(5000);
    expect(nextRetryDelayMs({ retried: 0, retryDelay: null, retryAfterMs: 0 })).toBe(0);
  });

  it('caps at one day and never goes negative', () => {
    const cases: [DelayExpression | null, number | null][] = [
      [expression('pow(10, 12)'), null],
      [expression('1000 / 0'), null],
      [null, 10 * MAX_DELAY_MS],
    ];
    for (const [retryDelay, retryAfterMs] of cases) {
      expect(nextRetryDelayMs({ retried: 0, retryDelay, retryAfterMs })).toBe(MAX_DELAY_MS);
    }
    expect(nextRetryDelayMs({ retried: 0, retryDelay: expression('-5000'), retryAfterMs: null })).toBe(0);
    expect(nextRetryDelayMs({ retried: 0, retryDelay: expression('0 / 0'), retryAfterMs: null })).toBe(0);
    expect(nextRetryDelayMs({ retried: 0, retryDelay: null, retryAfterMs: -1 })).toBe(0);
    expect(nextRetryDelayMs({ retried: 0, retryDelay: null, retryAfterMs: Number.NaN })).toBe(0);
  });

  it('returns whole milliseconds', () => {
    expect(
      nextRetryDelayMs({ retried: 0, retryDelay: expression('sqrt(2) * 1000'), retryAfterMs: null }),
    ).toBe(1414);
  });
});
