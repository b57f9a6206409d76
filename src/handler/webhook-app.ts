import { type Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import * as v from 'valibot';
import type { IntegrationEvent } from '../core/integration-event.ts';
import { toIssues } from '../core/issues.ts';
import { verifyQStashSignature } from '../core/signature.ts';
import { type HandlerContext, type HandlerDefinition, toHandlerContext } from './define-handler.ts';
import type { InboxClaimResult, InboxKey } from './inbox.ts';
import { isRetryLaterSignal } from './retry-later.ts';
import {
  toWebhookConfig,
  type WebhookAppOptions,
  type WebhookConfig,
  type WebhookErrorContext,
} from './webhook-options.ts';
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
 * The consuming service's webhook endpoints, as a Hono app on web standards only: every request is
 * verified (401 before anything is parsed), validated against the handler's schema (489 on a
 * mismatch, which no retry heals), deduplicated through the inbox by `ce-id`, then handled.
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
  const config = toWebhookConfig(options);
  const { inbox, clock, leaseMs } = config;
  /**
   * Runs of this process, by inbox key: a copy that arrives while the first still runs here waits
   * for it and answers as it ended, without asking the inbox (which would only say "running").
   */
  const runs = new Map<string, Promise<HandlingOutcome>>();

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
  ): Promise<HandlingOutcome> => {
    const where = { handler: key.handler, eventId: key.eventId, messageId: ctx.messageId };
    try {
      await handler.handle(event, ctx);
    } catch (error) {
      const retryLater = isRetryLaterSignal(error);
      if (!retryLater) report(error, { phase: 'handler', ...where });
      try {
        await inbox.release({ ...key, claimedAt });
      } catch (releaseError) {
        // The claim then lapses with its lease and the retry runs after that.
        report(releaseError, { phase: 'inbox', ...where });
      }
      return retryLater ? { kind: 'retry_later', retryAfterSec: error.retryAfterSec } : { kind: 'failed' };
    }
    try {
      await inbox.complete({ ...key, nowMs: clock.now() });
    } catch (error) {
      // The handler's effects happened: the delivery is done, so it is acknowledged. Only a copy
      // arriving after the lease lapses could run it again — the lesser evil next to a retry that
      // certainly would.
      report(error, { phase: 'inbox', ...where });
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

  const handleOnce = async (
    handler: HandlerDefinition,
    event: IntegrationEvent,
    ctx: HandlerContext,
  ): Promise<HandlingOutcome> => {
    const key: InboxKey = { handler: handler.name, eventId: event.id };
    let claim: InboxClaimResult;
    const claimedAt = clock.now();
    try {
      claim = await inbox.claim({ ...key, nowMs: claimedAt, leaseMs });
      if (claim === 'done') return { kind: 'duplicate' };
      if (claim === 'running') return await waitForOther(key);
    } catch (error) {
      report(error, { phase: 'inbox', handler: key.handler, eventId: key.eventId, messageId: ctx.messageId });
      return { kind: 'unavailable' };
    }
    return runHandler(handler, event, ctx, key, claimedAt);
  };

  const app = new Hono();
  app.notFound((c) => toProblemResponse(404, 'not-found', `no webhook route ${c.req.method} ${c.req.path}`));
  const tooLarge = () =>
    toProblemResponse(413, 'payload-too-large', `the body exceeds ${config.maxBodyBytes} bytes`);
  const limitStreamedBody = bodyLimit({ maxSize: config.maxBodyBytes, onError: tooLarge });
  app.use(`${config.basePath}/*`, (c, next) => {
    // What `bodyLimit` decides from the headers, without touching `c.req.raw.body`: on Node that
    // getter turns the request into a web stream, a sizeable share of the route's CPU. Only a body
    // of unknown length (chunked) goes through the counting stream. GET and HEAD carry no body.
    const length = c.req.header('content-length');
    if (length !== undefined && c.req.header('transfer-encoding') === undefined) {
      if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
      return Number.parseInt(length, 10) > config.maxBodyBytes ? Promise.resolve(tooLarge()) : next();
    }
    return limitStreamedBody(c, next);
  });

  for (const handler of options.handlers) {
    const type = handler.event.type;
    app.post(`${config.basePath}/${type}`, async (c) => {
      // a. The raw bytes: the signature covers them exactly, not a re-decoded string.
      const body = new Uint8Array(await c.req.arrayBuffer());

      // b. Nothing the sender says is read until the signature holds.
      const verified = await verifyQStashSignature({
        signature: c.req.header('upstash-signature'),
        body,
        url: subjectOf(c, type, config),
        keys: options.signingKeys,
        nowMs: clock.now(),
        clockToleranceSec: config.clockToleranceSec,
      });
      if (!verified.ok) return toProblemResponse(401, 'signature', verified.reason);

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
      const event: IntegrationEvent = { ...envelope, data: parsed.output };
      const ctx = toHandlerContext({
        messageId: c.req.header('upstash-message-id') ?? '',
        retried: toRetried(c.req.header('upstash-retried')),
      });

      // e, f. Once per (handler, ce-id), whatever the number of copies.
      const runKey = JSON.stringify([handler.name, event.id]);
      const running = runs.get(runKey);
      if (running !== undefined) {
        const first = await running;
        return toOutcomeResponse(first.kind === 'handled' ? { kind: 'duplicate' } : first);
      }
      const run = handleOnce(handler, event, ctx);
      runs.set(runKey, run);
      try {
        return toOutcomeResponse(await run);
      } finally {
        runs.delete(runKey);
      }
    });
  }
  return app;
}

/**
 * The URL the token must have been minted for. The query string is the request's own: a
 * subscription URL may carry one, and the mesh signs the subscription URL as a whole.
 */
function subjectOf(c: Context, type: string, config: WebhookConfig): string {
  if (config.publicBase === null) return c.req.url;
  return `${config.publicBase}${config.basePath}/${type}${new URL(c.req.url).search}`;
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

/** `Upstash-Retried` as a count; a missing or garbled header reads as a first attempt. */
function toRetried(header: string | undefined): number {
  return header !== undefined && /^\d{1,9}$/.test(header) ? Number(header) : 0;
}
