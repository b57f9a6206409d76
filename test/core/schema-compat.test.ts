import { describe, expect, it } from 'vitest';
import type { JsonSchema } from '../../src/core/json-schema-view.ts';
import {
  checkCatalogCompat,
  type EventCatalog,
  parseEventCatalog,
  toChangeLine,
} from '../../src/core/schema-compat.ts';
import { diffSchemas } from '../../src/core/schema-diff.ts';

// The comparison on JSON Schema as `hookmesh catalog` writes it (and as people hand-write it):
// each kind of change, found at its path, breaking or not.

const object = (properties: Record<string, JsonSchema>, required = Object.keys(properties), extra = {}) => ({
  type: 'object',
  properties,
  required,
  ...extra,
});
const str = { type: 'string' };
const num = { type: 'number' };

/** `path detail` of each change, `!` marking the breaking ones. */
function lines(baseline: JsonSchema, current: JsonSchema): string[] {
  return diffSchemas(baseline, current).map(
    (change) => `${change.breaking ? '!' : ''}${change.path || '/'} ${change.detail}`,
  );
}

describe('diffSchemas: objects', () => {
  it('finds nothing between a schema and itself, whatever its key order', () => {
    const schema = object({ a: str, b: object({ c: num }) });
    expect(lines(schema, schema)).toEqual([]);
    expect(lines(schema, JSON.parse(JSON.stringify({ ...schema, required: ['b', 'a'] })))).toEqual([]);
  });

  it('a field removed, made optional, made required, added either way', () => {
    const base = object({ a: str, b: str, c: str }, ['a', 'b']);
    expect(lines(base, object({ b: str, c: str }, ['b']))).toEqual(['!/a removed']);
    expect(lines(base, object({ a: str, b: str, c: str }, ['a']))).toEqual(['!/b made optional']);
    expect(lines(base, object({ a: str, b: str, c: str }))).toEqual(['!/c made required']);
    expect(lines(base, object({ a: str, b: str, c: str, d: num }, ['a', 'b']))).toEqual([
      '/d added (optional)',
    ]);
    expect(lines(base, object({ a: str, b: str, c: str, d: num }, ['a', 'b', 'd']))).toEqual([
      '!/d added as required',
    ]);
  });

  it('compares nested objects at their path, names escaped as JSON pointer tokens', () => {
    const base = object({ 'a/b': object({ 'c~d': object({ e: str }) }) });
    const current = object({ 'a/b': object({ 'c~d': object({ e: num }) }) });
    expect(lines(base, current)).toEqual(['!/a~1b/c~0d/e retyped from string to number']);
  });

  it('additionalProperties: tightening breaks, loosening does not; map values compare at /*', () => {
    const open = object({ a: str });
    const closed = object({ a: str }, ['a'], { additionalProperties: false });
    const strings = object({ a: str }, ['a'], { additionalProperties: str });
    expect(lines(open, closed)).toEqual(['!/ additionalProperties tightened (any → none)']);
    expect(lines(open, strings)).toEqual(['!/ additionalProperties tightened (any → string)']);
    expect(lines(strings, closed)).toEqual(['!/ additionalProperties tightened (string → none)']);
    expect(lines(closed, open)).toEqual([]);
    expect(lines(strings, open)).toEqual(['/ additionalProperties loosened (string → any)']);
    expect(lines(strings, object({ a: str }, ['a'], { additionalProperties: num }))).toEqual([
      '!/* retyped from string to number',
    ]);
  });

  it("a field added to a map must take the values the map's rest already allowed under its name", () => {
    const base = object({}, [], { additionalProperties: str });
    expect(lines(base, object({ x: num }, [], { additionalProperties: str }))).toEqual([
      '/x added (optional)',
      '!/x retyped from string to number',
    ]);
    expect(lines(base, object({ x: str }, [], { additionalProperties: str }))).toEqual([
      '/x added (optional)',
    ]);
  });

  it('folds allOf (a v.intersect) shallowly', () => {
    const base = { allOf: [object({ a: str }), object({ b: num })] };
    expect(lines(base, { allOf: [object({ a: str }), object({ b: num })] })).toEqual([]);
    expect(lines(base, { allOf: [object({ a: str })] })).toEqual(['!/b removed']);
  });
});

describe('diffSchemas: types, values and constraints', () => {
  it('any change of JSON types is a retype, at the root too', () => {
    expect(lines(str, num)).toEqual(['!/ retyped from string to number']);
    expect(lines(num, { type: 'integer' })).toEqual(['!/ retyped from number to integer']);
    expect(lines(str, { type: ['string', 'null'] })).toEqual(['!/ retyped from string to null | string']);
    expect(lines({ anyOf: [str, { type: 'null' }] }, str)).toEqual([
      '!/ retyped from null | string to string',
    ]);
    // A schema the converter could not express reads as any JSON value.
    expect(lines(str, { $comment: 'not expressible' })).toEqual(['!/ retyped from string to any']);
    expect(lines(true, str)).toEqual(['!/ retyped from any to string']);
  });

  it('enums: values removed break, values added do not; picklist and union of literals are one thing', () => {
    const picklist = { type: 'string', enum: ['a', 'b', 'c'] };
    expect(lines(picklist, { type: 'string', enum: ['a', 'c'] })).toEqual(['!/ enum narrowed: "b" removed']);
    expect(lines(picklist, { type: 'string', enum: ['a', 'b', 'c', 'd'] })).toEqual([
      '/ enum widened: "d" added',
    ]);
    expect(lines(picklist, { anyOf: [{ const: 'c' }, { const: 'b' }, { const: 'a' }] })).toEqual([]);
    expect(lines(str, { type: 'string', const: 'x' })).toEqual(['!/ narrowed to "x"']);
    expect(lines({ type: 'string', const: 'x' }, str)).toEqual(['/ no longer limited to "x"']);
    const nullablePicklist = { anyOf: [picklist, { type: 'null' }] };
    expect(
      lines(nullablePicklist, { anyOf: [{ type: 'string', enum: ['a', 'b'] }, { type: 'null' }] }),
    ).toEqual(['!/ enum narrowed: "c" removed']);
  });

  it('bounds: tightening breaks, loosening does not, exclusive bounds included', () => {
    expect(lines({ ...str, maxLength: 10 }, { ...str, maxLength: 5 })).toEqual([
      '!/ maxLength tightened (10 → 5)',
    ]);
    expect(lines(str, { ...str, minLength: 1 })).toEqual(['!/ minLength tightened (0 → 1)']);
    expect(lines({ ...str, minLength: 1 }, str)).toEqual(['/ minLength loosened (1 → 0)']);
    expect(lines({ ...num, minimum: 0 }, { ...num, exclusiveMinimum: 0 })).toEqual([
      '!/ minimum tightened (>= 0 → > 0)',
    ]);
    expect(lines({ ...num, exclusiveMaximum: 10 }, { ...num, maximum: 10 })).toEqual([
      '/ maximum loosened (< 10 → <= 10)',
    ]);
    expect(lines(num, { ...num, maximum: 10 })).toEqual(['!/ maximum tightened (none → <= 10)']);
    expect(lines({ ...num, multipleOf: 2 }, { ...num, multipleOf: 4 })).toEqual([
      '!/ multipleOf tightened (2 → 4)',
    ]);
    expect(lines({ ...num, multipleOf: 4 }, { ...num, multipleOf: 2 })).toEqual([
      '/ multipleOf loosened (4 → 2)',
    ]);
    expect(lines({ type: 'array', maxItems: 3 }, { type: 'array', maxItems: 2 })).toEqual([
      '!/ maxItems tightened (3 → 2)',
    ]);
    expect(lines({ type: 'array' }, { type: 'array', uniqueItems: true })).toEqual([
      '!/ uniqueItems tightened (false → true)',
    ]);
  });

  it('pattern and format: any change but removal breaks (their languages cannot be compared)', () => {
    expect(lines(str, { ...str, pattern: '^a' })).toEqual(['!/ pattern tightened (none → "^a")']);
    expect(lines({ ...str, pattern: '^a' }, { ...str, pattern: '^[ab]' })).toEqual([
      '!/ pattern tightened ("^a" → "^[ab]")',
    ]);
    expect(lines({ ...str, format: 'email' }, str)).toEqual(['/ format loosened ("email" → none)']);
  });
});

describe('diffSchemas: arrays, variants, references', () => {
  it('array items and tuple positions', () => {
    expect(lines({ type: 'array', items: str }, { type: 'array', items: num })).toEqual([
      '!/* retyped from string to number',
    ]);
    const pair = { type: 'array', prefixItems: [str, num], items: false };
    expect(lines(pair, { type: 'array', prefixItems: [str], items: false })).toEqual(['!/1 removed']);
    expect(lines(pair, { type: 'array', prefixItems: [str, num, str], items: false })).toEqual([]);
  });

  it('variants (v.variant): each must live on; one removed breaks, one added does not', () => {
    const a = object({ kind: { const: 'a' }, x: str });
    const b = object({ kind: { const: 'b' }, y: num });
    const c = object({ kind: { const: 'c' } });
    expect(lines({ oneOf: [a, b] }, { oneOf: [b, a] })).toEqual([]);
    expect(lines({ oneOf: [a, b] }, { oneOf: [a, object({ kind: { const: 'b' } })] })).toEqual([
      '!/y removed',
    ]);
    expect(lines({ oneOf: [a, b] }, { oneOf: [a] })).toEqual(['!/ variant removed (object, kind = "b")']);
    expect(lines({ oneOf: [a, b] }, { oneOf: [a, b, c] })).toEqual(['/ variant added (object, kind = "c")']);
  });

  it('nullable: the non-null branch is compared with its counterpart', () => {
    const base = { anyOf: [{ ...str, maxLength: 10 }, { type: 'null' }] };
    expect(lines(base, { anyOf: [{ ...str, maxLength: 5 }, { type: 'null' }] })).toEqual([
      '!/ maxLength tightened (10 → 5)',
    ]);
  });

  it('follows $refs within each side, once around a recursive schema', () => {
    const tree = (leaf: JsonSchema) => ({
      $defs: { node: object({ name: leaf, children: { type: 'array', items: { $ref: '#/$defs/node' } } }) },
      $ref: '#/$defs/node',
    });
    expect(lines(tree(str), tree(str))).toEqual([]);
    expect(lines(tree(str), tree(num))).toEqual(['!/name retyped from string to number']);
    // An inline root against its referenced form is the same schema.
    const inline = {
      ...object({ name: str, children: { type: 'array', items: { $ref: '#/$defs/node' } } }),
      $defs: tree(str).$defs,
    };
    expect(lines(inline, tree(str))).toEqual([]);
  });

  it('ends on schemas that loop through themselves, and reads an unresolvable $ref as any', () => {
    const loops = [
      { $ref: '#' },
      { anyOf: [{ $ref: '#' }, str] },
      { allOf: [{ $ref: '#' }] },
      { $ref: '#', anyOf: [{ $ref: '#' }] },
    ];
    for (const schema of loops)
      for (const other of loops) expect(() => diffSchemas(schema, other)).not.toThrow();
    expect(lines({ $ref: '#/nowhere' }, { $ref: '#/nowhere' })).toEqual([]);
  });

  it('false promised nothing; a field that becomes false is removed', () => {
    expect(lines(false, str)).toEqual([]);
    expect(lines(object({ a: str }), object({ a: false }))).toEqual(['!/a removed']);
  });
});

describe('checkCatalogCompat', () => {
  const catalog = (integrationEvents: Record<string, JsonSchema>): EventCatalog => ({ integrationEvents });
  const v1 = object({ orderId: str, customerId: str });

  it('a new type or version is an addition; a type gone breaks; each type is compared, in type order', () => {
    const report = checkCatalogCompat(
      catalog({ 'order.paid.v1': v1, 'order.created.v1': v1 }),
      catalog({
        'order.created.v1': object({ orderId: str }),
        'order.created.v2': str,
        'order.shipped.v1': v1,
      }),
    );
    expect(report.compared).toBe(1);
    expect(report.changes.map(toChangeLine)).toEqual([
      'order.created.v1: /customerId removed',
      'order.created.v2: new type',
      'order.paid.v1: type removed',
      'order.shipped.v1: new type',
    ]);
    expect(report.breaking.map(toChangeLine)).toEqual([
      'order.created.v1: /customerId removed',
      'order.paid.v1: type removed',
    ]);
  });

  it('names the payload itself "/"', () => {
    const report = checkCatalogCompat(catalog({ 'a.b.v1': v1 }), catalog({ 'a.b.v1': { type: 'array' } }));
    expect(report.breaking.map(toChangeLine)).toEqual(['a.b.v1: / retyped from object to array']);
  });
});

describe('parseEventCatalog', () => {
  it('accepts a catalog and refuses what is not one', () => {
    expect(
      parseEventCatalog({ integrationEvents: { 'a.b.v1': { type: 'object' }, 'c.d.v1': true } }),
    ).toMatchObject({ ok: true });
    expect(parseEventCatalog([])).toEqual({
      ok: false,
      error: 'expected a JSON object with "integrationEvents"',
    });
    expect(parseEventCatalog({ integrationEvents: [] })).toMatchObject({ ok: false });
    expect(parseEventCatalog({ integrationEvents: { 'a.b.v1': 'string' } })).toEqual({
      ok: false,
      error: 'the schema of "a.b.v1" is not a JSON Schema',
    });
  });
});
