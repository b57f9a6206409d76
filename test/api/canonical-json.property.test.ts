import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toCanonicalJson } from '../../src/api/canonical-json.ts';

// Idempotent replays compare bodies by their canonical JSON: the same event written with its keys
// in another order must compare equal (200), and any change of any value must not (409). Values
// are built as JSON texts and parsed, as the API receives them — so `__proto__` is an own member.

const SEED = 8_2026;
const RUNS = 400;

type Json =
  | null
  | boolean
  | number
  | string
  | Json[]
  | { readonly members: readonly (readonly [string, Json])[] };

// Keys JavaScript treats specially are the ones that slip out of a naive comparison.
const key = fc.oneof(
  {
    weight: 1,
    arbitrary: fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', '', '0', '10', 'é'),
  },
  { weight: 3, arbitrary: fc.string({ maxLength: 6 }) },
);

const scalar: fc.Arbitrary<Json> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -1e6, max: 1e6 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string({ maxLength: 8 }),
);

const value = fc.letrec<{ json: Json }>((tie) => ({
  json: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('json'), { maxLength: 4 }),
    // Unique keys: a JSON text with a repeated key means its last copy, not a different document.
    fc
      .uniqueArray(fc.tuple(key, tie('json')), { maxLength: 5, selector: ([k]) => k })
      .map((members): Json => ({ members })),
  ),
})).json;

function isObject(v: Json): v is { readonly members: readonly (readonly [string, Json])[] } {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The JSON text, members in the given order (a permutation per object, from `order`). */
function write(v: Json, order: (count: number) => number[] = (n) => [...Array(n).keys()]): string {
  if (Array.isArray(v)) return `[${v.map((item) => write(item, order)).join(',')}]`;
  if (isObject(v)) {
    const indexes = order(v.members.length);
    return `{${indexes.map((i) => `${JSON.stringify(v.members[i]![0])}:${write(v.members[i]![1], order)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** Every path to a value inside `v` (the root included). */
function paths(v: Json, at: readonly (string | number)[] = []): (readonly (string | number)[])[] {
  const inner = Array.isArray(v)
    ? v.flatMap((item, i) => paths(item, [...at, i]))
    : isObject(v)
      ? v.members.flatMap(([k, item]) => paths(item, [...at, k]))
      : [];
  return [at, ...inner];
}

function replaceAt(v: Json, path: readonly (string | number)[], next: Json): Json {
  if (path.length === 0) return next;
  const [head, ...rest] = path;
  if (Array.isArray(v)) return v.map((item, i) => (i === head ? replaceAt(item, rest, next) : item));
  if (isObject(v)) {
    return {
      members: v.members.map(([k, item]) => [k, k === head ? replaceAt(item, rest, next) : item] as const),
    };
  }
  return v;
}

/** A random permutation of 0..n-1 per call, from a seeded stream. */
function shuffler(seed: number): (n: number) => number[] {
  let state = seed >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  return (n) => {
    const out = [...Array(n).keys()];
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  };
}

const canonical = (text: string) => toCanonicalJson(JSON.parse(text));

describe('toCanonicalJson — properties', () => {
  it('key order never matters, at any depth', () => {
    fc.assert(
      fc.property(value, fc.integer(), (v, seed) => {
        expect(canonical(write(v, shuffler(seed)))).toBe(canonical(write(v)));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('is a fixed point and reads back as the same document', () => {
    fc.assert(
      fc.property(value, (v) => {
        const once = canonical(write(v));
        expect(canonical(once)).toBe(once);
        // Nothing dropped or added: the canonical text parses to the same members, in sorted order.
        expect(canonical(write(v, shuffler(7)))).toBe(once);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('any change of any value changes it — `__proto__` members included', () => {
    fc.assert(
      fc.property(value, fc.nat(), value, (v, pick, replacement) => {
        const all = paths(v);
        const path = all[pick % all.length]!;
        const changed = replaceAt(v, path, replacement);
        // Equal exactly when the documents are equal (the replacement may be the same value, and
        // 0 and -0 are one JSON number).
        const same = toCanonicalJson(JSON.parse(write(changed))) === toCanonicalJson(JSON.parse(write(v)));
        const equalDocuments = JSON.stringify(normalise(changed)) === JSON.stringify(normalise(v));
        expect(same).toBe(equalDocuments);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('adding or removing a member changes it', () => {
    fc.assert(
      fc.property(value, key, scalar, (v, k, extra) => {
        fc.pre(isObject(v) && !v.members.some(([m]) => m === k));
        if (!isObject(v)) return;
        const added: Json = { members: [...v.members, [k, extra]] };
        expect(canonical(write(added))).not.toBe(canonical(write(v)));
        if (v.members.length > 0) {
          const removed: Json = { members: v.members.slice(1) };
          expect(canonical(write(removed))).not.toBe(canonical(write(v)));
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('two bodies that differ only inside `__proto__` never compare equal', () => {
    fc.assert(
      fc.property(scalar, scalar, value, (a, b, rest) => {
        fc.pre(JSON.stringify(a) !== JSON.stringify(b));
        const withProto = (inner: Json): Json => ({
          members: [
            ['__proto__', inner],
            ['data', rest],
          ],
        });
        expect(canonical(write(withProto(a)))).not.toBe(canonical(write(withProto(b))));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});

/**
 * An independent reading of what a document means, for the oracle: members sorted by key as
 * pairs (never assigned onto an object, so `__proto__` stays data), numbers as JSON writes them.
 */
function normalise(v: Json): unknown {
  if (Array.isArray(v)) return { array: v.map(normalise) };
  if (isObject(v)) {
    const members = [...v.members].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return { object: members.map(([k, item]) => [k, normalise(item)]) };
  }
  return { scalar: typeof v === 'number' ? JSON.parse(JSON.stringify(v)) : v };
}
