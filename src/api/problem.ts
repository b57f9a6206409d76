import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { HookmeshError, StoreUnavailableError, type StoreUnavailableReason } from '../core/errors.ts';
import type { Issue } from '../core/issues.ts';

/** An RFC 9457 problem document; `type` names the problem class, stable for clients to branch on. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail?: string;
  readonly issues?: readonly Issue[];
  readonly [extension: string]: unknown;
}

const TITLES: Record<string, string> = {
  'bad-request': 'Bad request',
  'malformed-json': 'Malformed JSON',
  'invalid-event': 'Invalid event',
  unauthorized: 'Unauthorized',
  forbidden: 'Forbidden',
  'not-found': 'Not found',
  conflict: 'Conflict',
  'payload-too-large': 'Payload too large',
  'unsupported-media-type': 'Unsupported media type',
  'unknown-event-type': 'Unknown event type',
  'too-many-requests': 'Too many requests',
  'conversion-failed': 'Conversion failed',
  internal: 'Internal error',
  unavailable: 'Service unavailable',
};

/**
 * Builds a problem+json response. The one place where failures become HTTP.
 * @example return problem(c, 422, 'unknown-event-type', 'No domain event is named OrderShipped');
 */
export function problem(
  c: Context,
  status: ContentfulStatusCode,
  slug: keyof typeof TITLES | (string & {}),
  detail?: string,
  extensions: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Response {
  const body: Problem = {
    type: `urn:hookmesh:problem:${slug}`,
    title: TITLES[slug] ?? slug,
    status,
    ...(detail === undefined ? {} : { detail }),
    ...extensions,
  };
  return c.body(JSON.stringify(body), status, { 'content-type': 'application/problem+json', ...headers });
}

/** Maps an error nobody handled to a problem. Unknown errors say nothing about internals. */
export function problemFromError(c: Context, error: unknown): Response {
  if (error instanceof HookmeshError) {
    switch (error.code) {
      case 'not_found':
        return problem(c, 404, 'not-found', error.message);
      case 'conflict':
        return problem(c, 409, 'conflict', error.message);
      case 'validation':
        return problem(c, 400, 'bad-request', error.message);
      case 'conversion':
        return problem(c, 500, 'conversion-failed', `${error.message}; nothing was written`);
      case 'store': {
        const reason = error instanceof StoreUnavailableError ? error.reason : null;
        return problem(
          c,
          503,
          'unavailable',
          `storage: ${reason === null ? 'database unavailable' : error.message}; nothing was written`,
          reason === null ? {} : { reason },
          { 'retry-after': String(retryAfterSeconds(reason)) },
        );
      }
      default:
        break;
    }
  }
  return problem(c, 500, 'internal', 'an unexpected error occurred; nothing was written');
}

/**
 * When a client should try again: a lock or an overload passes in moments; a full disk or an I/O
 * fault waits for an operator, so clients back off further instead of hammering it.
 */
function retryAfterSeconds(reason: StoreUnavailableReason | null): number {
  switch (reason) {
    case 'full':
    case 'io':
    case 'read_only':
    case 'not_migrated':
      return 5;
    default:
      return 1;
  }
}
