/**
 * QStash's `retry-delay` expression: milliseconds as arithmetic over `retried` (retries already
 * made, 0 for the first retry's delay). Subscriptions created through the API carry expressions
 * written by strangers, so this is a small closed grammar parsed by hand into an AST — never
 * `eval` or `Function`, and no property access of any kind:
 *
 * ```
 * expression := term (('+' | '-') term)*
 * term       := unary (('*' | '/') unary)*
 * unary      := '-' unary | primary
 * primary    := number | 'retried' | function '(' expression (',' expression)* ')' | '(' expression ')'
 * ```
 */

/** Longest accepted source; QStash headers are short, and this bounds parse and evaluation work. */
export const MAX_DELAY_EXPRESSION_LENGTH = 256;
/** Deepest accepted nesting of parentheses, calls and unary minus; keeps recursion shallow. */
export const MAX_DELAY_EXPRESSION_DEPTH = 32;

type Operator = '+' | '-' | '*' | '/';
type Punctuation = Operator | '(' | ')' | ',';

export type DelayFunctionName = 'pow' | 'sqrt' | 'abs' | 'exp' | 'floor' | 'ceil' | 'round' | 'min' | 'max';

/** A parsed expression: a frozen tree, built only by `parseDelayExpression`. */
export type DelayExpression =
  | { readonly kind: 'number'; readonly value: number }
  | { readonly kind: 'retried' }
  | { readonly kind: 'negate'; readonly operand: DelayExpression }
  | {
      readonly kind: 'binary';
      readonly operator: Operator;
      readonly left: DelayExpression;
      readonly right: DelayExpression;
    }
  | { readonly kind: 'call'; readonly name: DelayFunctionName; readonly args: readonly DelayExpression[] };

export type DelayExpressionParseResult =
  | { ok: true; expression: DelayExpression }
  | { ok: false; error: string };

/** [fewest, most] arguments; a plain object read only through `Object.hasOwn`, so `constructor` is no function. */
const ARITY: Readonly<Record<DelayFunctionName, readonly [number, number]>> = Object.freeze({
  pow: [2, 2],
  sqrt: [1, 1],
  abs: [1, 1],
  exp: [1, 1],
  floor: [1, 1],
  ceil: [1, 1],
  round: [1, 1],
  min: [2, Number.POSITIVE_INFINITY],
  max: [2, Number.POSITIVE_INFINITY],
});

type Token =
  | { readonly kind: 'number'; readonly value: number; readonly position: number }
  | { readonly kind: 'identifier'; readonly name: string; readonly position: number }
  | { readonly kind: 'symbol'; readonly symbol: Punctuation; readonly position: number }
  | { readonly kind: 'end'; readonly position: number }
  // A lexical error is a token, not a throw, so the parser reports problems in source order:
  // `process.exit()` is refused for `process` before anyone mentions the `.`.
  | { readonly kind: 'invalid'; readonly message: string; readonly position: number };

/**
 * Parses a delay expression; errors name the 1-based character position.
 * @example
 * const parsed = parseDelayExpression('pow(2, retried) * 1000');
 * if (parsed.ok) evaluateDelayExpression(parsed.expression, 3); // 8000
 */
export function parseDelayExpression(source: string): DelayExpressionParseResult {
  if (source.length > MAX_DELAY_EXPRESSION_LENGTH) {
    return {
      ok: false,
      error: `delay expression is ${source.length} characters long; the limit is ${MAX_DELAY_EXPRESSION_LENGTH}`,
    };
  }
  try {
    return { ok: true, expression: parseTokens(tokenize(source)) };
  } catch (error) {
    // The parser unwinds with SyntaxError from any depth; anything else is a bug and propagates.
    if (error instanceof SyntaxError) return { ok: false, error: error.message };
    throw error;
  }
}

/**
 * Evaluates a parsed expression for a retry. The result is finite and non-negative: NaN and
 * negatives (`0/0`, `sqrt(-1)`, `-1000`) become 0, and overflow (`1/0`, `exp(1000)`) becomes
 * `Number.MAX_SAFE_INTEGER` — the policy (`nextRetryDelayMs`) then caps it at one day.
 * @example evaluateDelayExpression(expression, 0) // 1000 for '1000 * (1 + retried)'
 */
export function evaluateDelayExpression(expression: DelayExpression, retried: number): number {
  const value = evaluate(expression, retried);
  // `!(value > 0)` also catches NaN and -0.
  if (!(value > 0)) return 0;
  return Math.min(value, Number.MAX_SAFE_INTEGER);
}

function evaluate(node: DelayExpression, retried: number): number {
  switch (node.kind) {
    case 'number':
      return node.value;
    case 'retried':
      return retried;
    case 'negate':
      return -evaluate(node.operand, retried);
    case 'binary':
      return applyOperator(node.operator, evaluate(node.left, retried), evaluate(node.right, retried));
    case 'call':
      return applyFunction(
        node.name,
        node.args.map((arg) => evaluate(arg, retried)),
      );
  }
}

function applyOperator(operator: Operator, left: number, right: number): number {
  switch (operator) {
    case '+':
      return left + right;
    case '-':
      return left - right;
    case '*':
      return left * right;
    case '/':
      return left / right;
  }
}

/** Arity was checked at parse time, so the indexed arguments exist. */
function applyFunction(name: DelayFunctionName, args: readonly number[]): number {
  switch (name) {
    case 'pow':
      return args[0]! ** args[1]!;
    case 'sqrt':
      return Math.sqrt(args[0]!);
    case 'abs':
      return Math.abs(args[0]!);
    case 'exp':
      return Math.exp(args[0]!);
    case 'floor':
      return Math.floor(args[0]!);
    case 'ceil':
      return Math.ceil(args[0]!);
    case 'round':
      return Math.round(args[0]!);
    case 'min':
      return Math.min(...args);
    case 'max':
      return Math.max(...args);
  }
}

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const char = source[i]!;
    const position = i + 1;
    if (char === ' ') {
      i++;
    } else if (isControl(char)) {
      // The expression travels as the `Upstash-Retry-Delay` header, which cannot carry a newline
      // or a tab: `@upstash/qstash` would throw while building the batch and fail every other
      // message in it. Refused here, so no stored expression can hold one.
      const code = char.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
      tokens.push({
        kind: 'invalid',
        message: `control character U+${code} at position ${position}; only spaces may separate tokens`,
        position,
      });
      return tokens;
    } else if (isDigit(char) || (char === '.' && isDigit(source[i + 1]))) {
      let end = i;
      while (isDigit(source[end])) end++;
      if (source[end] === '.') {
        end++;
        if (!isDigit(source[end])) {
          tokens.push({
            kind: 'invalid',
            message: `expected a digit after "." at position ${end + 1}`,
            position,
          });
          return tokens;
        }
        while (isDigit(source[end])) end++;
      }
      tokens.push({ kind: 'number', value: Number(source.slice(i, end)), position });
      i = end;
    } else if (isIdentifierStart(char)) {
      let end = i + 1;
      while (end < source.length && isIdentifierPart(source[end]!)) end++;
      tokens.push({ kind: 'identifier', name: source.slice(i, end), position });
      i = end;
    } else if (isPunctuation(char)) {
      tokens.push({ kind: 'symbol', symbol: char, position });
      i++;
    } else {
      const message = `unexpected character ${JSON.stringify(char)} at position ${position}`;
      tokens.push({ kind: 'invalid', message, position });
      return tokens;
    }
  }
  tokens.push({ kind: 'end', position: source.length + 1 });
  return tokens;
}

function parseTokens(tokens: readonly Token[]): DelayExpression {
  let index = 0;
  const peek = (): Exclude<Token, { kind: 'invalid' }> => {
    const token = tokens[index]!;
    if (token.kind === 'invalid') throw new SyntaxError(token.message);
    return token;
  };
  /** Consumes the next token when it is one of `symbols`. */
  const take = <TSymbol extends Punctuation>(...symbols: TSymbol[]): TSymbol | null => {
    const token = peek();
    if (token.kind !== 'symbol' || !(symbols as Punctuation[]).includes(token.symbol)) return null;
    index++;
    return token.symbol as TSymbol;
  };
  const expect = (symbol: Punctuation): void => {
    if (take(symbol) === null) throw new SyntaxError(`expected "${symbol}" but found ${describe(peek())}`);
  };
  const enter = (depth: number, token: Token): number => {
    if (depth >= MAX_DELAY_EXPRESSION_DEPTH) {
      throw new SyntaxError(
        `delay expression nests deeper than ${MAX_DELAY_EXPRESSION_DEPTH} levels at position ${token.position}`,
      );
    }
    return depth + 1;
  };

  const parseExpression = (depth: number): DelayExpression => {
    let left = parseTerm(depth);
    for (let operator = take('+', '-'); operator !== null; operator = take('+', '-')) {
      left = Object.freeze({ kind: 'binary', operator, left, right: parseTerm(depth) });
    }
    return left;
  };

  const parseTerm = (depth: number): DelayExpression => {
    let left = parseUnary(depth);
    for (let operator = take('*', '/'); operator !== null; operator = take('*', '/')) {
      left = Object.freeze({ kind: 'binary', operator, left, right: parseUnary(depth) });
    }
    return left;
  };

  const parseUnary = (depth: number): DelayExpression => {
    const token = peek();
    if (take('-') === null) return parsePrimary(depth);
    return Object.freeze({ kind: 'negate', operand: parseUnary(enter(depth, token)) });
  };

  const parsePrimary = (depth: number): DelayExpression => {
    const token = peek();
    if (token.kind === 'number') {
      index++;
      return Object.freeze({ kind: 'number', value: token.value });
    }
    if (take('(') !== null) {
      const inner = parseExpression(enter(depth, token));
      expect(')');
      return inner;
    }
    if (token.kind === 'identifier') {
      index++;
      // Looks at the raw token: a lexical error after an unknown name should not mask the name.
      const next = tokens[index]!;
      if (next.kind === 'symbol' && next.symbol === '(') {
        index++;
        return parseCall(token.name, token.position, enter(depth, token));
      }
      if (token.name === 'retried') return Object.freeze({ kind: 'retried' });
      if (isFunctionName(token.name)) {
        throw new SyntaxError(
          `${token.name} at position ${token.position} is a function: call it as ${token.name}(…)`,
        );
      }
      throw new SyntaxError(
        `unknown identifier ${JSON.stringify(token.name)} at position ${token.position}; the only variable is "retried"`,
      );
    }
    throw new SyntaxError(`expected a number, "retried", a function or "(" but found ${describe(token)}`);
  };

  /** Called after `name(`; `depth` already counts the call. */
  const parseCall = (name: string, position: number, depth: number): DelayExpression => {
    if (!isFunctionName(name)) {
      throw new SyntaxError(
        `unknown function ${JSON.stringify(name)} at position ${position}; known: ${Object.keys(ARITY).join(', ')}`,
      );
    }
    const args: DelayExpression[] = [];
    if (take(')') === null) {
      do args.push(parseExpression(depth));
      while (take(',') !== null);
      expect(')');
    }
    const [fewest, most] = ARITY[name];
    if (args.length < fewest || args.length > most) {
      const wanted = fewest === most ? `${fewest}` : `at least ${fewest}`;
      throw new SyntaxError(
        `${name}() at position ${position} takes ${wanted} argument${fewest === 1 ? '' : 's'}, got ${args.length}`,
      );
    }
    return Object.freeze({ kind: 'call', name, args: Object.freeze(args) });
  };

  if (peek().kind === 'end') throw new SyntaxError('delay expression is empty');
  const expression = parseExpression(0);
  if (peek().kind !== 'end') throw new SyntaxError(`unexpected ${describe(peek())} after the expression`);
  return expression;
}

function describe(token: Exclude<Token, { kind: 'invalid' }>): string {
  switch (token.kind) {
    case 'end':
      return 'the end of the expression';
    case 'number':
      return `number ${token.value} at position ${token.position}`;
    case 'identifier':
      return `${JSON.stringify(token.name)} at position ${token.position}`;
    case 'symbol':
      return `${JSON.stringify(token.symbol)} at position ${token.position}`;
  }
}

/** C0 controls, DEL and C1 controls: nothing an HTTP header value may hold. */
function isControl(char: string): boolean {
  const code = char.charCodeAt(0);
  return code < 0x20 || (code >= 0x7f && code <= 0x9f);
}

function isPunctuation(char: string): char is Punctuation {
  return '+-*/(),'.includes(char);
}

function isFunctionName(name: string): name is DelayFunctionName {
  return Object.hasOwn(ARITY, name);
}

function isDigit(char: string | undefined): boolean {
  return char !== undefined && char >= '0' && char <= '9';
}

function isIdentifierStart(char: string): boolean {
  return (char >= 'a' && char <= 'z') || (char >= 'A' && char <= 'Z') || char === '_' || char === '$';
}

function isIdentifierPart(char: string): boolean {
  return isIdentifierStart(char) || isDigit(char);
}
