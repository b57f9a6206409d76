import { matchesPattern } from './event-type.ts';
import { type CompiledFilter, compileFilter } from './subscription-filter.ts';

/** A subscription that carries a filter, as ingest needs it: its id, type pattern and filter. */
export interface FilteredSubscription {
  readonly id: string;
  /** Exact integration event type or `prefix.*`. */
  readonly type: string;
  /** The filter's JSON text, as stored. */
  readonly filter: string;
}

/**
 * The filtered subscriptions of one moment, indexed by type, deciding which of them an integration
 * event goes to. Unfiltered subscriptions are not its business: the store matches those itself.
 */
export interface FilterIndex {
  /** Filtered subscriptions in the index. */
  readonly size: number;
  /**
   * Ids of the filtered subscriptions whose type matches and whose filter matches `data` (the
   * event's JSON text, parsed only when some filtered subscription takes its type).
   */
  matching(type: string, data: string): string[];
}

interface Entry {
  readonly id: string;
  readonly pattern: string;
  readonly filter: CompiledFilter | null;
  /** Position among the subscriptions given: answers keep that order. */
  readonly order: number;
}

type Scalar = string | number | boolean | null;

/**
 * The filtered subscriptions of one exact type. Most filters require a top-level field to equal
 * one of a few values (`{"customerId": {"$in": […]}}`): those are found by that value in a map,
 * so a thousand filters on a type cost a lookup per event, not a thousand evaluations.
 */
interface TypeBucket {
  /** field → value → the filters that need `field` to be that value (one guard per filter). */
  readonly guarded: Map<string, Map<Scalar, Entry[]>>;
  /** Filters without such a field (or that no longer compile): evaluated one by one. */
  readonly unguarded: Entry[];
}

/**
 * Builds the index. A stored filter that no longer compiles (written by another version, or by
 * hand) matches every event of its type: a delivery too many beats one silently lost.
 * @example createFilterIndex([{ id: 'sub_1', type: 'order.*', filter: '{"currency":"EUR"}' }])
 */
export function createFilterIndex(subscriptions: readonly FilteredSubscription[]): FilterIndex {
  const parsed = subscriptions.map((s, order) => {
    const source = parseFilter(s.filter);
    const entry: Entry = { id: s.id, pattern: s.type, filter: source ? toCompiled(source) : null, order };
    return { entry, guards: entry.filter && source ? toGuards(source) : new Map<string, Scalar[]>() };
  });
  // A field many filters name with different values (a customer id) sorts events better than one
  // they all give the same value (a currency): each filter is indexed under its most varied field.
  const variety = new Map<string, Set<Scalar>>();
  for (const { guards } of parsed) {
    for (const [field, values] of guards) {
      const seen = variety.get(field) ?? new Set<Scalar>();
      for (const value of values) seen.add(value);
      variety.set(field, seen);
    }
  }
  const exact = new Map<string, TypeBucket>();
  const prefixed: Entry[] = [];
  for (const { entry, guards } of parsed) {
    if (entry.pattern.endsWith('.*')) {
      prefixed.push(entry);
      continue;
    }
    let bucket = exact.get(entry.pattern);
    if (!bucket) {
      bucket = { guarded: new Map(), unguarded: [] };
      exact.set(entry.pattern, bucket);
    }
    let best: [string, Scalar[]] | null = null;
    for (const guard of guards) {
      if (best === null || variety.get(guard[0])!.size > variety.get(best[0])!.size) best = guard;
    }
    if (best === null) {
      bucket.unguarded.push(entry);
      continue;
    }
    const [field, values] = best;
    const byValue = bucket.guarded.get(field) ?? new Map<Scalar, Entry[]>();
    bucket.guarded.set(field, byValue);
    for (const value of new Set(values)) byValue.set(value, [...(byValue.get(value) ?? []), entry]);
  }
  return {
    size: subscriptions.length,
    matching(type, data) {
      const bucket = exact.get(type);
      const prefixes =
        prefixed.length === 0 ? prefixed : prefixed.filter((e) => matchesPattern(e.pattern, type));
      if (bucket === undefined && prefixes.length === 0) return [];
      let event: unknown;
      try {
        event = JSON.parse(data);
      } catch {
        event = undefined;
      }
      const candidates = new Set<Entry>(prefixes);
      if (bucket) {
        for (const e of bucket.unguarded) candidates.add(e);
        for (const [field, byValue] of bucket.guarded) {
          for (const value of guardValues(event, field)) {
            for (const e of byValue.get(value as Scalar) ?? []) candidates.add(e);
          }
        }
      }
      const matched: Entry[] = [];
      for (const e of candidates) if (e.filter === null || e.filter.matches(event)) matched.push(e);
      if (matched.length > 1) matched.sort((a, b) => a.order - b.order);
      return matched.map((e) => e.id);
    },
  };
}

/**
 * The top-level fields a filter requires to equal one of some scalars: `"f": v`, `"f": {"$eq": v}`
 * or `"f": {"$in": [v…]}` (other conditions beside them only narrow it further). An array in the
 * data matches through an element (subscription-filter.ts), which `guardValues` looks up too.
 */
function toGuards(filter: unknown): Map<string, Scalar[]> {
  const guards = new Map<string, Scalar[]>();
  if (!isObject(filter)) return guards;
  for (const [field, condition] of Object.entries(filter)) {
    if (field.startsWith('$')) continue;
    if (isScalar(condition)) guards.set(field, [condition]);
    else if (isObject(condition) && Object.hasOwn(condition, '$eq') && isScalar(condition.$eq)) {
      guards.set(field, [condition.$eq]);
    } else if (isObject(condition) && Array.isArray(condition.$in) && condition.$in.every(isScalar)) {
      guards.set(field, condition.$in as Scalar[]);
    }
  }
  return guards;
}

/** The scalars at `field` of the event's data that a guard could equal: the value, or its elements. */
function guardValues(event: unknown, field: string): readonly unknown[] {
  if (!isObject(event) || !Object.hasOwn(event, field)) return [];
  const value = event[field];
  return Array.isArray(value) ? value : [value];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isScalar(value: unknown): value is Scalar {
  return (
    value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
  );
}

function parseFilter(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function toCompiled(source: unknown): CompiledFilter | null {
  const compiled = compileFilter(source);
  return compiled.ok ? compiled.filter : null;
}
