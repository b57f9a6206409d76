import type { Issue } from '../core/issues.ts';

/**
 * The answers of the webhook app, in QStash's language: 2xx = delivered, 489 with
 * `Upstash-NonRetryable-Error: true` = never retry, anything else = retry (after `Retry-After`).
 * Built as plain `Response`s because 489 is no status Hono's typed helpers know.
 */

/** How handling one event ended; shared by every copy of the event that waited on the same run. */
export type HandlingOutcome =
  | { readonly kind: 'handled' }
  | { readonly kind: 'duplicate' }
  | { readonly kind: 'failed' }
  | { readonly kind: 'retry_later'; readonly retryAfterSec: number }
  /** Another process holds a live claim and did not finish while this copy waited. */
  | { readonly kind: 'busy'; readonly retryAfterSec: number }
  /** The run in another process ended without success (its claim was released or lapsed). */
  | { readonly kind: 'failed_elsewhere' }
  /** The inbox could not be asked; nothing ran. */
  | { readonly kind: 'unavailable' }
  /**
   * The request's token was presented before and what it first ran for is not handled (it failed,
   * or still runs elsewhere): a replay never runs the handler, and is not acknowledged either.
   */
  | { readonly kind: 'replayed' };

const TITLES = {
  signature: 'Invalid signature',
  'invalid-event': 'Invalid event',
  'payload-too-large': 'Payload too large',
  'too-many-requests': 'Too many requests',
  'unreadable-body': 'Unreadable body',
  replayed: 'Signature already used',
  'handler-failed': 'Handler failed',
  'retry-later': 'Retry later',
  busy: 'Event in progress',
  unavailable: 'Service unavailable',
  'not-found': 'Not found',
} as const;

export type WebhookProblem = keyof typeof TITLES;

/**
 * An RFC 9457 problem document as a response.
 * @example toProblemResponse(401, 'signature', 'subject')
 */
export function toProblemResponse(
  status: number,
  slug: WebhookProblem,
  detail: string,
  extensions: { issues?: readonly Issue[] } = {},
  headers: Record<string, string> = {},
): Response {
  const body = { type: `urn:hookmesh:problem:${slug}`, title: TITLES[slug], status, detail, ...extensions };
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/problem+json', ...headers },
  });
}

/**
 * 489 + `Upstash-NonRetryable-Error: true`: what a valid signature vouches for but this handler
 * can never accept (not JSON, a schema mismatch, a broken envelope) — retrying cannot heal it, so
 * the delivery goes dead at once instead of being retried for days.
 * @example return toNonRetryableResponse('ce-id is missing');
 */
export function toNonRetryableResponse(detail: string, issues?: readonly Issue[]): Response {
  return toProblemResponse(489, 'invalid-event', detail, issues === undefined ? {} : { issues }, {
    'upstash-nonretryable-error': 'true',
  });
}

// The common answers, made once: a `Response` copies (or only reads) its init and never changes it.
const HANDLED_BODY = JSON.stringify({ status: 'handled' });
const DUPLICATE_BODY = JSON.stringify({ status: 'duplicate' });
const OK_INIT: ResponseInit = Object.freeze({
  status: 200,
  headers: Object.freeze({ 'content-type': 'application/json' }),
});

/**
 * The answer for an outcome. Error details stay generic: a handler's error message may carry
 * internals, and the response is stored in the mesh's attempt log; the error goes to `onError`.
 * @example return toOutcomeResponse({ kind: 'handled' });
 */
export function toOutcomeResponse(outcome: HandlingOutcome): Response {
  switch (outcome.kind) {
    case 'handled':
      return new Response(HANDLED_BODY, OK_INIT);
    case 'duplicate':
      return new Response(DUPLICATE_BODY, OK_INIT);
    case 'failed':
      return toProblemResponse(500, 'handler-failed', 'the handler failed; the delivery will be retried');
    case 'retry_later':
      return toProblemResponse(
        503,
        'retry-later',
        'the handler asked to be retried later',
        {},
        { 'retry-after': String(outcome.retryAfterSec) },
      );
    case 'busy':
      return toProblemResponse(
        503,
        'busy',
        'another process is handling this event; retry later',
        {},
        { 'retry-after': String(outcome.retryAfterSec) },
      );
    case 'failed_elsewhere':
      return toProblemResponse(
        503,
        'handler-failed',
        'the run of this event in another process ended without success; the delivery will be retried',
      );
    case 'unavailable':
      return toProblemResponse(503, 'unavailable', 'the inbox is unavailable; nothing ran');
    case 'replayed':
      // 409, not 2xx: were this a network duplicate relayed to the sender, a 2xx would report an
      // event delivered whose run failed. Any non-2xx makes the mesh retry with a fresh signature.
      return toProblemResponse(
        409,
        'replayed',
        'this signed request was presented before (same jti) and its event is not handled; a replay never runs the handler, a retry carries a new signature',
      );
  }
}
