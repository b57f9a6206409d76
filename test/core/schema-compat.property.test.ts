import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { JsonSchema } from '../../src/core/json-schema-view.ts';
import type { SchemaChange } from '../../src/core/schema-change.ts';
import { checkCatalogCompat } from '../../src/core/schema-compat.ts';
import { diffSchemas, escapePointer } from '../../src/core/schema-diff.ts';

// The rules of schema compatibility as properties over generated payload schemas, shaped as
// `hookmesh catalog` writes them (objects, arrays, enums, nullables, bounds): each edit is made at a
// random place of a random schema, and must be judged the same everywhere.

const SEED = 12_2026;
const RUNS = 300;
const NAMES = ['id', 'total', 'status', 'customer', 'lines', 'note', 'a/b', 'c~d'];

type Schema = Record<string, unknown>;

const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
/** Drops the keys whose value is undefined: a generated record becomes a plain schema. */
const defined = (record: Record<string, unknown>): Schema =>
  Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined));

const leaf: fc.Arbitrary<Schema> = fc.oneof(
  fc
    .record({
      type: fc.constant('string'),
      minLength: optional(fc.integer({ min: 0, max: 5 })),
      maxLength: optional(fc.integer({ min: 6, max: 50 })),
      format: optional(fc.constantFrom('email', 'date-time', 'uuid')),
    })
    .map(defined),
  fc
    .record({
      type: fc.constantFrom('number', 'integer'),
      minimum: optional(fc.integer({ min: -100, max: 0 })),
      exclusiveMaximum: optional(fc.integer({ min: 1, max: 100 })),
    })
    .map(defined),
  fc.constant({ type: 'boolean' }),
  fc.constant({ type: 'null' }),
  fc
    .uniqueArray(fc.constantFrom('open', 'paid', 'cancelled', 'refunded'), { minLength: 1 })
    .map((values) => ({
      type: 'string',
      enum: values,
    })),
);

const { object: objectSchema } = fc.letrec<{
  schema: Schema;
  object: Schema;
  array: Schema;
  nullable: Schema;
}>((tie) => ({
  schema: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    tie('object'),
    tie('array'),
    tie('nullable'),
  ),
  object: fc
    .tuple(fc.dictionary(fc.constantFrom(...NAMES), tie('schema'), { maxKeys: 4 }), fc.boolean())
    .chain(([properties, closed]) =>
      fc.subarray(Object.keys(properties)).map((required) => ({
        type: 'object',
        properties,
        required,
        ...(closed ? { additionalProperties: false } : {}),
      })),
    ),
  array: fc
    .record({ items: tie('schema'), maxItems: optional(fc.integer({ min: 1, max: 10 })) })
    .map((record) => defined({ type: 'array', ...record })),
  nullable: leaf.map((schema) => ({ anyOf: [schema, { type: 'null' }] })),
}));

/** A schema node and where it is in the payload; `anyOf` alternatives share their parent's path. */
interface Located {
  readonly path: string;
  readonly node: Schema;
}

function nodesOf(schema: Schema, path = ''): Located[] {
  const found: Located[] = [{ path, node: schema }];
  for (const [name, child] of Object.entries((schema.properties ?? {}) as Record<string, Schema>)) {
    found.push(...nodesOf(child, `${path}/${escapePointer(name)}`));
  }
  if (typeof schema.items === 'object') found.push(...nodesOf(schema.items as Schema, `${path}/*`));
  for (const branch of (schema.anyOf ?? []) as Schema[]) found.push(...nodesOf(branch, path));
  return found;
}

/** Makes an edit on a copy, at the `pick`-th node that `where` accepts; null when there is none. */
function edit(
  schema: Schema,
  pick: number,
  where: (node: Schema) => boolean,
  change: (node: Schema, path: string) => void,
): { schema: Schema; path: string } | null {
  // Through JSON: generated schemas may share a node, and an edit must touch one place only.
  const copy = JSON.parse(JSON.stringify(schema)) as Schema;
  const candidates = nodesOf(copy).filter(({ node }) => where(node));
  if (candidates.length === 0) return null;
  const { node, path } = candidates[pick % candidates.length]!;
  change(node, path);
  return { schema: copy, path };
}

const isObject = (node: Schema) => node.type === 'object';
const withFields = (node: Schema) => isObject(node) && Object.keys(node.properties as Schema).length > 0;
const fieldsOf = (node: Schema) => Object.keys(node.properties as Schema);
const requiredOf = (node: Schema) => node.required as string[];
const summary = (changes: readonly SchemaChange[]) =>
  changes.map(({ path, kind, breaking }) => ({ path, kind, breaking }));

/** A field the node does not have yet. */
function freshName(node: Schema): string {
  let name = 'added';
  while (fieldsOf(node).includes(name)) name += '_';
  return name;
}

function addOptionalField(node: Schema, schema: Schema): string {
  const name = freshName(node);
  (node.properties as Schema)[name] = schema;
  return name;
}

function widenEnum(node: Schema): void {
  node.enum = [...(node.enum as string[]), `new-${(node.enum as string[]).length}`];
}

function loosenBound(node: Schema): void {
  if (typeof node.maxLength === 'number') node.maxLength += 1;
  else if (typeof node.minimum === 'number') node.minimum -= 1;
  else if (typeof node.maxItems === 'number') delete node.maxItems;
  else if (typeof node.exclusiveMaximum === 'number') node.exclusiveMaximum += 10;
}
const hasBound = (node: Schema) =>
  ['maxLength', 'minimum', 'maxItems', 'exclusiveMaximum'].some((k) => k in node);

const params = { seed: SEED, numRuns: RUNS };

describe('schema compatibility, property-based', () => {
  it('a schema is compatible with itself, whatever the order of its keys', () => {
    const reversed = (value: unknown): unknown =>
      Array.isArray(value)
        ? value.map(reversed)
        : typeof value === 'object' && value !== null
          ? Object.fromEntries(
              Object.entries(value)
                .reverse()
                .map(([k, v]) => [k, reversed(v)]),
            )
          : value;
    fc.assert(
      fc.property(objectSchema, (schema) => {
        expect(diffSchemas(schema, structuredClone(schema))).toEqual([]);
        expect(diffSchemas(schema, reversed(schema) as JsonSchema)).toEqual([]);
      }),
      params,
    );
  });

  it('adding an optional field to an object never breaks: one change, "field-added", at its path', () => {
    fc.assert(
      fc.property(objectSchema, fc.nat(), leaf, (schema, pick, added) => {
        let at = '';
        const edited = edit(schema, pick, isObject, (node, path) => {
          at = `${path}/${escapePointer(addOptionalField(node, added))}`;
        })!;
        expect(summary(diffSchemas(schema, edited.schema))).toEqual([
          { path: at, kind: 'field-added', breaking: false },
        ]);
      }),
      params,
    );
  });

  it('removing a field always breaks, required or not: "field-removed" at its path', () => {
    fc.assert(
      fc.property(objectSchema, fc.nat(), fc.nat(), (schema, pick, which) => {
        let at = '';
        const edited = edit(schema, pick, withFields, (node, path) => {
          const name = fieldsOf(node)[which % fieldsOf(node).length]!;
          delete (node.properties as Schema)[name];
          node.required = requiredOf(node).filter((field) => field !== name);
          at = `${path}/${escapePointer(name)}`;
        });
        fc.pre(edited !== null);
        expect(summary(diffSchemas(schema, edited!.schema))).toEqual([
          { path: at, kind: 'field-removed', breaking: true },
        ]);
      }),
      params,
    );
  });

  it('making a field required, or optional, always breaks', () => {
    fc.assert(
      fc.property(objectSchema, fc.nat(), fc.nat(), (schema, pick, which) => {
        let at = '';
        let kind = '';
        const edited = edit(schema, pick, withFields, (node, path) => {
          const name = fieldsOf(node)[which % fieldsOf(node).length]!;
          const required = requiredOf(node).includes(name);
          node.required = required ? requiredOf(node).filter((f) => f !== name) : [...requiredOf(node), name];
          kind = required ? 'field-made-optional' : 'field-made-required';
          at = `${path}/${escapePointer(name)}`;
        });
        fc.pre(edited !== null);
        expect(summary(diffSchemas(schema, edited!.schema))).toEqual([{ path: at, kind, breaking: true }]);
      }),
      params,
    );
  });

  it('an enum value added never breaks; one removed always does', () => {
    const hasEnum = (node: Schema) => Array.isArray(node.enum);
    fc.assert(
      fc.property(objectSchema, fc.nat(), fc.nat(), (schema, pick, which) => {
        const widened = edit(schema, pick, hasEnum, widenEnum);
        fc.pre(widened !== null);
        expect(summary(diffSchemas(schema, widened!.schema))).toEqual([
          { path: widened!.path, kind: 'enum-widened', breaking: false },
        ]);
        const narrowed = edit(
          schema,
          pick,
          (node) => hasEnum(node) && (node.enum as unknown[]).length > 1,
          (node) => {
            node.enum = (node.enum as string[]).filter(
              (_, index) => index !== which % (node.enum as string[]).length,
            );
          },
        );
        if (narrowed !== null) {
          expect(summary(diffSchemas(schema, narrowed.schema))).toEqual([
            { path: narrowed.path, kind: 'enum-narrowed', breaking: true },
          ]);
        }
      }),
      params,
    );
  });

  it('a bound loosened never breaks; the same bound tightened back always does', () => {
    fc.assert(
      fc.property(objectSchema, fc.nat(), (schema, pick) => {
        const loosened = edit(schema, pick, hasBound, loosenBound);
        fc.pre(loosened !== null);
        const forward = diffSchemas(schema, loosened!.schema);
        expect(forward.length).toBeGreaterThan(0);
        expect(forward.every((change) => change.kind === 'constraint-loosened' && !change.breaking)).toBe(
          true,
        );
        const backward = diffSchemas(loosened!.schema, schema);
        expect(summary(backward)).toEqual(
          forward.map(({ path }) => ({ path, kind: 'constraint-tightened', breaking: true })),
        );
      }),
      params,
    );
  });

  it('retyping any node breaks at its path', () => {
    fc.assert(
      fc.property(objectSchema, fc.nat(), (schema, pick) => {
        const nodes = nodesOf(schema);
        const target = nodes[pick % nodes.length]!;
        // anyOf alternatives share their parent's path: retype the parent instead.
        fc.pre(
          !nodesOf(schema).some(({ node }) => (node.anyOf as Schema[] | undefined)?.includes(target.node)),
        );
        const edited = edit(
          schema,
          pick,
          () => true,
          (node) => {
            const replacement = node.type === 'boolean' ? { type: 'string' } : { type: 'boolean' };
            for (const key of Object.keys(node)) delete node[key];
            Object.assign(node, replacement);
          },
        )!;
        const breaking = diffSchemas(schema, edited.schema).filter((change) => change.breaking);
        expect(breaking.map(({ path, kind }) => ({ path, kind }))).toEqual([
          { path: target.path, kind: 'retyped' },
        ]);
      }),
      params,
    );
  });

  it('a chain of compatible edits is compatible end to end', () => {
    const step = fc.tuple(fc.constantFrom('field', 'enum', 'bound'), fc.nat(), leaf);
    fc.assert(
      fc.property(objectSchema, fc.array(step, { minLength: 1, maxLength: 6 }), (schema, steps) => {
        let current = schema;
        for (const [kind, pick, added] of steps) {
          const next =
            kind === 'field'
              ? edit(current, pick, isObject, (node) => void addOptionalField(node, added))
              : kind === 'enum'
                ? edit(current, pick, (node) => Array.isArray(node.enum), widenEnum)
                : edit(current, pick, hasBound, loosenBound);
          current = next?.schema ?? current;
          expect(diffSchemas(schema, current).filter((change) => change.breaking)).toEqual([]);
        }
      }),
      params,
    );
  });

  it('a new type never breaks a catalog; a type gone always does', () => {
    const types = fc.uniqueArray(
      fc.constantFrom('order.created.v1', 'order.created.v2', 'order.paid.v1', 'refund.v1'),
      {
        minLength: 1,
      },
    );
    fc.assert(
      fc.property(types, fc.array(objectSchema, { minLength: 4, maxLength: 4 }), (names, schemas) => {
        const full = Object.fromEntries(names.map((name, index) => [name, schemas[index]!]));
        const [first, ...rest] = names;
        const fewer = Object.fromEntries(rest.map((name) => [name, full[name]!]));
        const grown = checkCatalogCompat({ integrationEvents: fewer }, { integrationEvents: full });
        expect(grown.breaking).toEqual([]);
        expect(grown.changes).toEqual([
          { type: first, kind: 'type-added', breaking: false, detail: 'new type' },
        ]);
        const shrunk = checkCatalogCompat({ integrationEvents: full }, { integrationEvents: fewer });
        expect(shrunk.breaking).toEqual([
          { type: first, kind: 'type-removed', breaking: true, detail: 'type removed' },
        ]);
      }),
      params,
    );
  });

  it('answers any JSON, however malformed or self-referring, and finds nothing between it and itself', () => {
    const keyword = fc.constantFrom(
      'type',
      'properties',
      'required',
      'items',
      'prefixItems',
      'anyOf',
      'oneOf',
      'allOf',
      'enum',
      'const',
      '$ref',
      'additionalProperties',
      'minimum',
      'exclusiveMinimum',
      'maxLength',
      'multipleOf',
      'pattern',
    );
    const { node } = fc.letrec<{ node: unknown; value: unknown }>((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        fc.boolean(),
        fc.dictionary(keyword, tie('value'), { maxKeys: 4 }),
      ),
      value: fc.oneof(
        { depthSize: 'small' },
        tie('node'),
        fc.array(tie('node'), { maxLength: 3 }),
        fc.constantFrom(
          '#',
          '#/properties/a',
          '#/anyOf/0',
          'string',
          'object',
          ['string', 'null'],
          0,
          -1,
          2.5,
          null,
        ),
        fc.dictionary(fc.constantFrom('a', 'b'), tie('node'), { maxKeys: 2 }),
      ),
    }));
    fc.assert(
      fc.property(node, node, (a, b) => {
        expect(diffSchemas(a as JsonSchema, structuredClone(a) as JsonSchema)).toEqual([]);
        expect(() => diffSchemas(a as JsonSchema, b as JsonSchema)).not.toThrow();
      }),
      { ...params, numRuns: 1000 },
    );
  });
});
