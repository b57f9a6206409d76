import type { Issue } from './issues.ts';

/**
 * A subscription's content filter (DESIGN "Delivery control"): a JSON object matched against an
 * integration event's data. Events whose data does not match get no delivery.
 *
 * Semantics — one rule per line, each tested in test/core/subscription-filter*.test.ts:
 * - A filter is a non-empty JSON object; every one of its entries must hold (an implicit AND).
 * - A key without `$` names one field of the object at the current position, literally: `"a.b"`
 *   is a field called `a.b`, not a path (nest objects for paths). Its value is a condition on
 *   that field. The root position is the event's data.
 * - A condition is a non-empty object (entries evaluated at that field, so `{"customer":
 *   {"tier": "gold"}}` matches sub-paths and `{"total": {"$gt": 10, "$lt": 99}}` ranges) or any
 *   other JSON value, which means `$eq` that value.
 * - Paths go through objects only. Where the data has no such field, or is not an object (an
 *   array, a string), the field is *missing*: only `$ne`, `$nin`, `$exists: false` and `$not`
 *   of something false there match it. `null` is a value, not missing.
 * - `$eq v`: deep equality (objects compare key by key, in any order; numbers as numbers). When
 *   the data at the position is an array, it matches if the array equals `v` or one of its
 *   elements does (one level, as MongoDB): `{"tags": "vip"}` matches `{"tags": ["new", "vip"]}`.
 * - `$in [v…]`: `$eq` one of them. `$ne v` ≡ `$not {$eq v}`; `$nin` ≡ `$not {$in}` (so an array
 *   matches `$ne v` only when no element equals `v`).
 * - `$gt $gte $lt $lte v`: `v` is a finite number or a string; only values of the same kind
 *   compare (numbers numerically, strings by UTF-16 code units, as JavaScript's `<`); anything
 *   else does not match. On an array, some element must compare.
 * - `$exists true|false`: whether the field is present (any value, `null` included).
 * - `$and [c…]`, `$or [c…]`: non-empty arrays of conditions at the same position. `$not c`: the
 *   condition (an operator object, a field object or a value) does not hold.
 * - Keys starting with `$` are operators; a data field whose name starts with `$` cannot be named.
 * Limits keep evaluation cheap and bounded: at most {@link MAX_FILTER_DEPTH} levels of nesting
 * and {@link MAX_FILTER_NODES} JSON values in all.
 * @example
 * const checked = compileFilter({ currency: 'EUR', total: { $gte: 100 } });
 * checked.ok && checked.filter.matches({ currency: 'EUR', total: 120 }) // true
 */
export type SubscriptionFilter = { readonly [key: string]: JsonValue };

export type JsonValue =
  | string
  | number
  | boolean
  | null
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue };

/** A validated filter, ready to test events' data (parsed JSON). */
export interface CompiledFilter {
  /** The filter as given (validated JSON). */
  readonly source: SubscriptionFilter;
  matches(data: unknown): boolean;
}

export type FilterResult =
  | { readonly ok: true; readonly filter: CompiledFilter }
  | { readonly ok: false; readonly issues: readonly Issue[] };

/** Nesting levels of objects and arrays a filter may have. */
export const MAX_FILTER_DEPTH = 12;
/** JSON values (objects, arrays, scalars — keys not counted) a filter may hold. */
export const MAX_FILTER_NODES = 512;
/** Issues reported at most for one filter. */
const MAX_ISSUES = 20;

const MISSING: unique symbol = Symbol('missing');
type Test = (value: unknown) => boolean;

/**
 * Validates a filter (e.g. a request body's `filter`) and compiles it. Issues carry a JSON Pointer
 * (RFC 6901) relative to the filter: `/total/$gt`; the caller prefixes where the filter sits.
 * @example compileFilter({ total: { $gt: 'x', $foo: 1 } }) // issues at /total/$foo (unknown operator)
 */
export function compileFilter(input: unknown): FilterResult {
  const issues: Issue[] = [];
  const state = { nodes: 0, issues };
  if (!isPlainObject(input)) {
    return { ok: false, issues: [{ path: '', message: 'a filter must be a JSON object' }] };
  }
  const test = compileCondition(input, '', 1, state);
  if (issues.length > 0) return { ok: false, issues: issues.slice(0, MAX_ISSUES) };
  return { ok: true, filter: { source: input as SubscriptionFilter, matches: (data) => test(data) } };
}

/**
 * Whether `data` matches `filter`; throws a TypeError for an invalid filter. For one-off checks:
 * compile once with {@link compileFilter} to test many events.
 * @example matchesFilter({ customer: { tier: 'gold' } }, { customer: { tier: 'gold', id: 'c1' } }) // true
 */
export function matchesFilter(filter: unknown, data: unknown): boolean {
  const compiled = compileFilter(filter);
  if (!compiled.ok) {
    const [first] = compiled.issues;
    throw new TypeError(`invalid filter: ${first?.path || '/'}: ${first?.message}`);
  }
  return compiled.filter.matches(data);
}

interface CompileState {
  nodes: number;
  readonly issues: Issue[];
}

function issue(state: CompileState, path: string, message: string): Test {
  state.issues.push({ path, message });
  return never;
}

const never: Test = () => false;

function compileCondition(condition: unknown, path: string, depth: number, state: CompileState): Test {
  if (!isPlainObject(condition)) {
    const literal = checkJson(condition, path, depth, state);
    return literal ? equalsTest(condition) : never;
  }
  if (!count(path, depth, state)) return never;
  const entries = Object.entries(condition);
  if (entries.length === 0) {
    return issue(
      state,
      path,
      'an empty object matches anything; use {"$exists": true}, or {"$eq": {}} for an empty object',
    );
  }
  const tests = entries.map(([key, value]) =>
    compileEntry(key, value, `${path}/${escapePointer(key)}`, depth + 1, state),
  );
  if (tests.length === 1) return tests[0]!;
  return (value) => {
    for (const test of tests) if (!test(value)) return false;
    return true;
  };
}

function compileEntry(key: string, operand: unknown, path: string, depth: number, state: CompileState): Test {
  if (!key.startsWith('$')) {
    const test = compileCondition(operand, path, depth, state);
    return (value) => test(isPlainObject(value) && Object.hasOwn(value, key) ? value[key] : MISSING);
  }
  switch (key) {
    case '$eq':
      return checkJson(operand, path, depth, state) ? equalsTest(operand) : never;
    case '$ne': {
      const test = checkJson(operand, path, depth, state) ? equalsTest(operand) : never;
      return (value) => !test(value);
    }
    case '$in':
      return inTest(operand, path, depth, state);
    case '$nin': {
      const test = inTest(operand, path, depth, state);
      return (value) => !test(value);
    }
    case '$gt':
    case '$gte':
    case '$lt':
    case '$lte':
      return compareTest(key, operand, path, depth, state);
    case '$exists':
      if (!count(path, depth, state)) return never;
      if (typeof operand !== 'boolean') return issue(state, path, '$exists takes true or false');
      return operand ? (value) => value !== MISSING : (value) => value === MISSING;
    case '$and':
    case '$or': {
      if (!count(path, depth, state)) return never;
      if (!Array.isArray(operand) || operand.length === 0) {
        return issue(state, path, `${key} takes a non-empty array of conditions`);
      }
      const tests = operand.map((c, i) => compileCondition(c, `${path}/${i}`, depth + 1, state));
      return key === '$and'
        ? (value) => tests.every((test) => test(value))
        : (value) => tests.some((test) => test(value));
    }
    case '$not': {
      const test = compileCondition(operand, path, depth, state);
      return (value) => !test(value);
    }
    default:
      return issue(
        state,
        path,
        `unknown operator ${key}; use $eq $ne $in $nin $gt $gte $lt $lte $exists $and $or $not`,
      );
  }
}

function inTest(operand: unknown, path: string, depth: number, state: CompileState): Test {
  if (!Array.isArray(operand)) return issue(state, path, '$in and $nin take an array of values');
  if (!checkJson(operand, path, depth, state)) return never;
  // Scalars go in a Set, so a long list costs one lookup per candidate value.
  const scalars = new Set<unknown>();
  const structured: unknown[] = [];
  for (const item of operand) {
    if (item !== null && typeof item === 'object') structured.push(item);
    else scalars.add(item);
  }
  const one = (candidate: unknown) =>
    candidate === null || typeof candidate !== 'object'
      ? scalars.has(candidate)
      : structured.some((item) => deepEqual(candidate, item));
  return (value) => value !== MISSING && someCandidate(value, one);
}

function compareTest(
  operator: '$gt' | '$gte' | '$lt' | '$lte',
  operand: unknown,
  path: string,
  depth: number,
  state: CompileState,
): Test {
  if (!count(path, depth, state)) return never;
  const isNumber = typeof operand === 'number' && Number.isFinite(operand);
  if (!isNumber && typeof operand !== 'string') {
    return issue(state, path, `${operator} takes a finite number or a string`);
  }
  const kind = typeof operand;
  const bound = operand as number | string;
  const compare =
    operator === '$gt'
      ? (x: number | string) => x > bound
      : operator === '$gte'
        ? (x: number | string) => x >= bound
        : operator === '$lt'
          ? (x: number | string) => x < bound
          : (x: number | string) => x <= bound;
  const one = (candidate: unknown) => typeof candidate === kind && compare(candidate as number | string);
  return (value) => value !== MISSING && someCandidate(value, one);
}

function equalsTest(operand: unknown): Test {
  const one =
    operand === null || typeof operand !== 'object'
      ? (candidate: unknown) => candidate === operand
      : (candidate: unknown) => deepEqual(candidate, operand);
  return (value) => value !== MISSING && someCandidate(value, one);
}

/** The value itself, then (for an array) each of its elements: MongoDB's one-level array rule. */
function someCandidate(value: unknown, test: (candidate: unknown) => boolean): boolean {
  if (test(value)) return true;
  if (!Array.isArray(value)) return false;
  for (const element of value) if (test(element)) return true;
  return false;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const key of keys) {
    if (!Object.hasOwn(b, key)) return false;
    if (!deepEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])) return false;
  }
  return true;
}

/** Counts one value against the limits; false (with an issue) once a limit is passed. */
function count(path: string, depth: number, state: CompileState): boolean {
  if (depth > MAX_FILTER_DEPTH) {
    issue(state, path, `a filter nests at most ${MAX_FILTER_DEPTH} levels`);
    return false;
  }
  state.nodes++;
  if (state.nodes === MAX_FILTER_NODES + 1) {
    issue(state, path, `a filter holds at most ${MAX_FILTER_NODES} values`);
  }
  return state.nodes <= MAX_FILTER_NODES;
}

/** Checks that an operand is plain JSON (what `JSON.parse` gives) within the limits. */
function checkJson(value: unknown, path: string, depth: number, state: CompileState): boolean {
  if (!count(path, depth, state)) return false;
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') {
    if (Number.isFinite(value)) return true;
    issue(state, path, 'numbers must be finite');
    return false;
  }
  if (Array.isArray(value)) {
    return value.every((item, i) => checkJson(item, `${path}/${i}`, depth + 1, state));
  }
  if (isPlainObject(value)) {
    return Object.entries(value).every(([key, item]) =>
      checkJson(item, `${path}/${escapePointer(key)}`, depth + 1, state),
    );
  }
  issue(state, path, 'expected a JSON value');
  return false;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function escapePointer(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1');
}
