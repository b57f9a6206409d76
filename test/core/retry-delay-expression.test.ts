import { describe, expect, it } from 'vitest';
import type { DelayExpression } from '../../src/core/retry-delay-expression.ts';
import {
  evaluateDelayExpression,
  MAX_DELAY_EXPRESSION_DEPTH,
  MAX_DELAY_EXPRESSION_LENGTH,
  parseDelayExpression,
} from '../../src/core/retry-delay-expression.ts';

function parse(source: string): DelayExpression {
  const result = parseDelayExpression(source);
  if (!result.ok) throw new Error(`expected ${JSON.stringify(source)} to parse: ${result.error}`);
  return result.expression;
}

function evaluate(source: string, retried = 0): number {
  return evaluateDelayExpression(parse(source), retried);
}

function parseError(source: string): string {
  const result = parseDelayExpression(source);
  if (result.ok) throw new Error(`expected ${JSON.stringify(source)} to be refused`);
  return result.error;
}

describe('parseDelayExpression / evaluateDelayExpression', () => {
  it('evaluates the documented examples', () => {
    expect(evaluate('1000', 0)).toBe(1000);
    expect(evaluate('1000', 7)).toBe(1000);
    expect([0, 1, 2, 3].map((r) => evaluate('pow(2, retried) * 1000', r))).toEqual([1000, 2000, 4000, 8000]);
    expect([0, 1, 2].map((r) => evaluate('1000 * (1 + retried)', r))).toEqual([1000, 2000, 3000]);
    const capped = parse('max(1000, min(retried*500, 5000))');
    expect([0, 1, 2, 4, 10, 20].map((r) => evaluateDelayExpression(capped, r))).toEqual([
      1000, 1000, 1000, 2000, 5000, 5000,
    ]);
  });

  it('follows arithmetic precedence and left associativity', () => {
    expect(evaluate('1 + 2 * 3')).toBe(7);
    expect(evaluate('(1 + 2) * 3')).toBe(9);
    expect(evaluate('10 - 4 - 3')).toBe(3);
    expect(evaluate('100 / 10 / 2')).toBe(5);
    expect(evaluate('2 * 3 + 4 * 5')).toBe(26);
    expect(evaluate('20 - 2 * 3 + 1')).toBe(15);
    expect(evaluate('1.5 * 1000')).toBe(1500);
    expect(evaluate('.5 * 1000')).toBe(500);
  });

  it('supports unary minus', () => {
    expect(evaluate('-1000 + 3000')).toBe(2000);
    expect(evaluate('2000 - -1000')).toBe(3000);
    expect(evaluate('--1000')).toBe(1000);
    expect(evaluate('-(1000 - 3000)')).toBe(2000);
    expect(evaluate('-pow(2, 3) * -1000')).toBe(8000);
    expect(evaluate('abs(-retried) * 1000', 3)).toBe(3000);
  });

  it('ignores spaces', () => {
    expect(evaluate('  pow ( 2 ,retried )*  1000 ', 2)).toBe(4000);
    expect(evaluate('max(1000,min(retried*500,5000))', 4)).toBe(2000);
  });

  it('refuses control characters: the expression travels in the Upstash-Retry-Delay header', () => {
    // A newline or tab would make @upstash/qstash throw while building the batch request, and fail
    // every other message of that batch with it (issue 8, item 2).
    expect(parseError('pow(2, retried)\n* 1000')).toMatch(/control character U\+000A at position 16/);
    expect(parseError('1000\t')).toMatch(/control character U\+0009 at position 5/);
    expect(parseError('\r1000')).toMatch(/control character U\+000D at position 1/);
    for (let code = 0; code < 0x20; code++) {
      expect(parseDelayExpression(`1000 +${String.fromCharCode(code)}1`).ok, `U+${code.toString(16)}`).toBe(
        false,
      );
    }
    expect(parseDelayExpression('1000\u007f').ok).toBe(false);
    expect(parseDelayExpression('1000\u0085').ok).toBe(false);
  });

  it('implements every function', () => {
    expect(evaluate('pow(3, 2)')).toBe(9);
    expect(evaluate('sqrt(16)')).toBe(4);
    expect(evaluate('abs(-5)')).toBe(5);
    expect(evaluate('exp(0)')).toBe(1);
    expect(evaluate('floor(2.7)')).toBe(2);
    expect(evaluate('ceil(2.1)')).toBe(3);
    expect(evaluate('round(2.5)')).toBe(3);
    expect(evaluate('min(5, 3, 4)')).toBe(3);
    expect(evaluate('max(5, 3, 9, 4)')).toBe(9);
    expect(evaluate('round(exp(2.5 * (retried + 1)) * 1000)', 0)).toBe(12182);
  });

  it('clamps results that are not a usable delay', () => {
    expect(evaluate('1000 / 0')).toBe(Number.MAX_SAFE_INTEGER);
    expect(evaluate('exp(1000)')).toBe(Number.MAX_SAFE_INTEGER);
    expect(evaluate('0 / 0')).toBe(0);
    expect(evaluate('-1000 / 0')).toBe(0);
    expect(evaluate('sqrt(-1)')).toBe(0);
    expect(evaluate('-1000')).toBe(0);
    expect(evaluate('1000 - retried * 1000', 5)).toBe(0);
    expect(Object.is(evaluate('-0'), 0)).toBe(true);
  });

  it('produces a frozen tree', () => {
    const expression = parse('pow(2, retried) * 1000');
    expect(Object.isFrozen(expression)).toBe(true);
    expect(expression).toMatchObject({ kind: 'binary', operator: '*' });
  });

  describe('refuses', () => {
    it('an empty expression', () => {
      expect(parseError('')).toMatch(/empty/);
      expect(parseError('   ')).toMatch(/empty/);
    });

    it('unknown identifiers, with their position', () => {
      expect(parseError('retries * 1000')).toMatch(/unknown identifier "retries" at position 1/);
      expect(parseError('1000 * x')).toMatch(/unknown identifier "x" at position 8/);
      expect(parseError('Retried')).toMatch(/unknown identifier "Retried"/);
    });

    it('unknown functions', () => {
      expect(parseError('log(10)')).toMatch(/unknown function "log" at position 1/);
      expect(parseError('retried(1)')).toMatch(/unknown function "retried"/);
    });

    it('wrong arity', () => {
      expect(parseError('pow(2)')).toMatch(/pow\(\) at position 1 takes 2 arguments, got 1/);
      expect(parseError('pow(2, 3, 4)')).toMatch(/takes 2 arguments, got 3/);
      expect(parseError('sqrt(1, 2)')).toMatch(/sqrt\(\) at position 1 takes 1 argument, got 2/);
      expect(parseError('abs()')).toMatch(/takes 1 argument, got 0/);
      expect(parseError('min(1)')).toMatch(/min\(\) at position 1 takes at least 2 arguments, got 1/);
      expect(parseError('max()')).toMatch(/at least 2 arguments, got 0/);
    });

    it('trailing garbage and broken syntax', () => {
      expect(parseError('1000 2000')).toMatch(/unexpected number 2000 at position 6/);
      expect(parseError('1000)')).toMatch(/unexpected "\)" at position 5/);
      expect(parseError('(1000')).toMatch(/expected "\)" but found the end of the expression/);
      expect(parseError('1000 *')).toMatch(/found the end of the expression/);
      expect(parseError('1000 ^ 2')).toMatch(/unexpected character "\^" at position 6/);
      expect(parseError('+1000')).toMatch(/position 1/);
      expect(parseError('1.')).toMatch(/expected a digit after "\." at position 3/);
      expect(parseError('1,2')).toMatch(/unexpected "," at position 2/);
      expect(parseError('1e3')).toMatch(/unexpected "e3" at position 2/);
    });

    it('anything that reaches for the JavaScript runtime', () => {
      expect(parseError('constructor')).toMatch(/unknown identifier "constructor"/);
      expect(parseError('constructor()')).toMatch(/unknown function "constructor"/);
      expect(parseError('__proto__')).toMatch(/unknown identifier "__proto__"/);
      expect(parseError('toString(1)')).toMatch(/unknown function "toString"/);
      expect(parseError('hasOwnProperty(1)')).toMatch(/unknown function "hasOwnProperty"/);
      expect(parseError('process.exit()')).toMatch(/unknown identifier "process" at position 1/);
      expect(parseError('pow.constructor("return 1")()')).toMatch(/pow at position 1 is a function/);
      expect(parseError('min')).toMatch(/min at position 1 is a function: call it as min\(…\)/);
      expect(parseError('this')).toMatch(/unknown identifier "this"/);
      expect(parseError('"1000"')).toMatch(/unexpected character/);
      expect(parseError('retried[0]')).toMatch(/unexpected character "\["/);
    });

    it(`sources longer than ${MAX_DELAY_EXPRESSION_LENGTH} characters`, () => {
      const atLimit = `1${' '.repeat(MAX_DELAY_EXPRESSION_LENGTH - 1)}`;
      expect(parseDelayExpression(atLimit).ok).toBe(true);
      expect(parseError(`${atLimit} `)).toMatch(/257 characters long; the limit is 256/);
    });

    it(`nesting deeper than ${MAX_DELAY_EXPRESSION_DEPTH} levels`, () => {
      const nested = (n: number) => `${'('.repeat(n)}1${')'.repeat(n)}`;
      expect(parseDelayExpression(nested(MAX_DELAY_EXPRESSION_DEPTH)).ok).toBe(true);
      expect(parseError(nested(MAX_DELAY_EXPRESSION_DEPTH + 1))).toMatch(
        /deeper than 32 levels at position 33/,
      );
      expect(parseError(`${'abs('.repeat(33)}1${')'.repeat(33)}`)).toMatch(/deeper than 32/);
      expect(parseError(`${'-'.repeat(33)}1`)).toMatch(/deeper than 32/);
      expect(evaluate(`${'-'.repeat(32)}1`)).toBe(1);
    });
  });
});
