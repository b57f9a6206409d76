import { toJsonSchema } from '@valibot/to-json-schema';
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { createSchemaConverter } from '../../src/api/openapi/schema-converter.ts';

describe('createSchemaConverter', () => {
  it('converts what JSON Schema can say, as @valibot/to-json-schema does, without its $schema', () => {
    const schema = v.object({
      id: v.pipe(v.string(), v.minLength(1), v.maxLength(200)),
      total: v.pipe(v.number(), v.finite(), v.minValue(0)),
      at: v.optional(v.pipe(v.string(), v.isoTimestamp())),
      tags: v.array(v.picklist(['a', 'b'])),
    });
    expect(createSchemaConverter().toSchemaObject(schema, 'input', 'X')).toEqual({
      type: 'object',
      properties: {
        id: { type: 'string', minLength: 1, maxLength: 200 },
        total: { type: 'number', minimum: 0 },
        at: { type: 'string', format: 'date-time' },
        tags: { type: 'array', items: { enum: ['a', 'b'], type: 'string' } },
      },
      required: ['id', 'total', 'tags'],
    });
  });

  it('never throws where the library, by default, does', () => {
    const schemas = [
      v.custom<string>((x) => typeof x === 'string'),
      v.pipe(
        v.string(),
        v.check((s) => s !== 'x'),
      ),
      v.pipe(
        v.string(),
        v.transform((s) => s.length),
      ),
      v.date(),
      v.bigint(),
      v.map(v.string(), v.number()),
      v.lazy((input) => ((input as { a: unknown }).a ? v.string() : v.number())),
    ];
    const converter = createSchemaConverter();
    for (const schema of schemas) {
      expect(() => toJsonSchema(schema)).toThrow();
      expect(() => converter.toSchemaObject(schema, 'input', 'X')).not.toThrow();
      expect(() => converter.toSchemaObject(schema, 'output', 'X')).not.toThrow();
    }
  });

  it('describes the input before a transform, and no type after one that may change it', () => {
    const converter = createSchemaConverter();
    const toNumber = v.pipe(v.string(), v.regex(/^\d+$/), v.transform(Number));
    expect(converter.toSchemaObject(toNumber, 'input', 'X')).toEqual({ type: 'string', pattern: '^\\d+$' });
    expect(converter.toSchemaObject(toNumber, 'output', 'X')).toEqual({
      $comment: 'the output of a "transform" transformation: any JSON value',
    });
    // Typed again after the transform: the output side starts there.
    const typed = v.pipe(v.string(), v.transform(Number), v.number(), v.minValue(1));
    expect(converter.toSchemaObject(typed, 'output', 'X')).toEqual({ type: 'number', minimum: 1 });
    // A transform that keeps the type keeps the schema.
    const trimmed = v.pipe(v.string(), v.trim(), v.minLength(1));
    expect(converter.toSchemaObject(trimmed, 'output', 'X')).toMatchObject({ type: 'string', minLength: 1 });
  });

  it('keeps the rest of a schema around what it cannot say, and says the mesh checks it', () => {
    const converter = createSchemaConverter();
    const metadata = v.pipe(
      v.custom<object>((m) => typeof m === 'object' && m !== null, 'must be an object'),
      v.metadata({ type: 'object' }),
    );
    expect(converter.toSchemaObject(metadata, 'input', 'X')).toEqual({
      type: 'object',
      description: 'must be an object',
      $comment: 'the mesh also checks what JSON Schema cannot say here (custom)',
    });
    const checked = v.pipe(
      v.number(),
      v.integer(),
      v.rawCheck(() => {}),
    );
    expect(converter.toSchemaObject(checked, 'input', 'X')).toEqual({
      type: 'integer',
      $comment: 'the mesh also checks what JSON Schema cannot say here (raw_check)',
    });
  });

  it('gathers recursive definitions under names of their own, referred to from components', () => {
    interface Tree {
      children: Tree[];
    }
    const TreeSchema: v.GenericSchema<Tree> = v.object({ children: v.array(v.lazy(() => TreeSchema)) });
    const converter = createSchemaConverter();
    const a = converter.toSchemaObject(TreeSchema, 'output', 'a');
    const b = converter.toSchemaObject(v.object({ t: TreeSchema }), 'output', 'b');
    expect(a).toEqual({
      type: 'object',
      properties: { children: { type: 'array', items: { $ref: '#/components/schemas/a.0' } } },
      required: ['children'],
    });
    expect(b.properties).toMatchObject({
      t: { properties: { children: { items: { $ref: '#/components/schemas/b.0' } } } },
    });
    expect(Object.keys(converter.components).sort()).toEqual(['a.0', 'b.0']);
    expect(converter.components['a.0']).toEqual(a);
  });
});
