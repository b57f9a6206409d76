import { type Context, Hono } from 'hono';
import type { EventStore } from '../core/event-store.ts';
import { readLimitedBody } from '../core/limited-body.ts';
import {
  describeIngestBody,
  endIngestSpan,
  type Span,
  startIngestSpan,
  toOnwardTraceparent,
} from '../tracing/tracing.ts';
import { type AuthEnv, type Authenticator, authenticate, type Principal, requireAuth } from './auth.ts';
import { toEventResponse } from './event-response.ts';
import type { IngestService } from './ingest.ts';
import { problem, problemFromError } from './problem.ts';

export interface EventsRoutesOptions {
  readonly ingest: IngestService;
  readonly events: EventStore;
  readonly auth: Authenticator;
  /** Largest accepted body, in bytes (default 256 KiB). */
  readonly maxBodyBytes: number;
  /** Requests allowed inside POST /v1/events at once; past it, 429 (default 256). */
  readonly maxInFlight: number;
}

const JSON_MEDIA = /^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i;
const PRODUCER = ['producer'] as const;
/** A body of unknown length is read as bytes (bounded), then decoded as `Request.text()` would. */
const UTF8 = new TextDecoder();

export function createEventsRoutes(options: EventsRoutesOptions) {
  const { ingest, events, auth } = options;
  let inFlight = 0;
  const tooLarge = (c: Context) =>
    problem(c, 413, 'payload-too-large', `the body exceeds ${options.maxBodyBytes} bytes`);

  /** Parses and ingests an admitted request's body. */
  const accept = async (
    c: Context<AuthEnv>,
    text: string,
    principal: Principal,
    span: Span,
    traceparent: string | undefined,
  ): Promise<Response> => {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (error) {
      return problem(c, 400, 'malformed-json', `the body is not valid JSON: ${(error as Error).message}`);
    }
    describeIngestBody(span, body);
    const result = await ingest.ingest({
      body,
      source: principal.kind === 'producer' ? principal.name : 'admin',
      idempotencyKey: c.req.header('idempotency-key') ?? null,
      // With an OpenTelemetry SDK installed, the ingest span's context: attempts are its children.
      traceparent: toOnwardTraceparent(span, traceparent ?? null),
    });
    switch (result.kind) {
      case 'invalid':
        return problem(c, 400, 'invalid-event', result.detail, { issues: result.issues });
      case 'unknown_type':
        return problem(c, 422, 'unknown-event-type', result.detail, { issues: result.issues });
      case 'accepted': {
        const status = result.created ? 202 : 200;
        const payload = Array.isArray(body) ? { events: result.receipts } : result.receipts[0];
        return c.json(payload, status);
      }
    }
  };

  /** The checks run in one function rather than a chain of middleware: this is the hot path. */
  const admit = async (
    c: Context<AuthEnv>,
    span: Span,
    traceparent: string | undefined,
  ): Promise<Response> => {
    // Shed load before reading bodies: a bounded queue keeps latency bounded for what is admitted.
    if (inFlight >= options.maxInFlight) {
      return problem(
        c,
        429,
        'too-many-requests',
        'the mesh is at capacity; retry shortly',
        {},
        { 'retry-after': '1' },
      );
    }
    inFlight++;
    try {
      const principal = authenticate(c, auth, PRODUCER);
      if (principal instanceof Response) return principal;
      const type = c.req.header('content-type');
      if (!type || !JSON_MEDIA.test(type)) {
        return problem(
          c,
          415,
          'unsupported-media-type',
          'send the event as application/json',
          {},
          { accept: 'application/json' },
        );
      }
      // A declared length is decided from the headers, without touching `c.req.raw.body`: on
      // Node that getter turns the request into a web stream, which cost more than the rest of the
      // request.
      const length = c.req.header('content-length');
      if (length !== undefined && c.req.header('transfer-encoding') === undefined) {
        return Number.parseInt(length, 10) > options.maxBodyBytes
          ? tooLarge(c)
          : await accept(c, await c.req.text(), principal, span, traceparent);
      }
      // A body of unknown length (chunked: what a Worker's caller often sends) is read once, up to
      // the limit — not copied into a new Request and read again, as Hono's `bodyLimit` does.
      const read = await readLimitedBody(c.req.raw, options.maxBodyBytes);
      return read.ok ? await accept(c, UTF8.decode(read.bytes), principal, span, traceparent) : tooLarge(c);
    } finally {
      inFlight--;
    }
  };

  return new Hono<AuthEnv>()
    .post('/', async (c) => {
      const traceparent = c.req.header('traceparent');
      const span = startIngestSpan(traceparent);
      try {
        const response = await admit(c, span, traceparent);
        endIngestSpan(span, response.status);
        return response;
      } catch (error) {
        // The app's error handler answers; the span learns the status it will give.
        endIngestSpan(span, problemFromError(c, error).status, error);
        throw error;
      }
    })
    .get('/:id', requireAuth(auth, ['producer', 'admin']), async (c) => {
      const id = c.req.param('id');
      const event = await events.getEvent(id);
      const principal = c.get('principal');
      // Another producer's event is indistinguishable from a missing one.
      if (!event || (principal.kind === 'producer' && event.source !== principal.name)) {
        return problem(c, 404, 'not-found', `no event ${JSON.stringify(id)}`);
      }
      return c.json(toEventResponse(event, principal.kind));
    });
}
