import { type Context, Hono } from 'hono';
import * as v from 'valibot';
import { createConcurrencyLimit } from '../core/concurrency-limit.ts';
import type { IntegrationEvent } from '../core/integration-event.ts';
import { toIssues } from '../core/issues.ts';
import { readLimitedBody } from '../core/limited-body.ts';
import {
  checkQStashBody,
  checkQStashToken,
  type QStashClaims,
  type QStashVerifyCrypto,
  toQStashTokenDeadlineMs,
  webCryptoQStash,
} from '../core/signature.ts';
import { recordHandlerError, type Span, startHandleSpan, traceHandling } from '../tracing/tracing.ts';
import { createClaimKeeper } from './claim-heartbeat.ts';
import { type HandlerContext, type HandlerDefinition, toHandlerContext } from './define-handler.ts';
import type { InboxClaimResult, InboxKey, InboxTokenResult } from './inbox.ts';
import { isRetryLaterSignal } from './retry-later.ts';
import { toWebhookConfig, type WebhookAppOptions, type WebhookErrorContext } from './webhook-options.ts';
import {
  type HandlingOutcome,
  toNonRetryableResponse,
  toOutcomeResponse,
  toProblemResponse,
} from './webhook-response.ts';

/** The mesh's own bound on event ids (DESIGN.md): longer is no id the mesh ever sent. */
const MAX_EVENT_ID_LENGTH = 200;
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * The consuming service's webhook endpoints, as a Hono app on web standards only: every request's
 * token is verified before its body is read (401), the body then streamed within its limit (413,
 * 429 past the cap on bodies read at once) and checked against the token's hash (401), validated
 * against the handler's schema (489 on a mismatch, which no retry heals), refused if its token was
 * presented before (a replay never runs the handler), deduplicated through the inbox by `ce-id`,
 * then handled — the claim extended while the handler runs.
 * Mount it in an existing app with `app.route('/', webhooks)`, or serve it as is.
 * @example
 * const webhooks = createWebhookApp({
 *   handlers: [onOrderCreated],
 *   signingKeys: { current: env.QSTASH_CURRENT_SIGNING_KEY, next: env.QSTASH_NEXT_SIGNING_KEY },
 *   inbox: createLibsqlInbox(client),
 *   publicUrl: 'https://billing.example.com',
 * });
 */
export function createWebhookApp(options: WebhookAppOptions): Hono {
  return createWebhookAppWith(webCryptoQStash, options);
}

/**
 * `createWebhookApp` verifying signatures on the given primitives: the SDK's Node entry passes
 * `node:crypto`'s (src/handler/node.ts); the decisions are core's either way.
 * @example const webhooks = createWebhookAppWith(webCryptoQStash, options);
 */
export function createWebhookAppWith(primitives: QStashVerifyCrypto, options: WebhookAppOptions): Hono {
  const config = toWebhookConfig(options);
  const { inbox, clock, leaseMs } = config;
  /**
   * Runs of this process, by handler and event id (the inbox key): a copy that arrives while the
   * first still runs here waits for it and answers as it ended, without asking the inbox (which
   * would only say "running"). One map per handler, keyed by the id alone.
   */
  const runsByHandler = new Map<HandlerDefinition, Map<string, Promise<HandlingOutcome>>>();
  const runsOf = (handler: HandlerDefinition) => {
    let runs = runsByHandler.get(handler);
    if (runs === undefined) {
      runs = new Map();
      runsByHandler.set(handler, runs);
    }
    return runs;
  };
  const keeper = createClaimKeeper({
    inbox,
    clock,
    leaseMs,
    intervalMs: config.heartbeatMs,
    repeat: config.repeat,
  });
  /** Bodies being read before their hash is checked: each holds up to `maxBodyBytes` of memory. */
  const bodyReads = createConcurrencyLimit(config.maxConcurrentBodyReads);

  const report = (error: unknown, ctx: WebhookErrorContext) => {
    try {
      options.onError?.(error, ctx);
    } catch {
      // A failing logger must not turn a decided answer into a crash.
    }
  };

  const runHandler = async (
    handler: HandlerDefinition,
    event: IntegrationEvent,
    ctx: HandlerContext,
    key: InboxKey,
    claimedAt: number,
    span: Span,
  ): Promise<HandlingOutcome> => {
    let stopKeeping: (() => Promise<void>) | undefined;
    try {
      const running = handler.handle(event, ctx);
      // A handler that returned without a promise is done: no time passed in which a lease could
      // need extending. One still running has its claim kept alive until it settles.
      if (isThenable(running)) {
        stopKeeping = keeper.keep({
          key,
          claimedAt,
          onError: (error) => report(error, where('inbox', key, ctx)),
        });
        await running;
      }
    } catch (error) {
      await stopKeeping?.();
      const retryLater = isRetryLaterSignal(error);
      if (!retryLater) {
        report(error, where('handler', key, ctx));
        recordHandlerError(span, error);
      }
      try {
        await inbox.release({ ...key, claimedAt });
      } catch (releaseError) {
        // The claim then lapses with its lease and the retry runs after that.
        report(releaseError, where('inbox', key, ctx));
      }
      return retryLater ? { kind: 'retry_later', retryAfterSec: error.retryAfterSec } : { kind: 'failed' };
    }
    if (stopKeeping !== undefined) await stopKeeping();
    try {
      await inbox.complete({ handler: key.handler, eventId: key.eventId, nowMs: clock.now() });
    } catch (error) {
      // The handler's effects happened: the delivery is done, so it is acknowledged. Only a copy
      // arriving after the lease lapses could run it again — the lesser evil next to a retry that
      // certainly would.
      report(error, where('inbox', key, ctx));
    }
    return { kind: 'handled' };
  };

  /** Waits for a claim held by another process to end; never runs the handler itself. */
  const waitForOther = async (key: InboxKey): Promise<HandlingOutcome> => {
    for (let waited = 0; waited < config.busyTimeoutMs; waited += config.busyIntervalMs) {
      await config.sleep(config.busyIntervalMs);
      const claimedAt = clock.now();
      const claim = await inbox.claim({ ...key, nowMs: claimedAt, leaseMs });
      if (claim === 'done') return { kind: 'duplicate' };
      if (claim === 'claimed') {
        // The other run ended without completing. DESIGN.md: a copy that waited on a failed run
        // answers 5xx; the mesh's retry will run the handler. So the claim is handed back at once.
        await inbox.release({ ...key, claimedAt });
        return { kind: 'failed_elsewhere' };
      }
    }
    return { kind: 'busy', retryAfterSec: Math.ceil(leaseMs / 1000) };
  };

  /**
   * A token presented a second time never runs the handler, whatever `ce-id` it now comes with: it
   * is answered for the key it first came with. Handled → 2xx, the truth for a network duplicate.
   * Otherwise → 409, so a duplicate relayed to the sender can never report as delivered an event
   * whose run failed; the mesh's retry comes with a new token. (A duplicate with the same `ce-id`
   * that arrives while the first still runs here never gets this far: it joins that run.)
   */
  const answerReplay = (replay: Extract<InboxTokenResult, { status: 'replay' }>): HandlingOutcome =>
    replay.handled ? { kind: 'duplicate' } : { kind: 'replayed' };

  /** Records the request's token against `key`: the first presentation, or a replay. */
  const recordToken = (key: InboxKey, token: QStashClaims) =>
    inbox.recordToken({
      ...key,
      jti: token.jti,
      expiresAtMs: toQStashTokenDeadlineMs(token.exp, config.clockToleranceSec),
      nowMs: clock.now(),
    });

  const handleOnce = async (
    handler: HandlerDefinition,
    event: IntegrationEvent,
    ctx: HandlerContext,
    token: QStashClaims,
    span: Span,
  ): Promise<HandlingOutcome> => {
    const key: InboxKey = { handler: handler.name, eventId: event.id };
    let claim: InboxClaimResult;
    let claimedAt: number;
    try {
      claimedAt = clock.now();
      if (inbox.recordTokenAndClaim !== undefined) {
        // One write where the inbox can: a durable one commits once for both.
        // Spelled out, not spread: a spread copies through a slower path on every request.
        const admitted = await inbox.recordTokenAndClaim({
          handler: key.handler,
          eventId: key.eventId,
          jti: token.jti,
          expiresAtMs: toQStashTokenDeadlineMs(token.exp, config.clockToleranceSec),
          nowMs: claimedAt,
          leaseMs,
        });
        if (admitted.claim === null) return answerReplay(admitted.token);
        claim = admitted.claim;
      } else {
        const recorded = await recordToken(key, token);
        if (recorded.status === 'replay') return answerReplay(recorded);
        claimedAt = clock.now();
        claim = await inbox.claim({ ...key, nowMs: claimedAt, leaseMs });
      }
      if (claim === 'done') return { kind: 'duplicate' };
      if (claim === 'running') return await waitForOther(key);
    } catch (error) {
      report(error, { phase: 'inbox', handler: key.handler, eventId: key.eventId, messageId: ctx.messageId });
      return { kind: 'unavailable' };
    }
    // Awaited rather than returned: an async function handing on a promise waits extra turns.
    return await runHandler(handler, event, ctx, key, claimedAt, span);
  };

  /**
   * The outcome of one copy of a delivery: it runs the handler (once per token and per
   * (handler, ce-id)), or joins the run of a copy in progress here.
   */
  const handleCopy = async (
    handler: HandlerDefinition,
    event: IntegrationEvent,
    ctx: HandlerContext,
    token: QStashClaims,
    span: Span,
  ): Promise<HandlingOutcome> => {
    const runs = runsOf(handler);
    const running = runs.get(event.id);
    if (running !== undefined) {
      // A copy of a run in progress here joins it and never runs. Its token is recorded all the
      // same: replayed once that run has failed, it must not run the handler either.
      try {
        await recordToken({ handler: handler.name, eventId: event.id }, token);
      } catch (error) {
        report(error, {
          phase: 'inbox',
          handler: handler.name,
          eventId: event.id,
          messageId: ctx.messageId,
        });
      }
      const first = await running;
      return first.kind === 'handled' ? { kind: 'duplicate' } : first;
    }
    const run = handleOnce(handler, event, ctx, token, span);
    runs.set(event.id, run);
    try {
      return await run;
    } finally {
      runs.delete(event.id);
    }
  };

  const app = new Hono();
  app.notFound((c) => toProblemResponse(404, 'not-found', `no webhook route ${c.req.method} ${c.req.path}`));

  for (const handler of options.handlers) {
    const type = handler.event.type;
    const subject = `${config.publicBase}${config.basePath}/${type}`;
    app.post(`${config.basePath}/${type}`, async (c) => {
      // a. What the token says on its own — MAC, algorithm, issuer, subject, times — before a byte of
      // the body is read: a stranger's request costs a header's worth of work.
      // Synchronous on node:crypto: awaited only when the primitives are asynchronous.
      let token = checkQStashToken(primitives, {
        signature: c.req.header('upstash-signature'),
        url: subjectOf(c.req.url, subject),
        keys: options.signingKeys,
        nowMs: clock.now(),
        clockToleranceSec: config.clockToleranceSec,
      });
      if (token instanceof Promise) token = await token;
      if (!token.ok) return toProblemResponse(401, 'signature', token.reason);

      // b. The raw bytes, within the limits, against the token's hash: the signature covers them
      // exactly, not a re-decoded string. Nothing the sender says is read until they match.
      const release = bodyReads.tryAcquire();
      if (release === null) {
        return toProblemResponse(
          429,
          'too-many-requests',
          `more than ${config.maxConcurrentBodyReads} bodies are being read; retry shortly`,
          {},
          { 'retry-after': '1' },
        );
      }
      let body: Uint8Array;
      try {
        const read = await readLimitedBody(c.req.raw, config.maxBodyBytes);
        if (!read.ok) {
          return toProblemResponse(413, 'payload-too-large', `the body exceeds ${config.maxBodyBytes} bytes`);
        }
        let verified = checkQStashBody(primitives, token.claims, read.bytes);
        if (verified instanceof Promise) verified = await verified;
        if (!verified.ok) return toProblemResponse(401, 'signature', verified.reason);
        body = read.bytes;
      } catch {
        // The sender went away mid-body, or sent a broken stream: nobody may be listening any more.
        return toProblemResponse(400, 'unreadable-body', 'the body could not be read to its end');
      } finally {
        release();
      }

      // c. Signed but unacceptable never heals by retrying: 489.
      let json: unknown;
      try {
        json = JSON.parse(decoder.decode(body));
      } catch {
        return toNonRetryableResponse('the body is not valid UTF-8 JSON');
      }
      const parsed = v.safeParse(handler.event.schema, json);
      if (!parsed.success) {
        return toNonRetryableResponse(
          `the body does not match the schema of ${type}`,
          toIssues(parsed.issues, ''),
        );
      }

      // d. The CloudEvents envelope.
      const envelope = readEnvelope(c, type);
      if (typeof envelope === 'string') return toNonRetryableResponse(envelope);
      const ctx = toHandlerContext({
        messageId: c.req.header('upstash-message-id') ?? '',
        retried: toRetried(c.req.header('upstash-retried')),
      });
      const { span, traceparent } = startHandleSpan({
        handler: handler.name,
        event: envelope,
        messageId: ctx.messageId,
        attempt: ctx.attempt,
        traceparent: c.req.header('traceparent'),
      });
      // Spelled out, not spread (a spread copies through a slower path on every request).
      const event: IntegrationEvent =
        traceparent === undefined
          ? {
              id: envelope.id,
              type: envelope.type,
              source: envelope.source,
              time: envelope.time,
              data: parsed.output,
            }
          : {
              id: envelope.id,
              type: envelope.type,
              source: envelope.source,
              time: envelope.time,
              data: parsed.output,
              traceparent,
            };
      // e, f. Once per token (jti) and once per (handler, ce-id), whatever the number of copies.
      return traceHandling(
        span,
        () => handleCopy(handler, event, ctx, token.claims, span),
        toOutcomeResponse,
      );
    });
  }
  return app;
}

/**
 * The URL the token must have been minted for. The query string is the request's own: a
 * subscription URL may carry one, and the mesh signs the subscription URL as a whole.
 */
function subjectOf(requestUrl: string, routeSubject: string): string {
  // Without a `?` there is no query: the URL parser (a sizeable part of a request) is not needed.
  return requestUrl.includes('?') ? `${routeSubject}${new URL(requestUrl).search}` : routeSubject;
}

/** The CloudEvents binary-mode headers, or why they are unusable. */
function readEnvelope(c: Context, routeType: string): Omit<IntegrationEvent, 'data'> | string {
  const specversion = c.req.header('ce-specversion');
  if (specversion !== undefined && specversion !== '1.0') {
    return `ce-specversion ${JSON.stringify(specversion)} is not supported (1.0 only)`;
  }
  const id = c.req.header('ce-id');
  if (id === undefined || id === '') return 'the ce-id header is missing: it is the deduplication key';
  if (id.length > MAX_EVENT_ID_LENGTH) return `ce-id is longer than ${MAX_EVENT_ID_LENGTH} characters`;
  const type = c.req.header('ce-type');
  if (type !== routeType) {
    return `ce-type ${JSON.stringify(type ?? null)} does not match this route's type ${routeType}`;
  }
  const source = c.req.header('ce-source');
  if (source === undefined || source === '') return 'the ce-source header is missing';
  const time = c.req.header('ce-time');
  if (time === undefined || time === '') return 'the ce-time header is missing';
  return { id, type, source, time };
}

/** Where a reported error came from; made only for a report, which most runs never make. */
function where(phase: WebhookErrorContext['phase'], key: InboxKey, ctx: HandlerContext): WebhookErrorContext {
  return { phase, handler: key.handler, eventId: key.eventId, messageId: ctx.messageId };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null | undefined)?.then === 'function';
}

/** `Upstash-Retried` as a count; a missing or garbled header reads as a first attempt. */
function toRetried(header: string | undefined): number {
  return header !== undefined && /^\d{1,9}$/.test(header) ? Number(header) : 0;
}
