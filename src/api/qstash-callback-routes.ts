import { type Context, Hono } from 'hono';
import * as v from 'valibot';
import { type CallbackReport, decideCallbackOutcome, recordCallback } from '../core/callback-outcome.ts';
import type { Clock } from '../core/clock.ts';
import { createConcurrencyLimit } from '../core/concurrency-limit.ts';
import { RESPONSE_EXCERPT_BYTES } from '../core/http-sender.ts';
import { readLimitedBody } from '../core/limited-body.ts';
import { type MeshMetrics, toAttemptOutcomeLabel } from '../core/metrics.ts';
import type { OrderingKeyScope, PublishQueue } from '../core/publish-queue.ts';
import { parseRetryAfter } from '../core/retry-policy.ts';
import { verifyQStashBody, verifyQStashToken } from '../core/signature.ts';
import { problem } from './problem.ts';

export interface QStashCallbackOptions {
  /** `QSTASH_CURRENT_SIGNING_KEY` / `QSTASH_NEXT_SIGNING_KEY`: QStash signs callbacks like deliveries. */
  readonly signingKeys: { readonly current: string; readonly next?: string | undefined };
  /** The exact URL published as `callback` / `failureCallback`: the token's subject must be it. */
  readonly callbackUrl: string;
}

export interface QStashCallbackRoutesOptions extends QStashCallbackOptions {
  /** Where callbacks are recorded. */
  readonly queue: PublishQueue;
  readonly clock: Clock;
  /** Counts each newly recorded attempt by outcome (`hookmesh_attempts_total`). */
  readonly metrics?: MeshMetrics;
  /** Callback bodies read at once before verified (default `CALLBACK_MAX_CONCURRENT_BODY_READS`); 429 past it. */
  readonly maxConcurrentBodyReads?: number;
  /**
   * Publishes the next delivery of a subscription and ordering key (the transport's
   * `publishNext`), called after a callback made that key's head delivered or dead — in the
   * background, so the answer to QStash does not wait: the request's `waitUntil` where the host
   * gives one (Workers), otherwise left to run on its own (Node, Deno). It logs its own failures;
   * what it misses the next sweep publishes. Without it, the next waits for the sweep.
   */
  readonly publishNextOfKey?: (scope: OrderingKeyScope) => Promise<unknown>;
}

/**
 * A callback carries the destination's response and the original message, both base64 (a 1 MB
 * message is 1.4 MB of it), so the limit is well above the event body limit.
 */
export const CALLBACK_MAX_BODY_BYTES = 8 * 1024 * 1024;

/**
 * Callback bodies read at once before their hash is checked: each may hold up to 8 MiB, so past
 * this many the next is answered 429 (QStash retries callbacks) rather than growing memory.
 */
export const CALLBACK_MAX_CONCURRENT_BODY_READS = 16;

const Count = v.pipe(v.number(), v.integer(), v.minValue(0));

/** The fields of QStash's callback body that hookmesh reads; the rest (sourceBody, url, …) is ignored. */
export const CallbackBodySchema = v.object({
  status: Count,
  header: v.optional(v.nullable(v.record(v.string(), v.array(v.string())))),
  body: v.optional(v.nullable(v.string())),
  retried: Count,
  maxRetries: Count,
  sourceMessageId: v.pipe(v.string(), v.minLength(1)),
  dlqId: v.optional(v.nullable(v.string())),
});

type CallbackBody = v.InferOutput<typeof CallbackBodySchema>;

const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * `POST /v1/qstash/callback`: QStash reports each attempt (callback) and a message's final failure
 * (failure callback, recognised by its `dlqId`) to this one URL. Signed like a delivery; the body
 * decides what happens (DESIGN "Transports"). 200 once recorded (also for a repeat), 404 for a
 * message no delivery knows yet — QStash retries the callback, which covers a callback that
 * overtakes the write of its message id.
 * @example app.route('/v1/qstash', createQStashCallbackRoutes({ queue, clock, signingKeys, callbackUrl }));
 */
export function createQStashCallbackRoutes(options: QStashCallbackRoutesOptions) {
  const { queue, clock } = options;

  const bodyReads = createConcurrencyLimit(
    options.maxConcurrentBodyReads ?? CALLBACK_MAX_CONCURRENT_BODY_READS,
  );

  return new Hono().post('/callback', async (c) => {
    const now = clock.now();
    // The token on its own first (MAC, issuer, subject, times): a stranger's request is refused
    // before a byte of its body — up to 8 MiB — is read.
    const token = await verifyQStashToken({
      signature: c.req.header('upstash-signature'),
      url: options.callbackUrl,
      keys: options.signingKeys,
      nowMs: now,
    });
    if (!token.ok) {
      return problem(c, 401, 'unauthorized', `the Upstash-Signature is not valid (${token.reason})`);
    }
    const release = bodyReads.tryAcquire();
    if (release === null) {
      return problem(
        c,
        429,
        'too-many-requests',
        'too many callbacks are being read; retry shortly',
        {},
        {
          'retry-after': '1',
        },
      );
    }
    let raw: Uint8Array;
    try {
      const read = await readLimitedBody(c.req.raw, CALLBACK_MAX_BODY_BYTES);
      if (!read.ok) {
        return problem(c, 413, 'payload-too-large', `the body exceeds ${CALLBACK_MAX_BODY_BYTES} bytes`);
      }
      const verified = await verifyQStashBody(token.claims, read.bytes);
      if (!verified.ok) {
        return problem(c, 401, 'unauthorized', `the Upstash-Signature is not valid (${verified.reason})`);
      }
      raw = read.bytes;
    } catch {
      return problem(c, 400, 'bad-request', 'the callback body could not be read to its end');
    } finally {
      release();
    }

    let json: unknown;
    try {
      json = JSON.parse(decoder.decode(raw));
    } catch {
      return problem(c, 400, 'malformed-json', 'the callback body is not UTF-8 JSON');
    }
    const parsed = v.safeParse(CallbackBodySchema, json);
    if (!parsed.success) {
      const issue = parsed.issues[0];
      const path = issue.path?.map((p) => String(p.key)).join('.') ?? '';
      return problem(c, 400, 'bad-request', `not a QStash callback body: ${path} ${issue.message}`.trim());
    }

    const report = toCallbackReport(parsed.output, now);
    const { outcome, released } = await recordCallback(queue, report);
    if (released !== null && options.publishNextOfKey) {
      inBackground(c, options.publishNextOfKey(released));
    }
    if (outcome === 'applied') {
      // The outcome's state alone (no retry delay needed). QStash reports neither the attempt's
      // duration nor the event's acceptance: the histograms stay the local transport's.
      const next = decideCallbackOutcome(report, null).status;
      options.metrics?.observeAttempt({ outcome: toAttemptOutcomeLabel(next) });
    }
    if (outcome === 'unknown') {
      return problem(
        c,
        404,
        'not-found',
        `no delivery has message ${JSON.stringify(parsed.output.sourceMessageId)}`,
      );
    }
    return c.json({ outcome });
  });
}

/**
 * Keeps `work` running past the answer: through the request's `waitUntil` on a host that has one
 * (a Worker's `ExecutionContext`, which Hono's `c.executionCtx` throws without), on its own
 * elsewhere. A rejection is caught here too, so none goes unhandled.
 */
function inBackground(c: Context, work: Promise<unknown>): void {
  const settled = work.catch(() => {});
  try {
    c.executionCtx.waitUntil(settled);
  } catch {
    // No ExecutionContext (Node, Deno): the process outlives the request, the promise runs on.
  }
}

/**
 * Reads a callback body into the store's report. QStash reports a timeout or a network error as
 * status 0 with no answer, recorded as an attempt without a status.
 */
function toCallbackReport(body: CallbackBody, now: number): CallbackReport {
  const header = (name: string) =>
    Object.entries(body.header ?? {}).find(([key]) => key.toLowerCase() === name)?.[1]?.[0];
  const answered = body.status > 0;
  return {
    messageId: body.sourceMessageId,
    status: answered ? body.status : null,
    retried: body.retried,
    maxRetries: body.maxRetries,
    nonRetryable: header('upstash-nonretryable-error')?.toLowerCase() === 'true',
    failure: typeof body.dlqId === 'string' && body.dlqId !== '',
    at: now,
    error: answered ? null : 'no answer from the destination (timeout or connection error)',
    responseExcerpt: toExcerpt(body.body),
    retryAfterMs: parseRetryAfter(header('retry-after'), now),
  };
}

/** The decoded response body, cut to the excerpt size like a local attempt's; null when empty or not base64. */
function toExcerpt(base64: string | null | undefined): string | null {
  if (!base64) return null;
  let binary: string;
  try {
    // Whole 4-character groups only: enough for the excerpt, without decoding a large body.
    binary = atob(base64.slice(0, Math.ceil(RESPONSE_EXCERPT_BYTES / 3) * 4));
  } catch {
    return null;
  }
  const length = Math.min(binary.length, RESPONSE_EXCERPT_BYTES);
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = binary.charCodeAt(i);
  // `stream: true` on a fresh decoder leaves out a character cut in half, as local attempts do.
  return new TextDecoder().decode(bytes, { stream: true }) || null;
}
