import { describe, expect, it } from 'vitest';
import { toCanonicalJson } from '../../src/api/canonical-json.ts';

// A seeded generator of JSON texts (no fast-check here): objects whose keys include the ones
// JavaScript treats specially (`__proto__`, `constructor`, `toString`), arrays, and scalars.

function createRandom(seed: number): () => number {
  // mulberry32: small, fast, and the same sequence for the same seed.
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KEYS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'a', 'b', 'z', '0', '10', 'é', ''];

/** A JSON text and a copy of it with every object's members in another order. */
function generate(random: () => number, depth: number): { text: string; shuffled: string } {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const roll = random();
  if (depth <= 0 || roll < 0.3) {
    const scalar = pick([
      () => 'null',
      () => 'true',
      () => 'false',
      () => String(Math.floor(random() * 2000) - 1000),
      () => JSON.stringify(pick(KEYS)),
    ])();
    return { text: scalar, shuffled: scalar };
  }
  if (roll < 0.5) {
    const items = Array.from({ length: Math.floor(random() * 4) }, () => generate(random, depth - 1));
    return {
      text: `[${items.map((i) => i.text).join(',')}]`,
      shuffled: `[${items.map((i) => i.shuffled).join(',')}]`,
    };
  }
  const keys = [...new Set(Array.from({ length: Math.floor(random() * 5) }, () => pick(KEYS)))];
  const members = keys.map((key) => ({ key, value: generate(random, depth - 1) }));
  const reversed = [...members].reverse();
  return {
    text: `{${members.map((m) => `${JSON.stringify(m.key)}:${m.value.text}`).join(',')}}`,
    shuffled: `{${reversed.map((m) => `${JSON.stringify(m.key)}:${m.value.shuffled}`).join(',')}}`,
  };
}

/** Changes one scalar somewhere in the text's value, or drops one member: a different body. */
function mutate(value: unknown, random: () => number): { changed: boolean; value: unknown } {
  if (Array.isArray(value)) {
    if (value.length === 0) return { changed: true, value: [0] };
    const i = Math.floor(random() * value.length);
    const inner = mutate(value[i], random);
    const copy = [...value];
    copy[i] = inner.value;
    return { changed: inner.changed, value: copy };
  }
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value);
    const copy = Object.create(null) as Record<string, unknown>;
    for (const k of keys) copy[k] = (value as Record<string, unknown>)[k];
    if (keys.length === 0) {
      // A member named `__proto__`, as JSON.parse makes one.
      Object.defineProperty(copy, '__proto__', {
        value: 1,
        enumerable: true,
        writable: true,
        configurable: true,
      });
      return { changed: true, value: copy };
    }
    const key = keys[Math.floor(random() * keys.length)]!;
    if (random() < 0.3) {
      delete copy[key];
      return { changed: true, value: copy };
    }
    const inner = mutate(copy[key], random);
    copy[key] = inner.value;
    return { changed: inner.changed, value: copy };
  }
  return { changed: true, value: value === 1 ? 2 : 1 };
}

describe('toCanonicalJson', () => {
  it('keeps a "__proto__" member, at the top and nested', () => {
    expect(toCanonicalJson(JSON.parse('{"b":1,"__proto__":{"x":1}}'))).toBe('{"__proto__":{"x":1},"b":1}');
    expect(toCanonicalJson(JSON.parse('{"m":{"__proto__":[1]}}'))).not.toBe(
      toCanonicalJson(JSON.parse('{"m":{}}')),
    );
    expect(toCanonicalJson(JSON.parse('{"__proto__":{"x":1}}'))).not.toBe(
      toCanonicalJson(JSON.parse('{"__proto__":{"x":2}}')),
    );
  });

  it('over 2000 seeded JSON texts: member order never matters, any change always does, nothing is lost', () => {
    for (let seed = 1; seed <= 2000; seed++) {
      const random = createRandom(seed);
      const { text, shuffled } = generate(random, 4);
      const canonical = toCanonicalJson(JSON.parse(text));
      expect(toCanonicalJson(JSON.parse(shuffled)), `seed ${seed}: ${text}`).toBe(canonical);
      // Canonical text read back is canonical already, and holds every member of the original.
      expect(toCanonicalJson(JSON.parse(canonical)), `seed ${seed}`).toBe(canonical);
      expect(canonical.length, `seed ${seed}: ${text}`).toBe(JSON.stringify(JSON.parse(text)).length);
      const mutated = mutate(JSON.parse(text), random);
      if (mutated.changed) {
        expect(toCanonicalJson(mutated.value), `seed ${seed}: ${text}`).not.toBe(canonical);
      }
    }
  });
});
