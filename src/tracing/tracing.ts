import {
  type Context,
  context,
  isSpanContextValid,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  type SpanOptions,
  SpanStatusCode,
  TraceFlags,
  trace,
} from '@opentelemetry/api';
import type { AttemptRecord, LeasedDelivery } from '../core/dispatch-queue.ts';

// hookmesh's spans — ingest, deliver, handle (DESIGN "Tracing") — through `@opentelemetry/api`
// only, the one file that imports it. Until the app installs an OpenTelemetry SDK every span is a
// no-op: the hot paths start one (a small object) and skip every attribute while
// `span.isRecording()` is false. The wire carries W3C `traceparent` only, so it is read and
// written here rather than through the app's propagator, which may be B3 or none at all.

export type { Span };

/**
 * The ProxyTracer `getTracer` returns delegates to the SDK's tracer as soon as one is registered,
 * so taking it once is right even when the app installs its SDK after importing hookmesh.
 */
const tracer = trace.getTracer('hookmesh');

/** `version-traceid-parentid-flags`; a later version may append fields after a dash. */
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}(-|$)/;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);

/**
 * A W3C `traceparent` as a remote span context, or null when it is malformed or invalid. Read on
 * every attempt and ingest, so by one regex test and slices (no capture groups, no second pass).
 * @example const parent = fromTraceparent(delivery.traceparent);
 */
export function fromTraceparent(traceparent: string): SpanContext | null {
  if (!TRACEPARENT.test(traceparent)) return null;
  if (traceparent.startsWith('ff') || (traceparent.startsWith('00') && traceparent.length !== 55)) {
    return null;
  }
  const traceId = traceparent.slice(3, 35);
  const spanId = traceparent.slice(36, 52);
  if (traceId === ZERO_TRACE_ID || spanId === ZERO_SPAN_ID) return null;
  return { traceId, spanId, traceFlags: Number.parseInt(traceparent.slice(53, 55), 16), isRemote: true };
}

/** A span context as the `traceparent` header (version 00; only the sampled flag is defined). */
export function toTraceparent(spanContext: SpanContext): string {
  const sampled = (spanContext.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED;
  return `00-${spanContext.traceId}-${spanContext.spanId}-${sampled ? '01' : '00'}`;
}

/**
 * The trace context to hand on after `span`: the span's own when the app's SDK made one (so the
 * next hop is its child), else `received` exactly as it came — with no SDK the mesh forwards the
 * producer's `traceparent` unchanged.
 */
export function toOnwardTraceparent(span: Span, received: string | null): string | null {
  const own = span.spanContext();
  // The no-op span carries its parent's context: same span id, nothing of the mesh's to name.
  if (!isSpanContextValid(own) || (received !== null && received.slice(36, 52) === own.spanId)) {
    return received;
  }
  return toTraceparent(own);
}

/**
 * The `traceparent` of the active span, for a producer that gave none: `hookmesh/client` sends it
 * on, so a publish inside a traced request joins that trace. Undefined without an active span (or
 * without a context manager, which makes spans active).
 * @example headers.set('traceparent', traceparent ?? activeTraceparent());
 */
export function activeTraceparent(): string | undefined {
  const spanContext = trace.getSpanContext(context.active());
  return spanContext !== undefined && isSpanContextValid(spanContext)
    ? toTraceparent(spanContext)
    : undefined;
}

/**
 * The parent of a server span: the active span when the host already traces this request (an
 * HTTP instrumentation's span), else the request's `traceparent`.
 */
function serverParent(remote: SpanContext | null): Context {
  const active = context.active();
  if (remote === null) return active;
  const current = trace.getSpanContext(active);
  if (current !== undefined && isSpanContextValid(current)) return active;
  return trace.setSpanContext(active, remote);
}

// Shared, never-changing options: starting a span allocates nothing more for them.
const INGEST_OPTIONS: SpanOptions = Object.freeze({
  kind: SpanKind.SERVER,
  attributes: Object.freeze({
    'messaging.system': 'hookmesh',
    'messaging.operation.name': 'ingest',
    'http.request.method': 'POST',
    'http.route': '/v1/events',
  }),
});
const DELIVER_OPTIONS: SpanOptions = Object.freeze({
  kind: SpanKind.CLIENT,
  attributes: Object.freeze({
    'messaging.system': 'hookmesh',
    'messaging.operation.name': 'deliver',
    'messaging.operation.type': 'send',
    'http.request.method': 'POST',
  }),
});
const HANDLE_OPTIONS: SpanOptions = Object.freeze({
  kind: SpanKind.SERVER,
  attributes: Object.freeze({
    'messaging.system': 'hookmesh',
    'messaging.operation.name': 'handle',
    'messaging.operation.type': 'process',
    'http.request.method': 'POST',
  }),
});

/**
 * The `ingest` span around one `POST /v1/events`, child of the producer's `traceparent`.
 * @example const span = startIngestSpan(c.req.header('traceparent'));
 */
export function startIngestSpan(traceparent: string | undefined): Span {
  const remote = traceparent === undefined ? null : fromTraceparent(traceparent);
  return tracer.startSpan('ingest', INGEST_OPTIONS, serverParent(remote));
}

/** What the request holds: how many events, of which types (read only for a recording span). */
export function describeIngestBody(span: Span, body: unknown): void {
  if (!span.isRecording()) return;
  const items = Array.isArray(body) ? body : [body];
  const types = new Set<string>();
  for (const item of items) {
    const type = (item as { type?: unknown } | null)?.type;
    if (typeof type === 'string') types.add(type);
  }
  span.setAttribute('messaging.batch.message_count', items.length);
  span.setAttribute('hookmesh.event.types', [...types]);
  if (!Array.isArray(body) && typeof (body as { id?: unknown } | null)?.id === 'string') {
    span.setAttribute('messaging.message.id', (body as { id: string }).id);
  }
}

/** Ends the `ingest` span with the answer's status; a server span is an error only at 5xx. */
export function endIngestSpan(span: Span, status: number, error?: unknown): void {
  if (span.isRecording()) {
    span.setAttribute('http.response.status_code', status);
    if (error !== undefined) recordError(span, error, status >= 500);
    else if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end();
}

/**
 * The `deliver` span of one attempt, child of the stored `traceparent` and of nothing else: the
 * dispatcher's loop may have been woken inside some request's context, which is not the event's.
 * @example const span = startDeliverSpan(delivery);
 */
export function startDeliverSpan(delivery: LeasedDelivery): Span {
  const remote = delivery.traceparent === null ? null : fromTraceparent(delivery.traceparent);
  const parent = remote === null ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, remote);
  const span = tracer.startSpan('deliver', DELIVER_OPTIONS, parent);
  if (span.isRecording()) {
    span.setAttributes({
      'hookmesh.delivery.id': delivery.id,
      'hookmesh.delivery.attempt': delivery.attempts + 1,
      'messaging.destination.subscription.name': delivery.subscriptionId,
      'messaging.message.id': delivery.event.id,
      'cloudevents.event_id': delivery.event.id,
      'cloudevents.event_type': delivery.event.type,
      'cloudevents.event_source': delivery.event.source,
    });
    const host = hostOf(delivery.url);
    if (host !== null) span.setAttribute('server.address', host);
  }
  return span;
}

/**
 * Runs an attempt's send with its `deliver` span active — and nothing else: the dispatcher's loop
 * may run in the context of whichever request woke it. A handler served in the same process, or
 * an HTTP client instrumentation, then nests under the attempt.
 */
export function inDeliverSpan<T>(span: Span, fn: () => T): T {
  return context.with(trace.setSpan(ROOT_CONTEXT, span), fn);
}

/** Ends a `deliver` span with what the attempt got; anything but a 2xx is a failed attempt. */
export function endDeliverSpan(span: Span, record: AttemptRecord): void {
  if (span.isRecording()) {
    span.setAttribute('hookmesh.delivery.outcome', record.next);
    if (record.status !== null) span.setAttribute('http.response.status_code', record.status);
    if (record.error !== null) {
      span.setAttribute('error.type', 'transport');
      span.setStatus({ code: SpanStatusCode.ERROR, message: record.error });
    } else if (record.status !== null && (record.status < 200 || record.status >= 300)) {
      span.setAttribute('error.type', String(record.status));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
  }
  span.end();
}

/** What the webhook app knows of a delivery when its handler is about to run. */
export interface HandleSpanInput {
  readonly handler: string;
  readonly event: { readonly id: string; readonly type: string; readonly source: string };
  readonly messageId: string;
  readonly attempt: number;
  /** The request's `traceparent` header. */
  readonly traceparent: string | undefined;
}

/** A handler run's span, and the trace context its handler is given (`event.traceparent`). */
export interface HandleSpan {
  readonly span: Span;
  /**
   * The run's own span when the app traces, else the request's `traceparent` if well-formed: what
   * the handler hands on (to `publish`, say) continues the trace.
   */
  readonly traceparent: string | undefined;
}

/**
 * The `handle` span around one handler run, child of the delivery's `traceparent`.
 * @example const { span, traceparent } = startHandleSpan({ handler: 'billing', event, messageId, attempt, traceparent: header });
 */
export function startHandleSpan(input: HandleSpanInput): HandleSpan {
  const remote = input.traceparent === undefined ? null : fromTraceparent(input.traceparent);
  const span = tracer.startSpan('handle', HANDLE_OPTIONS, serverParent(remote));
  if (span.isRecording()) {
    span.setAttributes({
      'hookmesh.handler.name': input.handler,
      'hookmesh.delivery.attempt': input.attempt,
      'messaging.message.id': input.event.id,
      'cloudevents.event_id': input.event.id,
      'cloudevents.event_type': input.event.type,
      'cloudevents.event_source': input.event.source,
    });
    if (input.messageId !== '') span.setAttribute('hookmesh.message.id', input.messageId);
  }
  const onward = toOnwardTraceparent(span, remote === null ? null : (input.traceparent ?? null));
  return { span, traceparent: onward ?? undefined };
}

/** Records what a handler threw on its span. */
export function recordHandlerError(span: Span, error: unknown): void {
  if (span.isRecording()) recordError(span, error, true);
}

/**
 * Runs one copy of a delivery with its `handle` span active — so what the handler does (its own
 * spans, a publish through `hookmesh/client`) nests under it when the app has a context manager —
 * and ends the span with the outcome (`handled`, `duplicate`, `failed`, …) and the answer's status.
 * Only a run that failed here is an error: `retry_later` and `busy` are answers.
 * @example return traceHandling(span, () => handleCopy(...), toOutcomeResponse);
 */
export function traceHandling<TOutcome extends { readonly kind: string }>(
  span: Span,
  run: () => Promise<TOutcome>,
  toResponse: (outcome: TOutcome) => Response,
): Promise<Response> {
  let running: Promise<TOutcome>;
  try {
    running = context.with(trace.setSpan(context.active(), span), run);
  } catch (error) {
    return Promise.reject(failHandling(span, error));
  }
  // One promise reaction, not an async function's frame around the run.
  return running.then(
    (outcome) => {
      const response = toResponse(outcome);
      endHandleSpan(span, outcome.kind, response.status);
      return response;
    },
    (error: unknown) => {
      throw failHandling(span, error);
    },
  );
}

/** A run that threw: recorded on its span, which ends with a 500; the error goes on. */
function failHandling(span: Span, error: unknown): unknown {
  recordHandlerError(span, error);
  endHandleSpan(span, 'error', 500);
  return error;
}

function endHandleSpan(span: Span, outcome: string, status: number): void {
  if (span.isRecording()) {
    span.setAttribute('hookmesh.handler.outcome', outcome);
    span.setAttribute('http.response.status_code', status);
    // `failed` and `error` got their status, with the message, from `recordHandlerError`.
    if (outcome === 'unavailable') {
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'inbox unavailable' });
    }
  }
  span.end();
}

function recordError(span: Span, error: unknown, isError: boolean): void {
  if (error instanceof Error) {
    span.recordException(error);
    span.setAttribute('error.type', error.name);
  } else {
    span.setAttribute('error.type', '_OTHER');
  }
  if (isError) {
    span.setStatus({
      code: SpanStatusCode.ERROR,
      ...(error instanceof Error ? { message: error.message } : {}),
    });
  }
}

function hostOf(url: string): string | null {
  try {
    return new URL(url).hostname;
  } catch {
    return null;
  }
}
