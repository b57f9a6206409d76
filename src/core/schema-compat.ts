import type { JsonSchema } from './json-schema-view.ts';
import type { SchemaChange } from './schema-change.ts';
import { diffSchemas } from './schema-diff.ts';

/**
 * Schema compatibility (DESIGN "Delivery control"): an integration event type and version is a
 * contract, so a schema may change within it only in ways its consumers survive. A new type, or a
 * new `.vN` of one, is a new contract and always passes.
 */

/** What `hookmesh catalog` prints: each integration event type's payload as JSON Schema. */
export interface EventCatalog {
  readonly integrationEvents: Readonly<Record<string, JsonSchema>>;
}

/** One change between two catalogs: at a path of one type's payload, or of the type as a whole. */
export type CatalogChange =
  | ({ readonly type: string } & SchemaChange)
  | {
      readonly type: string;
      readonly kind: 'type-added' | 'type-removed';
      readonly breaking: boolean;
      readonly detail: string;
    };

export interface CompatReport {
  /** Every change, breaking or not, in type order. */
  readonly changes: readonly CatalogChange[];
  readonly breaking: readonly CatalogChange[];
  /** Types present in both catalogs. */
  readonly compared: number;
}

export type ParseCatalogResult = { ok: true; catalog: EventCatalog } | { ok: false; error: string };

/**
 * Checks that a parsed JSON value is an event catalog (`{ "integrationEvents": { type: schema } }`).
 * @example parseEventCatalog(JSON.parse(readFileSync('catalog.json', 'utf8')))
 */
export function parseEventCatalog(value: unknown): ParseCatalogResult {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, error: 'expected a JSON object with "integrationEvents"' };
  }
  const events = (value as { integrationEvents?: unknown }).integrationEvents;
  if (typeof events !== 'object' || events === null || Array.isArray(events)) {
    return { ok: false, error: '"integrationEvents" must be an object of JSON Schemas by type' };
  }
  for (const [type, schema] of Object.entries(events)) {
    if (
      typeof schema !== 'boolean' &&
      (typeof schema !== 'object' || schema === null || Array.isArray(schema))
    ) {
      return { ok: false, error: `the schema of ${JSON.stringify(type)} is not a JSON Schema` };
    }
  }
  return { ok: true, catalog: { integrationEvents: events as Record<string, JsonSchema> } };
}

/**
 * Compares the catalog consumers were built against with the app's current one. Each type present
 * in both is compared with `diffSchemas`; a type that disappeared breaks its consumers (retiring a
 * version is a deliberate act: update the baseline with it); a new type is an addition.
 * @example checkCatalogCompat(baseline, current).breaking.map(toChangeLine)
 * // → ['order.created.v1: /customerId removed']
 */
export function checkCatalogCompat(baseline: EventCatalog, current: EventCatalog): CompatReport {
  const changes: CatalogChange[] = [];
  const types = [
    ...new Set([...Object.keys(baseline.integrationEvents), ...Object.keys(current.integrationEvents)]),
  ].sort();
  let compared = 0;
  for (const type of types) {
    const before = ownSchema(baseline, type);
    const after = ownSchema(current, type);
    if (before === undefined && after !== undefined) {
      changes.push({ type, kind: 'type-added', breaking: false, detail: 'new type' });
    } else if (before !== undefined && after === undefined) {
      changes.push({ type, kind: 'type-removed', breaking: true, detail: 'type removed' });
    } else if (before !== undefined && after !== undefined) {
      compared++;
      for (const change of diffSchemas(before, after)) changes.push({ type, ...change });
    }
  }
  return { changes, breaking: changes.filter((change) => change.breaking), compared };
}

function ownSchema(catalog: EventCatalog, type: string): JsonSchema | undefined {
  return Object.hasOwn(catalog.integrationEvents, type) ? catalog.integrationEvents[type] : undefined;
}

/**
 * A change as one line: the type, the path in its payload (`/` for the payload itself), what happened.
 * @example toChangeLine({ type: 'order.created.v1', path: '/customerId', kind: 'field-removed', breaking: true, detail: 'removed' })
 * // → 'order.created.v1: /customerId removed'
 */
export function toChangeLine(change: CatalogChange): string {
  if (!('path' in change)) return `${change.type}: ${change.detail}`;
  return `${change.type}: ${change.path === '' ? '/' : change.path} ${change.detail}`;
}
