import * as v from 'valibot';
import { compileFilter, type SubscriptionFilter } from '../core/subscription-filter.ts';

/** What /openapi.json says about `filter`, on requests and answers alike. */
const FILTER_DOCS = {
  type: 'object',
  description:
    'Deliver only events whose data matches: equality at any path (nest objects for sub-paths), ' +
    'operators $eq $ne $in $nin $gt $gte $lt $lte $exists $and $or $not. An array in the data ' +
    'matches a value equal to it or to one of its elements; comparisons only between numbers or ' +
    'between strings. null = every event of the type.',
  examples: [{ currency: 'EUR', customer: { tier: 'gold' }, total: { $gte: 100 } }],
} as const;

/**
 * A subscription's `filter` in a request: validated by the core's own compiler, each problem an
 * issue at its JSON Pointer under `/filter` (`/filter/total/$gt`).
 */
export const SubscriptionFilterSchema = v.pipe(
  v.unknown(),
  // Before the check and transform: the document describes a request up to its first transform.
  v.metadata(FILTER_DOCS),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const compiled = compileFilter(dataset.value);
    if (compiled.ok) return;
    for (const issue of compiled.issues) {
      const [first, ...rest] = toPathItems(dataset.value, issue.path);
      addIssue({ message: issue.message, ...(first ? { path: [first, ...rest] } : {}) });
    }
  }),
  v.transform((value) => value as SubscriptionFilter),
);

/** `filter` in an answer: the filter as stored, or null. */
export const SubscriptionFilterView = v.nullable(
  v.pipe(v.record(v.string(), v.unknown()), v.metadata(FILTER_DOCS)),
);

/** A JSON Pointer relative to the filter as valibot path items, which `toIssues` turns back. */
function toPathItems(input: unknown, pointer: string): v.IssuePathItem[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((token) => ({
      type: 'unknown' as const,
      origin: 'value' as const,
      input,
      key: token.replaceAll('~1', '/').replaceAll('~0', '~'),
      value: undefined,
    }));
}
