import { canonicalJson, type SchemaObject } from './json-schema-view.ts';

/** `min*` keywords: a larger value allows less. */
const LOWER_BOUNDS = ['minLength', 'minItems', 'minProperties'] as const;
/** `max*` keywords: a smaller value allows less. */
const UPPER_BOUNDS = ['maxLength', 'maxItems', 'maxProperties'] as const;
/** Keywords whose any change may refuse what was allowed: their languages cannot be compared. */
const OPAQUE = ['pattern', 'format'] as const;

export interface ConstraintChange {
  readonly kind: 'constraint-tightened' | 'constraint-loosened';
  readonly detail: string;
}

/**
 * The constraints of one schema against the baseline's, at one place: bounds (`min*`/`max*`,
 * `minimum`/`maximum` with their exclusive forms), `multipleOf`, `pattern`, `format`,
 * `uniqueItems`. Tighter allows less of what the baseline allowed (breaking); looser allows more.
 * @example diffConstraints({ maxLength: 20 }, { maxLength: 10 })
 * // → [{ kind: 'constraint-tightened', detail: 'maxLength tightened (20 → 10)' }]
 */
export function diffConstraints(b: SchemaObject, c: SchemaObject): ConstraintChange[] {
  const changes: ConstraintChange[] = [];
  const tightened = (what: string, was: string, now: string) =>
    changes.push({ kind: 'constraint-tightened', detail: `${what} tightened (${was} → ${now})` });
  const loosened = (what: string, was: string, now: string) =>
    changes.push({ kind: 'constraint-loosened', detail: `${what} loosened (${was} → ${now})` });
  for (const keyword of LOWER_BOUNDS) {
    const was = numberOrUndefined(b[keyword]) ?? 0;
    const now = numberOrUndefined(c[keyword]) ?? 0;
    if (now > was) tightened(keyword, String(was), String(now));
    if (now < was) loosened(keyword, String(was), String(now));
  }
  for (const keyword of UPPER_BOUNDS) {
    const was = numberOrUndefined(b[keyword]) ?? Number.POSITIVE_INFINITY;
    const now = numberOrUndefined(c[keyword]) ?? Number.POSITIVE_INFINITY;
    if (now < was) tightened(keyword, showBound(was), showBound(now));
    if (now > was) loosened(keyword, showBound(was), showBound(now));
  }
  for (const side of ['minimum', 'maximum'] as const) {
    const was = rangeBound(b, side);
    const now = rangeBound(c, side);
    const order = compareBounds(was, now, side);
    if (order > 0) tightened(side, showRange(was, side), showRange(now, side));
    if (order < 0) loosened(side, showRange(was, side), showRange(now, side));
  }
  const wasStep = positiveOrUndefined(b.multipleOf);
  const nowStep = positiveOrUndefined(c.multipleOf);
  // Every multiple of the old step must still be a multiple of the new one.
  if (nowStep !== undefined && (wasStep === undefined || !Number.isInteger(wasStep / nowStep))) {
    tightened('multipleOf', String(wasStep ?? 'none'), String(nowStep));
  } else if (wasStep !== undefined && wasStep !== nowStep) {
    loosened('multipleOf', String(wasStep), String(nowStep ?? 'none'));
  }
  for (const keyword of OPAQUE) {
    const was = b[keyword];
    const now = c[keyword];
    if (canonicalJson(was) === canonicalJson(now)) continue;
    if (now === undefined) loosened(keyword, JSON.stringify(was), 'none');
    else tightened(keyword, was === undefined ? 'none' : JSON.stringify(was), JSON.stringify(now));
  }
  if (c.uniqueItems === true && b.uniqueItems !== true) tightened('uniqueItems', 'false', 'true');
  if (b.uniqueItems === true && c.uniqueItems !== true) loosened('uniqueItems', 'true', 'false');
  return changes;
}

interface Bound {
  readonly value: number;
  readonly exclusive: boolean;
}

/** The effective lower (`minimum`) or upper (`maximum`) bound, `exclusive*` considered. */
function rangeBound(schema: SchemaObject, side: 'minimum' | 'maximum'): Bound | undefined {
  const exclusiveKeyword = side === 'minimum' ? 'exclusiveMinimum' : 'exclusiveMaximum';
  const inclusive = numberOrUndefined(schema[side]);
  const exclusiveValue = schema[exclusiveKeyword];
  // Draft 4's boolean form, should a hand-written baseline use it.
  if (exclusiveValue === true && inclusive !== undefined) return { value: inclusive, exclusive: true };
  const exclusive = numberOrUndefined(exclusiveValue);
  const candidates: Bound[] = [];
  if (inclusive !== undefined) candidates.push({ value: inclusive, exclusive: false });
  if (exclusive !== undefined) candidates.push({ value: exclusive, exclusive: true });
  return candidates.reduce<Bound | undefined>(
    (tightest, bound) =>
      tightest === undefined || compareBounds(tightest, bound, side) > 0 ? bound : tightest,
    undefined,
  );
}

/** > 0 when `now` allows less than `was`, < 0 when more, 0 when the same. */
function compareBounds(was: Bound | undefined, now: Bound | undefined, side: 'minimum' | 'maximum'): number {
  if (was === undefined && now === undefined) return 0;
  if (was === undefined) return 1;
  if (now === undefined) return -1;
  const direction = side === 'minimum' ? 1 : -1;
  if (now.value !== was.value) return Math.sign(now.value - was.value) * direction;
  return Number(now.exclusive) - Number(was.exclusive);
}

function showRange(bound: Bound | undefined, side: 'minimum' | 'maximum'): string {
  if (bound === undefined) return 'none';
  const sign = side === 'minimum' ? '>' : '<';
  return `${sign}${bound.exclusive ? '' : '='} ${bound.value}`;
}

function showBound(value: number): string {
  return Number.isFinite(value) ? String(value) : 'none';
}

function positiveOrUndefined(value: unknown): number | undefined {
  const number = numberOrUndefined(value);
  return number !== undefined && number > 0 ? number : undefined;
}

function numberOrUndefined(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}
