import type * as v from 'valibot';

/** One reason an input was refused: a JSON Pointer (RFC 6901) into the request body, and why. */
export interface Issue {
  readonly path: string;
  readonly message: string;
}

/**
 * Flattens valibot issues into pointer + message pairs, under `prefix` (e.g. `/0/data`).
 * @example toIssues(result.issues, '/data') // [{ path: '/data/order/total', message: '…' }]
 */
export function toIssues(issues: readonly v.BaseIssue<unknown>[], prefix: string): Issue[] {
  return issues.map((issue) => ({
    path: prefix + (issue.path ?? []).map((item) => `/${escapePointer(String(item.key))}`).join(''),
    message: issue.message,
  }));
}

function escapePointer(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1');
}
