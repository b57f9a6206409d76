import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type DelayExpression,
  type DelayFunctionName,
  evaluateDelayExpression,
  MAX_DELAY_EXPRESSION_DEPTH,
  MAX_DELAY_EXPRESSION_LENGTH,
  parseDelayExpression,
} from '../../src/core/retry-delay-expression.ts';
import { MAX_DELAY_MS, nextRetryDelayMs } from '../../src/core/retry-policy.ts';

// The parser takes strangers' text (API-created subscriptions): it must answer every string with
// a result, and whatever it accepts must evaluate to a usable delay for every retry count.

const SEED = 8_2026;
const RUNS = 400;
const FUNCTIONS: readonly DelayFunctionName[] = [
  'pow',
  'sqrt',
  'abs',
  'exp',
  'floor',
  'ceil',
  'round',
  'min',
  'max',
];
const ARITY: Record<DelayFunctionName, readonly [number, number]> = {
  pow: [2, 2],
  sqrt: [1, 1],
  abs: [1, 1],
  exp: [1, 1],
  floor: [1, 1],
  ceil: [1, 1],
  round: [1, 1],
  min: [2, 4],
  max: [2, 4],
};

/** Text near the grammar: its tokens, near-misses and hostile bits, glued in any order. */
const tokenSoup = fc
  .array(
    fc.constantFrom(
      'retried',
      'pow',
      'sqrt',
      'min',
      'max',
      'exp',
      'abs',
      '(',
      ')',
      ',',
      '+',
      '-',
      '*',
      '/',
      ' ',
      '0',
      '1000',
      '2.5',
      '.5',
      '1.',
      '1e9',
      '99999999999999999999',
      'Infinity',
      'NaN',
      'constructor',
      '__proto__',
      'process',
      '.',
      '\n',
      '\t',
      '\u0085',
      'é',
      '"',
      ';',
      '**',
    ),
    { maxLength: 80 },
  )
  .map((parts) => parts.join(''));

const anyString = fc.oneof(
  { weight: 3, arbitrary: tokenSoup },
  { weight: 1, arbitrary: fc.string({ maxLength: 300, unit: 'binary' }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 300 }) },
  // Nesting near and past the depth limit.
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 0, max: 60 }), fc.constantFrom('(', '-', 'abs(', 'pow(1,'))
      .map(([n, open]) => `${open.repeat(n)}1${(open.endsWith('(') ? ')' : '').repeat(n)}`),
  },
);

/** Delays for every retry count a subscription may have (0–20), and a few absurd ones. */
const RETRIED = [...Array.from({ length: 21 }, (_, i) => i), 1000, 1e9, Number.MAX_SAFE_INTEGER];

function checkDelays(expression: DelayExpression): void {
  // Plain comparisons rather than `expect` in this loop: it runs tens of thousands of times.
  for (const retried of RETRIED) {
    const value = evaluateDelayExpression(expression, retried);
    if (!(Number.isFinite(value) && value >= 0 && value <= Number.MAX_SAFE_INTEGER)) {
      throw new Error(`evaluate(retried=${retried}) = ${value}`);
    }
    const delay = nextRetryDelayMs({ retried, retryDelay: expression, retryAfterMs: null });
    if (!(Number.isInteger(delay) && delay >= 0 && delay <= MAX_DELAY_MS)) {
      throw new Error(`nextRetryDelayMs(retried=${retried}) = ${delay}`);
    }
  }
}

/** A tree the grammar can express; numbers are non-negative literals (a minus is a `negate`). */
const tree = fc.letrec<{ node: DelayExpression }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc
      .oneof(
        fc.nat({ max: 100_000 }),
        fc.integer({ min: 0, max: 1_000_000 }).map((n) => n / 1000),
      )
      .map((value): DelayExpression => ({ kind: 'number', value })),
    fc.constant<DelayExpression>({ kind: 'retried' }),
    tie('node').map((operand): DelayExpression => ({ kind: 'negate', operand })),
    fc
      .tuple(fc.constantFrom('+', '-', '*', '/' as const), tie('node'), tie('node'))
      .map(([operator, left, right]): DelayExpression => ({ kind: 'binary', operator, left, right })),
    fc
      .constantFrom(...FUNCTIONS)
      .chain((name) =>
        fc
          .array(tie('node'), { minLength: ARITY[name][0], maxLength: ARITY[name][1] })
          .map((args): DelayExpression => ({ kind: 'call', name, args })),
      ),
  ),
})).node;

/** Prints a tree with every compound operand in parentheses, so the text parses back to the tree. */
function print(node: DelayExpression): string {
  switch (node.kind) {
    case 'number':
      return String(node.value);
    case 'retried':
      return 'retried';
    case 'negate':
      return `-${operand(node.operand)}`;
    case 'binary':
      return `${operand(node.left)} ${node.operator} ${operand(node.right)}`;
    case 'call':
      return `${node.name}(${node.args.map(print).join(', ')})`;
  }
}

function operand(node: DelayExpression): string {
  return node.kind === 'binary' || node.kind === 'negate' ? `(${print(node)})` : print(node);
}

/** Nesting as the parser counts it: parentheses, calls and unary minus. */
function depth(node: DelayExpression): number {
  switch (node.kind) {
    case 'number':
    case 'retried':
      return 0;
    case 'negate':
      return 1 + Math.max(depth(node.operand), node.operand.kind === 'binary' ? 1 : 0);
    case 'binary':
      return Math.max(
        depth(node.left) + (node.left.kind === 'binary' || node.left.kind === 'negate' ? 1 : 0),
        depth(node.right) + (node.right.kind === 'binary' || node.right.kind === 'negate' ? 1 : 0),
      );
    case 'call':
      return 1 + Math.max(...node.args.map(depth));
  }
}

/** A reference evaluation, straight from the grammar's meaning. */
function reference(node: DelayExpression, retried: number): number {
  switch (node.kind) {
    case 'number':
      return node.value;
    case 'retried':
      return retried;
    case 'negate':
      return -reference(node.operand, retried);
    case 'binary': {
      const [l, r] = [reference(node.left, retried), reference(node.right, retried)];
      return node.operator === '+'
        ? l + r
        : node.operator === '-'
          ? l - r
          : node.operator === '*'
            ? l * r
            : l / r;
    }
    case 'call': {
      const args = node.args.map((a) => reference(a, retried));
      const [a = 0, b = 0] = args;
      switch (node.name) {
        case 'pow':
          return a ** b;
        case 'min':
          return Math.min(...args);
        case 'max':
          return Math.max(...args);
        default:
          return Math[node.name](a);
      }
    }
  }
}

describe('parseDelayExpression — properties', () => {
  it('never throws on any string, and answers a result or an error naming the problem', () => {
    fc.assert(
      fc.property(anyString, (source) => {
        const parsed = parseDelayExpression(source);
        if (parsed.ok) checkDelays(parsed.expression);
        else expect(parsed.error).toMatch(/\S/);
      }),
      { seed: SEED, numRuns: RUNS * 5 },
    );
  });

  it('refuses every control character, wherever it stands (the header cannot carry one)', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 40 }),
        fc.oneof(fc.integer({ min: 0, max: 0x1f }), fc.integer({ min: 0x7f, max: 0x9f })),
        fc.string({ maxLength: 40 }),
        (before, code, after) => {
          expect(parseDelayExpression(`${before}${String.fromCharCode(code)}${after}`).ok).toBe(false);
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('every accepted expression gives a finite delay from 0 to the cap for every retry count', () => {
    fc.assert(
      fc.property(tree, (expression) => {
        const source = print(expression);
        fc.pre(
          source.length <= MAX_DELAY_EXPRESSION_LENGTH && depth(expression) < MAX_DELAY_EXPRESSION_DEPTH,
        );
        const parsed = parseDelayExpression(source);
        expect(parsed.ok, source).toBe(true);
        if (parsed.ok) checkDelays(parsed.expression);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('round-trips printed expressions: parse(print(tree)) is the tree, and evaluates as the tree', () => {
    fc.assert(
      fc.property(tree, fc.nat({ max: 20 }), (expression, retried) => {
        const source = print(expression);
        fc.pre(
          source.length <= MAX_DELAY_EXPRESSION_LENGTH && depth(expression) < MAX_DELAY_EXPRESSION_DEPTH,
        );
        const parsed = parseDelayExpression(source);
        expect(parsed.ok, source).toBe(true);
        if (!parsed.ok) return;
        expect(parsed.expression).toEqual(expression);
        expect(print(parsed.expression)).toBe(source);
        const raw = reference(expression, retried);
        const expected = !(raw > 0) ? 0 : Math.min(raw, Number.MAX_SAFE_INTEGER);
        expect(evaluateDelayExpression(parsed.expression, retried)).toBe(expected);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('spaces between tokens never change the meaning', () => {
    fc.assert(
      fc.property(tree, fc.integer({ min: 1, max: 3 }), (expression, spaces) => {
        const source = print(expression);
        fc.pre(
          source.length * 2 <= MAX_DELAY_EXPRESSION_LENGTH && depth(expression) < MAX_DELAY_EXPRESSION_DEPTH,
        );
        const spaced = source.replace(/([(),+*/-])/g, `${' '.repeat(spaces)}$1${' '.repeat(spaces)}`);
        fc.pre(spaced.length <= MAX_DELAY_EXPRESSION_LENGTH);
        const a = parseDelayExpression(source);
        const b = parseDelayExpression(spaced);
        expect(b).toEqual(a);
      }),
      { seed: SEED, numRuns: RUNS / 2 },
    );
  });
});
