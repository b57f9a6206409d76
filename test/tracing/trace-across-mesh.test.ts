import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMeshClient } from '../../src/client/index.ts';
import { OrderCreated, OrderPaid } from '../../src/example/orders.ts';
import { defineHandler } from '../../src/handler/index.ts';
import { createTestMesh } from '../../src/testing/index.ts';
import { toTraceparent } from '../../src/tracing/tracing.ts';
import { createTestMesh as createApiMesh, orderCreated } from '../support/test-mesh.ts';
import { BookLent, BookLentV1, lending, libraryMesh } from '../testing/library.ts';
import { type MeshAndService, startMeshAndService, storedTraceparent } from './mesh-and-service.ts';
import { type InstalledTracing, installTracing, only, parentOf } from './otel.ts';

// DESIGN "Tracing", issue 9: with an OpenTelemetry SDK installed (an in-memory exporter here), one
// trace runs from the producer through the mesh's ingest and each attempt into the handler's run,
// across real HTTP between the producer, the mesh and the consuming service.

const PRODUCER_TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const PRODUCER_SPAN_ID = 'b7ad6b7169203331';
const PRODUCER_TRACEPARENT = `00-${PRODUCER_TRACE_ID}-${PRODUCER_SPAN_ID}-01`;

let tracing: InstalledTracing;
let setup: MeshAndService | undefined;
beforeAll(() => {
  tracing = installTracing();
});
afterEach(async () => {
  await setup?.close();
  setup = undefined;
  tracing.reset();
});
afterAll(() => tracing.uninstall());

describe('tracing across the mesh and a handler service', () => {
  it('ingest → deliver → handle: one trace, parent → child → grandchild, under the producer’s span', async () => {
    let activeInHandler: string | undefined;
    setup = await startMeshAndService(() => {
      activeInHandler = trace.getActiveSpan()?.spanContext().spanId;
    });
    const res = await setup.post(orderCreated('e1'), { traceparent: PRODUCER_TRACEPARENT });
    expect(res.status).toBe(202);
    const { integrationEvents } = (await res.json()) as { integrationEvents: { id: string }[] };
    expect(await setup.dispatcher.runOnce()).toBe(1);

    const spans = await tracing.spans();
    expect(spans.map((s) => s.name).sort()).toEqual(['deliver', 'handle', 'ingest']);
    const ingest = only(spans, 'ingest');
    const deliver = only(spans, 'deliver');
    const handle = only(spans, 'handle');

    for (const span of [ingest, deliver, handle]) {
      expect(span.spanContext().traceId).toBe(PRODUCER_TRACE_ID);
      expect(span.instrumentationScope.name).toBe('hookmesh');
    }
    expect(parentOf(ingest)).toBe(PRODUCER_SPAN_ID);
    expect(parentOf(deliver)).toBe(ingest.spanContext().spanId);
    expect(parentOf(handle)).toBe(deliver.spanContext().spanId);

    expect(ingest.kind).toBe(SpanKind.SERVER);
    expect(ingest.attributes).toEqual({
      'messaging.system': 'hookmesh',
      'messaging.operation.name': 'ingest',
      'http.request.method': 'POST',
      'http.route': '/v1/events',
      'messaging.batch.message_count': 1,
      'hookmesh.event.types': ['OrderCreated'],
      'messaging.message.id': 'e1',
      'http.response.status_code': 202,
    });

    expect(deliver.kind).toBe(SpanKind.CLIENT);
    expect(deliver.status.code).toBe(SpanStatusCode.UNSET);
    expect(deliver.attributes).toMatchObject({
      'messaging.system': 'hookmesh',
      'messaging.operation.name': 'deliver',
      'messaging.operation.type': 'send',
      'hookmesh.delivery.id': expect.any(String),
      'hookmesh.delivery.attempt': 1,
      'hookmesh.delivery.outcome': 'delivered',
      'messaging.destination.subscription.name': 'sub-1',
      'cloudevents.event_id': integrationEvents[0]!.id,
      'cloudevents.event_type': 'order.created.v1',
      'cloudevents.event_source': '/producers/billing',
      'server.address': '127.0.0.1',
      'http.response.status_code': 200,
    });

    expect(handle.kind).toBe(SpanKind.SERVER);
    expect(handle.attributes).toMatchObject({
      'messaging.operation.name': 'handle',
      'messaging.operation.type': 'process',
      'hookmesh.handler.name': 'billing',
      'hookmesh.handler.outcome': 'handled',
      'hookmesh.delivery.attempt': 1,
      'cloudevents.event_id': integrationEvents[0]!.id,
      'cloudevents.event_type': 'order.created.v1',
      'http.response.status_code': 200,
    });

    // What travelled: the mesh stored its ingest span's context and sent each attempt's own; the
    // handler is given its run's, active while it runs.
    expect(await storedTraceparent(setup.mesh, 'e1')).toBe(toTraceparent(ingest.spanContext()));
    expect(setup.received).toHaveLength(1);
    expect(setup.received[0]!.header).toBe(toTraceparent(deliver.spanContext()));
    expect(setup.received[0]!.event.traceparent).toBe(toTraceparent(handle.spanContext()));
    expect(activeInHandler).toBe(handle.spanContext().spanId);
  });

  it('through hookmesh/client inside an active span, and on through a handler’s own publish', async () => {
    setup = await startMeshAndService(async (event, _call, client) => {
      // No traceparent given: the client sends the active span's, the handler run's.
      await client.publish(OrderPaid, { orderId: event.data.orderId, amount: 42.5, paidAt: event.time });
    });
    const producer = trace.getTracer('producer-app');
    const checkout = await producer.startActiveSpan('checkout', async (span) => {
      await setup!.client.publish(
        OrderCreated,
        { order: { id: 'o-1', customerId: 'c-1', total: 42.5, currency: 'EUR' } },
        { id: 'e2' },
      );
      span.end();
      return span.spanContext();
    });
    expect(await setup.dispatcher.runOnce()).toBe(1);

    const spans = await tracing.spans();
    expect(spans.map((s) => s.name).sort()).toEqual(['checkout', 'deliver', 'handle', 'ingest', 'ingest']);
    const [first, second] = spans.filter((s) => s.name === 'ingest').map((s) => s);
    const ingestOf = (type: string) =>
      [first!, second!].find((s) => (s.attributes['hookmesh.event.types'] as string[])[0] === type)!;
    const ingest = ingestOf('OrderCreated');
    const deliver = only(spans, 'deliver');
    const handle = only(spans, 'handle');
    const paid = ingestOf('OrderPaid');

    expect(new Set(spans.map((s) => s.spanContext().traceId))).toEqual(new Set([checkout.traceId]));
    expect(parentOf(ingest)).toBe(checkout.spanId);
    expect(parentOf(deliver)).toBe(ingest.spanContext().spanId);
    expect(parentOf(handle)).toBe(deliver.spanContext().spanId);
    expect(parentOf(paid)).toBe(handle.spanContext().spanId);
    expect(paid.attributes['http.response.status_code']).toBe(202);
  });

  it('gives every attempt its own deliver span, each handler run its own handle span beneath it', async () => {
    setup = await startMeshAndService((_event, call) => {
      if (call === 1) throw new Error('ledger unavailable');
    });
    expect((await setup.post(orderCreated('e3'), { traceparent: PRODUCER_TRACEPARENT })).status).toBe(202);
    expect(await setup.dispatcher.runOnce()).toBe(1);
    // The first retry is due within seconds; the manual clock signs and verifies alike.
    setup.mesh.clock.advance(60 * 60 * 1000);
    expect(await setup.dispatcher.runOnce()).toBe(1);

    const spans = await tracing.spans();
    const ingest = only(spans, 'ingest');
    const delivers = spans.filter((s) => s.name === 'deliver');
    const handles = spans.filter((s) => s.name === 'handle');
    expect(delivers.map((s) => s.attributes['hookmesh.delivery.attempt'])).toEqual([1, 2]);
    expect(delivers.map((s) => s.attributes['http.response.status_code'])).toEqual([500, 200]);
    expect(delivers.map((s) => s.attributes['hookmesh.delivery.outcome'])).toEqual(['retrying', 'delivered']);
    expect(delivers.map((s) => s.status.code)).toEqual([SpanStatusCode.ERROR, SpanStatusCode.UNSET]);
    expect(delivers.map(parentOf)).toEqual([ingest.spanContext().spanId, ingest.spanContext().spanId]);

    expect(handles.map(parentOf)).toEqual(delivers.map((s) => s.spanContext().spanId));
    expect(handles.map((s) => s.attributes['hookmesh.handler.outcome'])).toEqual(['failed', 'handled']);
    expect(handles.map((s) => s.attributes['hookmesh.delivery.attempt'])).toEqual([1, 2]);
    expect(handles[0]!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'ledger unavailable' });
    expect(handles[0]!.events.map((e) => e.name)).toEqual(['exception']);
    expect(new Set(spans.map((s) => s.spanContext().traceId))).toEqual(new Set([PRODUCER_TRACE_ID]));
  });

  it('starts the trace at ingest when the producer sent none', async () => {
    setup = await startMeshAndService();
    expect((await setup.post(orderCreated('e4'))).status).toBe(202);
    expect(await setup.dispatcher.runOnce()).toBe(1);

    const spans = await tracing.spans();
    const ingest = only(spans, 'ingest');
    expect(parentOf(ingest)).toBeUndefined();
    expect(parentOf(only(spans, 'deliver'))).toBe(ingest.spanContext().spanId);
    expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(1);
    expect(await storedTraceparent(setup.mesh, 'e4')).toBe(toTraceparent(ingest.spanContext()));
  });

  it('hangs an attempt under its event’s trace even when the dispatcher runs inside another span', async () => {
    setup = await startMeshAndService();
    expect((await setup.post(orderCreated('e5'), { traceparent: PRODUCER_TRACEPARENT })).status).toBe(202);
    // As when a request's handler nudges the dispatcher: its loop inherits that request's context.
    await trace.getTracer('app').startActiveSpan('unrelated-request', async (span) => {
      expect(await setup!.dispatcher.runOnce()).toBe(1);
      span.end();
    });
    const spans = await tracing.spans();
    const deliver = only(spans, 'deliver');
    expect(parentOf(deliver)).toBe(only(spans, 'ingest').spanContext().spanId);
    expect(deliver.spanContext().traceId).toBe(PRODUCER_TRACE_ID);
    expect(parentOf(only(spans, 'handle'))).toBe(deliver.spanContext().spanId);
  });

  it('records what the store threw on the ingest span, with the status the API answers', async () => {
    const mesh = await createApiMesh({
      wrapEvents: (events) => ({
        ...events,
        appendEvents: () => Promise.reject(new Error('disk full')),
      }),
    });
    try {
      expect((await mesh.post(orderCreated('e6'))).status).toBe(500);
      const ingest = only(await tracing.spans(), 'ingest');
      expect(ingest.attributes).toMatchObject({ 'http.response.status_code': 500, 'error.type': 'Error' });
      expect(ingest.status).toEqual({ code: SpanStatusCode.ERROR, message: 'disk full' });
      expect(ingest.events.map((e) => e.name)).toEqual(['exception']);
    } finally {
      await mesh.dispose();
    }
  });

  it('records a refused request: status on the span, an error only for 5xx', async () => {
    setup = await startMeshAndService();
    expect((await setup.post({ type: 'OrderShipped', data: {} })).status).toBe(422);
    const ingest = only(await tracing.spans(), 'ingest');
    expect(ingest.attributes).toMatchObject({
      'http.response.status_code': 422,
      'hookmesh.event.types': ['OrderShipped'],
    });
    expect(ingest.status.code).toBe(SpanStatusCode.UNSET);
  });
});

describe('hookmesh/client and the active span', () => {
  const sent: (string | null)[] = [];
  const client = createMeshClient({
    url: 'https://mesh.example.com',
    token: 'billing-token-0123456789abcdef',
    fetch: (_url, init) => {
      sent.push(new Headers(init.headers).get('traceparent'));
      return Response.json({ id: 'e', integrationEvents: [] }, { status: 202 });
    },
  });
  const data = { order: { id: 'o-1', customerId: 'c-1', total: 1, currency: 'EUR' } };

  it('sends the active span’s traceparent when given none, and a given one as it is', async () => {
    sent.length = 0;
    const active = await trace.getTracer('producer-app').startActiveSpan('checkout', async (span) => {
      await client.publish(OrderCreated, data);
      await client.publish(OrderCreated, data, { traceparent: PRODUCER_TRACEPARENT });
      span.end();
      return span.spanContext();
    });
    await client.publish(OrderCreated, data);
    expect(sent).toEqual([toTraceparent(active), PRODUCER_TRACEPARENT, null]);
  });
});

describe('hookmesh/testing, all in one process', () => {
  it('chains the same spans when the handler is served in process', async () => {
    tracing.reset();
    let seen: string | undefined;
    const onBookLent = defineHandler(BookLentV1, (event) => {
      seen = event.traceparent;
    });
    const t = await createTestMesh({ mesh: libraryMesh, handlers: [onBookLent] });
    try {
      const root = await trace.getTracer('app').startActiveSpan('lend', async (span) => {
        await t.publish(BookLent, lending('loan-1'), { id: 'lent-1' });
        span.end();
        return span.spanContext();
      });
      await t.deliver();
      const spans = await tracing.spans();
      const ingest = only(spans, 'ingest');
      const deliver = only(spans, 'deliver');
      const handle = only(spans, 'handle');
      expect(parentOf(ingest)).toBe(root.spanId);
      expect(parentOf(deliver)).toBe(ingest.spanContext().spanId);
      expect(parentOf(handle)).toBe(deliver.spanContext().spanId);
      expect(new Set(spans.map((s) => s.spanContext().traceId))).toEqual(new Set([root.traceId]));
      expect(seen).toBe(toTraceparent(handle.spanContext()));
    } finally {
      await t.close();
      tracing.reset();
    }
  });
});
