import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import * as v from 'valibot';
import { isSubscriptionPattern } from '../core/event-type.ts';
import { type Issue, toIssues } from '../core/issues.ts';
import { problem } from './problem.ts';

// What the admin routes (subscriptions, deliveries) share in reading their input.

/** Admin bodies are a few fields; anything larger is a mistake. */
export const ADMIN_MAX_BODY_BYTES = 64 * 1024;

const JSON_MEDIA = /^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i;

/** An integration event type or `prefix.*`, as subscriptions and delivery filters take it. */
export const TypePatternSchema = v.pipe(
  v.string(),
  v.check(
    isSubscriptionPattern,
    'type must be an integration event type (order.created.v1) or a prefix.* pattern (order.*)',
  ),
);

/** An RFC 3339 timestamp (`2026-11-30T12:00:00Z`, `…+01:00`), read as epoch milliseconds. */
export const TimestampSchema = v.pipe(
  v.string(),
  // What parseTimestamp reads, for the OpenAPI document; no effect on validation.
  v.metadata({ format: 'date-time' }),
  v.transform(parseTimestamp),
  v.number('expected an RFC 3339 timestamp such as 2026-11-30T12:00:00Z'),
);

export const bodySizeLimit = (): MiddlewareHandler =>
  bodyLimit({
    maxSize: ADMIN_MAX_BODY_BYTES,
    onError: (c) => problem(c, 413, 'payload-too-large', `the body exceeds ${ADMIN_MAX_BODY_BYTES} bytes`),
  });

/** Reads a JSON body: not JSON → 415, malformed → 400, as on `POST /v1/events`. */
export async function readJsonBody(
  c: Context,
): Promise<{ ok: true; body: unknown } | { ok: false; response: Response }> {
  const type = c.req.header('content-type');
  if (!type || !JSON_MEDIA.test(type)) {
    return {
      ok: false,
      response: problem(
        c,
        415,
        'unsupported-media-type',
        'send the body as application/json',
        {},
        { accept: 'application/json' },
      ),
    };
  }
  const text = await c.req.text();
  try {
    return { ok: true, body: JSON.parse(text) };
  } catch (error) {
    return {
      ok: false,
      response: problem(c, 400, 'malformed-json', `the body is not valid JSON: ${(error as Error).message}`),
    };
  }
}

/**
 * Parses a body or query (always a JSON object) against a schema; failures become a 400 whose
 * `issues` point (JSON Pointer) at what is wrong.
 */
export function parseInput<TSchema extends v.GenericSchema>(
  c: Context,
  schema: TSchema,
  input: unknown,
): { ok: true; value: v.InferOutput<TSchema> } | { ok: false; response: Response } {
  // valibot's object schemas take an array for an object with no keys; say what is really wrong.
  if (Array.isArray(input)) {
    return {
      ok: false,
      response: invalidInput(c, [{ path: '', message: 'expected a JSON object, not an array' }]),
    };
  }
  const result = v.safeParse(schema, input);
  if (result.success) return { ok: true, value: result.output };
  return { ok: false, response: invalidInput(c, toIssues(result.issues, '')) };
}

export function invalidInput(c: Context, issues: readonly Issue[]): Response {
  const detail =
    issues.length === 1
      ? `${issues[0]!.path || 'the input'}: ${issues[0]!.message}`
      : 'the input has invalid fields';
  return problem(c, 400, 'bad-request', detail, { issues });
}

/**
 * The query string as one value per name; a name given twice is an issue, not a silent pick.
 * @example readQuery(c) // { ok: true, query: { status: 'dead' } }
 */
export function readQuery(
  c: Context,
): { ok: true; query: Record<string, string> } | { ok: false; issues: Issue[] } {
  const query: Record<string, string> = {};
  const issues: Issue[] = [];
  for (const [name, values] of Object.entries(c.req.queries())) {
    if (values.length > 1) issues.push({ path: `/${name}`, message: `${name} is given more than once` });
    query[name] = values[0]!;
  }
  return issues.length > 0 ? { ok: false, issues } : { ok: true, query };
}

const RFC_3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * Epoch milliseconds of an RFC 3339 timestamp, or null. Stricter than `Date.parse`, which reads
 * many other spellings and rolls `02-31` over into March.
 * @example parseTimestamp('2026-11-30T12:00:00Z') // 1796040000000
 */
export function parseTimestamp(text: string): number | null {
  const match = RFC_3339.exec(text);
  if (!match) return null;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return null;
  const ms = Date.parse(text.toUpperCase());
  return Number.isFinite(ms) ? ms : null;
}

export function toIso(ms: number): string {
  return new Date(ms).toISOString();
}
