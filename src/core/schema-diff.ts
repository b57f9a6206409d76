import {
  asObject,
  asRecord,
  branchesOf,
  canonicalJson,
  describeTypes,
  foldAllOf,
  type JsonSchema,
  resolveSchema,
  type SchemaObject,
  sameTypes,
  stringList,
  toSchema,
  typesOf,
  typesOverlap,
  valuesOf,
} from './json-schema-view.ts';
import { BREAKING_KINDS, type SchemaChange, type SchemaChangeKind } from './schema-change.ts';
import { diffConstraints } from './schema-constraint-diff.ts';

interface Context {
  readonly baseRoot: JsonSchema;
  readonly currentRoot: JsonSchema;
  /** `$ref` pairs being compared further up: a recursive schema is compared once around its loop. */
  readonly active: Set<string>;
  readonly changes: SchemaChange[];
}

const MAX_DEPTH = 64;

/**
 * Compares the schema consumers were built against (`baseline`) with the one the app defines now,
 * for one integration event type and version. Two rules decide what breaks:
 * - what the baseline promised stays: no field removed or made optional, no JSON type changed
 *   (either way), no listed value removed;
 * - every payload the baseline allowed is still allowed (events accepted before the change are
 *   retried and replayed under the same type): no field made required or added as required, no
 *   constraint tightened, `additionalProperties` not tightened.
 * Additions are compatible: new optional fields, new enum values or variants, loosened constraints
 * (consumers ignore what they do not know). Not compared: `not`, `if`/`then`/`else`,
 * `patternProperties`, `dependent*`, `contains`, `unevaluated*`; `allOf` is folded shallowly.
 * `$ref`s resolve within each side's root.
 * @example diffSchemas({ type: 'object', properties: { a: { type: 'string' } } }, { type: 'object' })
 * // → [{ path: '/a', kind: 'field-removed', breaking: true, detail: 'removed' }]
 */
export function diffSchemas(baseline: JsonSchema, current: JsonSchema): SchemaChange[] {
  const context: Context = { baseRoot: baseline, currentRoot: current, active: new Set(), changes: [] };
  compare(baseline, current, '', context, 0);
  return context.changes;
}

function report(context: Context, path: string, kind: SchemaChangeKind, detail: string): void {
  context.changes.push({ path, kind, breaking: BREAKING_KINDS.has(kind), detail });
}

function compare(base: JsonSchema, current: JsonSchema, path: string, context: Context, depth: number): void {
  const b = resolveSchema(base, context.baseRoot);
  const c = resolveSchema(current, context.currentRoot);
  const loop = b.refs.length > 0 || c.refs.length > 0 ? `${b.refs.join(' ')}|${c.refs.join(' ')}` : null;
  if (depth > MAX_DEPTH || (loop !== null && context.active.has(loop))) return;
  if (loop !== null) context.active.add(loop);
  try {
    compareResolved(b.schema, c.schema, path, context, depth);
  } finally {
    if (loop !== null) context.active.delete(loop);
  }
}

function compareResolved(
  base: JsonSchema,
  current: JsonSchema,
  path: string,
  context: Context,
  depth: number,
): void {
  if (base === false) return; // nothing was allowed, so nothing was promised
  if (current === false) {
    report(context, path, 'field-removed', 'removed');
    return;
  }
  const baseTypes = typesOf(base, context.baseRoot);
  const currentTypes = typesOf(current, context.currentRoot);
  if (!sameTypes(baseTypes, currentTypes)) {
    report(
      context,
      path,
      'retyped',
      `retyped from ${describeTypes(baseTypes)} to ${describeTypes(currentTypes)}`,
    );
    return;
  }
  const baseValues = valuesOf(base, context.baseRoot);
  const currentValues = valuesOf(current, context.currentRoot);
  if (baseValues !== null || currentValues !== null) {
    compareValues(baseValues, currentValues, path, context);
    return;
  }
  const baseBranches = branchesOf(base, context.baseRoot);
  const currentBranches = branchesOf(current, context.currentRoot);
  if (baseBranches.length > 1 || currentBranches.length > 1) {
    compareBranches(baseBranches, currentBranches, path, context, depth);
    return;
  }
  const b = foldAllOf(asObject(base), context.baseRoot);
  const c = foldAllOf(asObject(current), context.currentRoot);
  for (const change of diffConstraints(b, c)) report(context, path, change.kind, change.detail);
  compareObjects(b, c, path, context, depth);
  compareArrays(b, c, path, context, depth);
}

function compareValues(
  base: unknown[] | null,
  current: unknown[] | null,
  path: string,
  context: Context,
): void {
  if (base === null) {
    report(context, path, 'enum-narrowed', `narrowed to ${describeValues(current ?? [])}`);
    return;
  }
  if (current === null) {
    report(context, path, 'enum-widened', `no longer limited to ${describeValues(base)}`);
    return;
  }
  const currentKeys = new Set(current.map(canonicalJson));
  const baseKeys = new Set(base.map(canonicalJson));
  const removed = base.filter((value) => !currentKeys.has(canonicalJson(value)));
  const added = current.filter((value) => !baseKeys.has(canonicalJson(value)));
  if (removed.length > 0)
    report(context, path, 'enum-narrowed', `enum narrowed: ${describeValues(removed)} removed`);
  if (added.length > 0) report(context, path, 'enum-widened', `enum widened: ${describeValues(added)} added`);
}

function describeValues(values: readonly unknown[]): string {
  const shown = values.slice(0, 5).map((value) => JSON.stringify(value) ?? 'null');
  return values.length > 5
    ? `${shown.join(', ')}, … (${values.length} values)`
    : shown.join(', ') || 'nothing';
}

interface Match {
  readonly index: number;
  readonly changes: SchemaChange[];
  readonly breaking: number;
}

/**
 * Alternatives (`anyOf`/`oneOf`, e.g. a `v.variant`): each of the baseline's must live on in one of
 * the current ones — the closest, judged by the fewest breaking changes — and is compared with it.
 * A baseline alternative whose closest match already serves another one unchanged was removed.
 */
function compareBranches(
  base: readonly JsonSchema[],
  current: readonly JsonSchema[],
  path: string,
  context: Context,
  depth: number,
): void {
  const chosen = new Set<number>();
  const matches = base.map((branch) => {
    const match = closestBranch(branch, current, chosen, path, context, depth);
    if (match !== null) chosen.add(match.index);
    return match;
  });
  const exact = new Set(
    matches.flatMap((match) => (match !== null && match.breaking === 0 ? [match.index] : [])),
  );
  const used = new Set<number>();
  matches.forEach((match, position) => {
    if (match === null || (match.breaking > 0 && exact.has(match.index))) {
      const variant = describeVariant(base[position]!, context.baseRoot);
      report(context, path, 'variant-removed', `variant removed (${variant})`);
      return;
    }
    used.add(match.index);
    context.changes.push(...match.changes);
  });
  current.forEach((candidate, index) => {
    if (used.has(index)) return;
    const variant = describeVariant(candidate, context.currentRoot);
    report(context, path, 'variant-added', `variant added (${variant})`);
  });
}

/** The current alternative with the fewest breaking changes, then fewest changes, then not yet taken. */
function closestBranch(
  branch: JsonSchema,
  current: readonly JsonSchema[],
  taken: ReadonlySet<number>,
  path: string,
  context: Context,
  depth: number,
): Match | null {
  const branchTypes = typesOf(branch, context.baseRoot);
  let best: Match | null = null;
  const score = (match: Match) => [match.breaking, match.changes.length, taken.has(match.index) ? 1 : 0];
  current.forEach((candidate, index) => {
    if (!typesOverlap(branchTypes, typesOf(candidate, context.currentRoot))) return;
    const trial: Context = { ...context, changes: [] };
    compare(branch, candidate, path, trial, depth + 1);
    const match: Match = {
      index,
      changes: trial.changes,
      breaking: trial.changes.filter((change) => change.breaking).length,
    };
    if (best === null || isLess(score(match), score(best))) best = match;
  });
  return best;
}

function isLess(a: readonly number[], b: readonly number[]): boolean {
  for (let index = 0; index < a.length; index++) {
    if (a[index] !== b[index]) return a[index]! < b[index]!;
  }
  return false;
}

/** An alternative by its types and, for an object, the fields that tell it apart (`kind = "card"`). */
function describeVariant(schema: JsonSchema, root: JsonSchema): string {
  const types = describeTypes(typesOf(schema, root));
  const properties = asRecord(asObject(resolveSchema(schema, root).schema).properties);
  const tags = Object.entries(properties).flatMap(([name, property]) => {
    const values = valuesOf(property, root);
    return values !== null && values.length === 1 ? [`${name} = ${JSON.stringify(values[0])}`] : [];
  });
  return tags.length > 0 ? `${types}, ${tags.join(', ')}` : types;
}

function compareObjects(
  b: SchemaObject,
  c: SchemaObject,
  path: string,
  context: Context,
  depth: number,
): void {
  const baseProps = asRecord(b.properties);
  const currentProps = asRecord(c.properties);
  const baseRequired = new Set(stringList(b.required));
  const currentRequired = new Set(stringList(c.required));
  const baseRest = toSchema(b.additionalProperties ?? true);
  for (const [name, schema] of Object.entries(baseProps)) {
    const at = `${path}/${escapePointer(name)}`;
    if (!Object.hasOwn(currentProps, name)) {
      report(context, at, 'field-removed', 'removed');
      continue;
    }
    if (baseRequired.has(name) && !currentRequired.has(name))
      report(context, at, 'field-made-optional', 'made optional');
    if (!baseRequired.has(name) && currentRequired.has(name))
      report(context, at, 'field-made-required', 'made required');
    compare(schema, currentProps[name]!, at, context, depth + 1);
  }
  for (const [name, schema] of Object.entries(currentProps)) {
    if (Object.hasOwn(baseProps, name)) continue;
    const at = `${path}/${escapePointer(name)}`;
    if (currentRequired.has(name)) report(context, at, 'required-field-added', 'added as required');
    else report(context, at, 'field-added', 'added (optional)');
    // A map's values (`additionalProperties: <schema>`) were allowed under this name before.
    if (!isAnySchema(baseRest)) compare(baseRest, schema, at, context, depth + 1);
  }
  for (const name of currentRequired) {
    if (!baseRequired.has(name) && !Object.hasOwn(currentProps, name) && !Object.hasOwn(baseProps, name)) {
      report(context, `${path}/${escapePointer(name)}`, 'required-field-added', 'added as required');
    }
  }
  compareRest(baseRest, toSchema(c.additionalProperties ?? true), path, context, depth);
  if (b.propertyNames !== undefined || c.propertyNames !== undefined) {
    compare(
      (b.propertyNames ?? true) as JsonSchema,
      (c.propertyNames ?? true) as JsonSchema,
      `${path}/(keys)`,
      context,
      depth + 1,
    );
  }
}

function isAnySchema(schema: JsonSchema): boolean {
  return schema === true || (typeof schema === 'object' && Object.keys(schema).length === 0);
}

/** `additionalProperties`: fields the object does not name (a `v.looseObject`, a `v.record`). */
function compareRest(
  base: JsonSchema,
  current: JsonSchema,
  path: string,
  context: Context,
  depth: number,
): void {
  if (base === false || (isAnySchema(base) && isAnySchema(current))) return;
  if (current === false || (isAnySchema(base) && !isAnySchema(current))) {
    const was = isAnySchema(base) ? 'any' : describeTypes(typesOf(base, context.baseRoot));
    const now = current === false ? 'none' : describeTypes(typesOf(current, context.currentRoot));
    report(
      context,
      path,
      'additional-properties-tightened',
      `additionalProperties tightened (${was} → ${now})`,
    );
    return;
  }
  if (isAnySchema(current)) {
    const was = describeTypes(typesOf(base, context.baseRoot));
    report(context, path, 'additional-properties-loosened', `additionalProperties loosened (${was} → any)`);
    return;
  }
  compare(base, current, `${path}/*`, context, depth + 1);
}

function compareArrays(
  b: SchemaObject,
  c: SchemaObject,
  path: string,
  context: Context,
  depth: number,
): void {
  const basePrefix = Array.isArray(b.prefixItems) ? (b.prefixItems as JsonSchema[]) : [];
  const currentPrefix = Array.isArray(c.prefixItems) ? (c.prefixItems as JsonSchema[]) : [];
  const baseItems = itemsSchema(b);
  const currentItems = itemsSchema(c);
  for (let index = 0; index < Math.max(basePrefix.length, currentPrefix.length); index++) {
    compare(
      basePrefix[index] ?? baseItems,
      currentPrefix[index] ?? currentItems,
      `${path}/${index}`,
      context,
      depth + 1,
    );
  }
  if (b.items !== undefined || c.items !== undefined)
    compare(baseItems, currentItems, `${path}/*`, context, depth + 1);
}

function itemsSchema(schema: SchemaObject): JsonSchema {
  const { items } = schema;
  return typeof items === 'boolean' || (typeof items === 'object' && items !== null && !Array.isArray(items))
    ? (items as JsonSchema)
    : true;
}

/** A name as one JSON pointer token (RFC 6901). */
export function escapePointer(name: string): string {
  return name.replace(/~/g, '~0').replace(/\//g, '~1');
}
