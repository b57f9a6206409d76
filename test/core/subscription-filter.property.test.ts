import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { matchesPattern } from '../../src/core/event-type.ts';
import { createFilterIndex } from '../../src/core/filter-index.ts';
import { compileFilter, type JsonValue, matchesFilter } from '../../src/core/subscription-filter.ts';

// The filter takes strangers' JSON (API-created subscriptions) and runs on every committed event:
// it must answer every input with a result, and its operators must keep their algebra.

const SEED = 10_2026;
const RUNS = 300;
const params = { seed: SEED, numRuns: RUNS };

const KEYS = ['a', 'b', 'c'] as const;
const scalar = fc.oneof(
  fc.constantFrom<JsonValue>('x', 'y', '', 0, 1, -1, 2.5, true, false, null),
  fc.integer({ min: -3, max: 3 }),
);

/** Data shaped like events: small objects over few keys, so filters and data meet often. */
const data: fc.Arbitrary<JsonValue> = fc.letrec<{ value: JsonValue; object: JsonValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    tie('object'),
    fc.array(fc.oneof(scalar, tie('object')), { maxLength: 3 }),
  ),
  object: fc.dictionary(fc.constantFrom(...KEYS), tie('value'), { maxKeys: 3 }),
})).object;

/** Valid conditions over the same keys and values. */
const condition: fc.Arbitrary<JsonValue> = fc.letrec<{ cond: JsonValue; filter: JsonValue }>((tie) => ({
  // Shallow enough that a test may wrap two of them in $and/$or/$not within the depth limit.
  cond: fc.oneof(
    { depthSize: 'small', withCrossShrink: true, maxDepth: 3, depthIdentifier: 'filter' },
    scalar,
    tie('filter'),
    scalar.map((v) => ({ $eq: v })),
    scalar.map((v) => ({ $ne: v })),
    fc.array(scalar, { maxLength: 3 }).map((vs) => ({ $in: vs })),
    fc.array(scalar, { maxLength: 3 }).map((vs) => ({ $nin: vs })),
    fc
      .tuple(
        fc.constantFrom('$gt', '$gte', '$lt', '$lte'),
        fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom('x', 'y')),
      )
      .map(([op, v]) => ({ [op]: v })),
    fc.boolean().map((b) => ({ $exists: b })),
    tie('cond').map((c) => ({ $not: c })),
    fc.array(tie('cond'), { minLength: 1, maxLength: 3 }).map((cs) => ({ $or: cs })),
    fc.array(tie('cond'), { minLength: 1, maxLength: 3 }).map((cs) => ({ $and: cs })),
  ),
  filter: fc.dictionary(fc.constantFrom(...KEYS), tie('cond'), { minKeys: 1, maxKeys: 2 }),
})).filter as fc.Arbitrary<{ [key: string]: JsonValue }>;

const filter = condition as fc.Arbitrary<{ [key: string]: JsonValue }>;

describe('subscription filters (property)', () => {
  it('answers any JSON with a result, and every issue points into the input', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (input) => {
        const result = compileFilter(input);
        if (result.ok) return;
        expect(result.issues.length).toBeGreaterThan(0);
        for (const issue of result.issues) expect(resolves(input, issue.path)).toBe(true);
      }),
      params,
    );
  });

  it('accepts every generated filter', () => {
    fc.assert(
      fc.property(filter, (f) => {
        expect(compileFilter(f).ok).toBe(true);
      }),
      params,
    );
  });

  it('$not f ≡ not f', () => {
    fc.assert(
      fc.property(filter, data, (f, d) => {
        expect(matchesFilter({ $not: f }, d)).toBe(!matchesFilter(f, d));
      }),
      params,
    );
  });

  it('$and [f] ≡ f ≡ $or [f], and $and/$or of two are && and ||', () => {
    fc.assert(
      fc.property(filter, filter, data, (f, g, d) => {
        const [mf, mg] = [matchesFilter(f, d), matchesFilter(g, d)];
        expect(matchesFilter({ $and: [f] }, d)).toBe(mf);
        expect(matchesFilter({ $or: [f] }, d)).toBe(mf);
        expect(matchesFilter({ $and: [f, g] }, d)).toBe(mf && mg);
        expect(matchesFilter({ $or: [f, g] }, d)).toBe(mf || mg);
      }),
      params,
    );
  });

  it('$in [v] ≡ $eq v ≡ v, $nin ≡ $not $in, $ne ≡ $not $eq', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...KEYS),
        scalar,
        fc.array(scalar, { maxLength: 3 }),
        data,
        (k, v, vs, d) => {
          const eq = matchesFilter({ [k]: { $eq: v } }, d);
          expect(matchesFilter({ [k]: { $in: [v] } }, d)).toBe(eq);
          expect(matchesFilter({ [k]: v }, d)).toBe(eq);
          expect(matchesFilter({ [k]: { $ne: v } }, d)).toBe(!eq);
          expect(matchesFilter({ [k]: { $nin: vs } }, d)).toBe(!matchesFilter({ [k]: { $in: vs } }, d));
          // $in is $or of $eq.
          expect(matchesFilter({ [k]: { $in: vs } }, d)).toBe(
            vs.some((x) => matchesFilter({ [k]: { $eq: x } }, d)),
          );
        },
      ),
      params,
    );
  });

  it('$gt and $lte split the values of the bound kind, neither takes another kind', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: -5, max: 5 }), fc.string({ maxLength: 2 })),
        fc.oneof(
          fc.integer({ min: -5, max: 5 }),
          fc.string({ maxLength: 2 }),
          fc.boolean(),
          fc.constant(null),
        ),
        (bound, value) => {
          const d = { a: value };
          const gt = matchesFilter({ a: { $gt: bound } }, d);
          const lte = matchesFilter({ a: { $lte: bound } }, d);
          if (typeof value === typeof bound) expect(gt).toBe(!lte);
          else expect([gt, lte]).toEqual([false, false]);
        },
      ),
      params,
    );
  });

  it('a filter built from an object matches it, and stops matching when a leaf changes', () => {
    fc.assert(
      fc.property(
        data.filter((d) => isObject(d) && Object.keys(d).length > 0),
        (d) => {
          const built = fromObject(d as Record<string, JsonValue>);
          expect(matchesFilter(built, d)).toBe(true);
          expect(matchesFilter(built, JSON.parse(JSON.stringify(d)))).toBe(true);
          const changed = changeLeaf(d as Record<string, JsonValue>);
          if (changed !== null) expect(matchesFilter(built, changed)).toBe(false);
        },
      ),
      params,
    );
  });

  it('does not depend on key order in the data', () => {
    fc.assert(
      fc.property(filter, data, (f, d) => {
        expect(matchesFilter(f, reverseKeys(d))).toBe(matchesFilter(f, d));
      }),
      params,
    );
  });
});

describe('filter index (property)', () => {
  /** Filters the index may file under a value (`f: v`, `$eq`, `$in`), mixed with any other. */
  const guarded = fc.oneof(
    filter,
    fc.tuple(fc.constantFrom(...KEYS), scalar, filter).map(([k, v, rest]) => ({ ...rest, [k]: v })),
    fc
      .tuple(fc.constantFrom(...KEYS), fc.array(scalar, { maxLength: 4 }), filter)
      .map(([k, vs, rest]) => ({ ...rest, [k]: { $in: vs, ...(vs.length > 2 ? { $ne: vs[0]! } : {}) } })),
  );
  const subscription = fc.record({
    type: fc.constantFrom('order.created.v1', 'order.paid.v1', 'order.*', 'order.created.*'),
    filter: guarded,
  });

  it('answers what evaluating every filter one by one answers', () => {
    fc.assert(
      fc.property(
        fc.array(subscription, { maxLength: 12 }),
        fc.constantFrom('order.created.v1', 'order.paid.v1', 'shipment.sent.v1'),
        data,
        (subs, type, d) => {
          const withIds = subs.map((s, i) => ({
            id: `s${i}`,
            type: s.type,
            filter: JSON.stringify(s.filter),
          }));
          const expected = subs
            .map((s, i) => ({ ...s, id: `s${i}` }))
            .filter((s) => matchesPattern(s.type, type) && matchesFilter(s.filter, d))
            .map((s) => s.id);
          expect(createFilterIndex(withIds).matching(type, JSON.stringify(d))).toEqual(expected);
        },
      ),
      params,
    );
  });
});

function isObject(value: unknown): value is Record<string, JsonValue> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Every leaf as `$eq` (objects as sub-paths; an empty object as `$eq {}`). */
function fromObject(object: Record<string, JsonValue>): { [key: string]: JsonValue } {
  return Object.fromEntries(
    Object.entries(object).map(([k, v]) => [
      k,
      isObject(v) && Object.keys(v).length > 0 ? fromObject(v) : { $eq: v },
    ]),
  );
}

/** The object with its first leaf (depth-first) replaced by a value it cannot equal, or null. */
function changeLeaf(object: Record<string, JsonValue>): Record<string, JsonValue> | null {
  for (const [k, v] of Object.entries(object)) {
    if (isObject(v) && Object.keys(v).length > 0) {
      const inner = changeLeaf(v);
      if (inner !== null) return { ...object, [k]: inner };
      continue;
    }
    return { ...object, [k]: { changed: [v] } };
  }
  return null;
}

function reverseKeys(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(reverseKeys);
  if (!isObject(value)) return value;
  return Object.fromEntries(
    Object.entries(value)
      .reverse()
      .map(([k, v]) => [k, reverseKeys(v)]),
  );
}

/** Whether a JSON Pointer names a location inside `value` (the root included). */
function resolves(value: unknown, pointer: string): boolean {
  if (pointer === '') return true;
  let at: unknown = value;
  for (const raw of pointer.slice(1).split('/')) {
    const token = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (at === null || typeof at !== 'object' || !Object.hasOwn(at, token)) return false;
    at = (at as Record<string, unknown>)[token];
  }
  return true;
}
