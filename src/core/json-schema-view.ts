/**
 * Reading a JSON Schema (2020-12, as `hookmesh catalog` writes it) for comparison: which JSON
 * types and which values it allows, its alternatives, and its `$ref`s resolved. Plain JSON in,
 * plain values out; what is not understood reads as "any", so a comparison errs towards reporting.
 */

/** A JSON Schema: `true` allows anything, `false` nothing. */
export type JsonSchema = boolean | { readonly [keyword: string]: unknown };

/** A schema object, with `true` as `{}` and `false` as `{ not: {} }`. */
export type SchemaObject = { readonly [keyword: string]: unknown };

export type JsonType = 'string' | 'number' | 'integer' | 'boolean' | 'null' | 'object' | 'array';

/** The JSON types a schema allows; `null` means any value. */
export type TypeSet = ReadonlySet<JsonType> | null;

const JSON_TYPES: ReadonlySet<string> = new Set<JsonType>([
  'string',
  'number',
  'integer',
  'boolean',
  'null',
  'object',
  'array',
]);

/** Follows `$ref` chains within `root` (`#` and `#/…` JSON pointers); the chain's refs are returned too. */
export function resolveSchema(schema: unknown, root: JsonSchema): { schema: JsonSchema; refs: string[] } {
  const refs: string[] = [];
  let current = toSchema(schema);
  while (typeof current === 'object' && typeof current.$ref === 'string' && refs.length < 32) {
    const ref = current.$ref;
    if (refs.includes(ref)) break;
    refs.push(ref);
    const target = ref.startsWith('#') ? atPointer(root, ref.slice(1)) : undefined;
    // An unresolvable ref reads as "any": nothing can be said about it.
    if (target === undefined) return { schema: true, refs };
    const { $ref: _, ...siblings } = current;
    current =
      typeof target === 'object' && Object.keys(siblings).length > 0 ? { ...target, ...siblings } : target;
  }
  return { schema: current, refs };
}

function atPointer(root: JsonSchema, pointer: string): JsonSchema | undefined {
  let node: unknown = root;
  for (const token of pointer.split('/').slice(1)) {
    const key = decodeURIComponent(token).replace(/~1/g, '/').replace(/~0/g, '~');
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, key)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return typeof node === 'boolean' || (typeof node === 'object' && node !== null && !Array.isArray(node))
    ? (node as JsonSchema)
    : undefined;
}

/**
 * Marks a schema as being read; false when it was already (a loop), or when too many were: a
 * `$ref` with siblings resolves to a new object each time, so identity alone cannot end its loop.
 */
function visit(seen: Set<unknown>, schema: unknown): boolean {
  if (seen.has(schema) || seen.size >= MAX_VISITS) return false;
  seen.add(schema);
  return true;
}

const MAX_VISITS = 1000;

/** A value where a schema belongs, as a schema: what is neither a boolean nor an object reads as any. */
export function toSchema(value: unknown): JsonSchema {
  if (typeof value === 'boolean') return value;
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JsonSchema) : true;
}

export function asObject(schema: JsonSchema): SchemaObject {
  if (schema === true) return {};
  if (schema === false) return { not: {} };
  return schema;
}

/**
 * `allOf` parts folded into one object, shallowly: properties and `required` are united. `seen`
 * (here and below) stops a schema that contains itself through `$ref` (`{ allOf: [{ $ref: '#' }] }`).
 */
export function foldAllOf(schema: SchemaObject, root: JsonSchema, seen = new Set<unknown>()): SchemaObject {
  if (!Array.isArray(schema.allOf) || !visit(seen, schema)) return schema;
  const { allOf, ...rest } = schema;
  let folded: Record<string, unknown> = { ...rest };
  for (const part of allOf as JsonSchema[]) {
    const object = foldAllOf(asObject(resolveSchema(part, root).schema), root, seen);
    folded = {
      ...object,
      ...folded,
      properties: { ...asRecord(object.properties), ...asRecord(folded.properties) },
      required: [...new Set([...stringList(object.required), ...stringList(folded.required)])],
      type: intersectTypeKeywords(folded.type, object.type),
    };
  }
  if (folded.type === undefined) delete folded.type;
  return folded;
}

function intersectTypeKeywords(a: unknown, b: unknown): unknown {
  const left = typeKeyword(a);
  const right = typeKeyword(b);
  if (left === null) return b;
  if (right === null) return a;
  return [...left].filter((type) => right.has(type));
}

function typeKeyword(value: unknown): TypeSet {
  const list = typeof value === 'string' ? [value] : Array.isArray(value) ? value : null;
  if (list === null) return null;
  return new Set(list.filter((type): type is JsonType => typeof type === 'string' && JSON_TYPES.has(type)));
}

/** The alternatives of `anyOf` / `oneOf` (nested ones flattened), or the schema itself. */
export function branchesOf(schema: JsonSchema, root: JsonSchema, seen = new Set<unknown>()): JsonSchema[] {
  const resolved = resolveSchema(schema, root).schema;
  if (typeof resolved !== 'object') return [resolved];
  const list = Array.isArray(resolved.anyOf)
    ? resolved.anyOf
    : Array.isArray(resolved.oneOf)
      ? resolved.oneOf
      : null;
  if (list === null || list.length === 0) return [resolved];
  // A loop of alternatives adds no value to what a schema allows: drop it.
  if (!visit(seen, resolved)) return [];
  // `false` alternatives allow nothing: leave them out, unless nothing else is left.
  const branches = (list as JsonSchema[]).flatMap((branch) => branchesOf(branch, root, seen));
  const allowing = branches.filter((branch) => branch !== false);
  return allowing.length > 0 || branches.length === 0 ? allowing : [false];
}

/** The JSON types a schema allows, from `type`, `const`/`enum` or its alternatives; `null` = any. */
export function typesOf(schema: JsonSchema, root: JsonSchema, seen = new Set<unknown>()): TypeSet {
  const resolved = resolveSchema(schema, root).schema;
  if (resolved === true) return null;
  if (resolved === false || !visit(seen, resolved)) return new Set();
  const object = foldAllOf(resolved, root);
  let types = typeKeyword(object.type);
  const values = ownValues(object);
  if (types === null && values !== null) types = new Set(values.map(jsonTypeOf));
  const branches = branchesOf(object, root);
  if (branches.length > 1 || branches[0] !== object) {
    let union: Set<JsonType> | null = new Set();
    for (const branch of branches) {
      const own = typesOf(branch, root, seen);
      if (own === null) union = null;
      else if (union !== null) for (const type of own) union.add(type);
    }
    if (union !== null)
      types = types === null ? union : new Set([...types].filter((type) => union.has(type)));
  }
  return types;
}

/** The values a schema allows when it lists them (`const`, `enum`, alternatives of those); else `null`. */
export function valuesOf(schema: JsonSchema, root: JsonSchema, seen = new Set<unknown>()): unknown[] | null {
  const resolved = resolveSchema(schema, root).schema;
  if (typeof resolved !== 'object') return resolved ? null : [];
  if (!visit(seen, resolved)) return [];
  const object = foldAllOf(resolved, root);
  const own = ownValues(object);
  if (own !== null) return own;
  const types = typeKeyword(object.type);
  if (types !== null && types.size === 1 && types.has('null')) return [null];
  const branches = branchesOf(object, root);
  if (branches.length === 1 && branches[0] === object) return null;
  const values: unknown[] = [];
  for (const branch of branches) {
    const listed = valuesOf(branch, root, seen);
    if (listed === null) return null;
    values.push(...listed);
  }
  return uniqueValues(values);
}

function ownValues(object: SchemaObject): unknown[] | null {
  const listed = Array.isArray(object.enum) ? (object.enum as unknown[]) : null;
  if (Object.hasOwn(object, 'const')) {
    const key = canonicalJson(object.const);
    return listed === null || listed.some((value) => canonicalJson(value) === key) ? [object.const] : [];
  }
  return listed === null ? null : uniqueValues(listed);
}

function uniqueValues(values: readonly unknown[]): unknown[] {
  const seen = new Map<string, unknown>();
  for (const value of values) seen.set(canonicalJson(value), value);
  return [...seen.values()];
}

function jsonTypeOf(value: unknown): JsonType {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  const type = typeof value;
  return type === 'string' || type === 'number' || type === 'boolean' ? type : 'object';
}

/** JSON with object keys sorted: equal values, equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function asRecord(value: unknown): Readonly<Record<string, JsonSchema>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, JsonSchema>)
    : {};
}

export function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

export function describeTypes(types: TypeSet): string {
  if (types === null) return 'any';
  if (types.size === 0) return 'nothing';
  return [...types].sort().join(' | ');
}

export function sameTypes(a: TypeSet, b: TypeSet): boolean {
  if (a === null || b === null) return a === b;
  return a.size === b.size && [...a].every((type) => b.has(type));
}

/** Whether two type sets share a type (`null`, any, shares with everything). */
export function typesOverlap(a: TypeSet, b: TypeSet): boolean {
  if (a === null || b === null || (a.size === 0 && b.size === 0)) return true;
  return [...a].some(
    (type) =>
      b.has(type) || (type === 'integer' && b.has('number')) || (type === 'number' && b.has('integer')),
  );
}
