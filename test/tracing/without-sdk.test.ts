import { trace } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { orderCreated } from '../support/test-mesh.ts';
import { type MeshAndService, startMeshAndService, storedTraceparent } from './mesh-and-service.ts';
import { installTracing, only, parentOf } from './otel.ts';

// Until the app installs an OpenTelemetry SDK, hookmesh's spans are no-ops: the mesh stores and
// forwards the producer's traceparent exactly as it came (DESIGN "on the wire"), and nothing breaks.

const PRODUCER_TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

let setup: MeshAndService | undefined;
afterEach(async () => {
  await setup?.close();
  setup = undefined;
});

describe('tracing without an OpenTelemetry SDK', () => {
  it('forwards the producer’s traceparent unchanged on every attempt and gives it to the handler', async () => {
    let activeInHandler: unknown = 'unset';
    setup = await startMeshAndService((_event, call) => {
      activeInHandler = trace.getActiveSpan();
      if (call === 1) throw new Error('first attempt fails');
    });
    expect((await setup.post(orderCreated('e1'), { traceparent: PRODUCER_TRACEPARENT })).status).toBe(202);
    expect(await setup.dispatcher.runOnce()).toBe(1);
    setup.mesh.clock.advance(60 * 60 * 1000);
    expect(await setup.dispatcher.runOnce()).toBe(1);

    expect(await storedTraceparent(setup.mesh, 'e1')).toBe(PRODUCER_TRACEPARENT);
    expect(setup.received.map((r) => r.header)).toEqual([PRODUCER_TRACEPARENT, PRODUCER_TRACEPARENT]);
    expect(setup.received.map((r) => r.event.traceparent)).toEqual([
      PRODUCER_TRACEPARENT,
      PRODUCER_TRACEPARENT,
    ]);
    // No SDK, no context manager: the handle span is not even active.
    expect(activeInHandler).toBeUndefined();
    expect(trace.getTracer('hookmesh').startSpan('probe').isRecording()).toBe(false);
  });

  it('sends no traceparent when the producer sent none, and the handler’s event has none', async () => {
    setup = await startMeshAndService();
    expect((await setup.post(orderCreated('e2'))).status).toBe(202);
    expect(await setup.dispatcher.runOnce()).toBe(1);
    expect(await storedTraceparent(setup.mesh, 'e2')).toBeNull();
    expect(setup.received).toHaveLength(1);
    expect(setup.received[0]!.header).toBeNull();
    expect('traceparent' in setup.received[0]!.event).toBe(false);
  });

  it('stores a malformed traceparent not at all and a well-formed one with an invalid id as it came', async () => {
    setup = await startMeshAndService();
    const zeros = `00-${'0'.repeat(32)}-b7ad6b7169203331-01`;
    expect((await setup.post(orderCreated('e3'), { traceparent: 'not-a-traceparent' })).status).toBe(202);
    expect((await setup.post(orderCreated('e4'), { traceparent: zeros })).status).toBe(202);
    expect(await setup.dispatcher.runOnce()).toBe(2);
    expect(await storedTraceparent(setup.mesh, 'e3')).toBeNull();
    expect(await storedTraceparent(setup.mesh, 'e4')).toBe(zeros);
    // Forwarded as stored, but no handler is handed an id no tracer could use.
    expect(setup.received.map((r) => r.header).sort()).toEqual([null, zeros].sort());
    expect(setup.received.every((r) => r.event.traceparent === undefined)).toBe(true);
  });

  it('picks up an SDK installed later — after hookmesh is loaded — and saw nothing before it', async () => {
    setup = await startMeshAndService();
    expect((await setup.post(orderCreated('before'), { traceparent: PRODUCER_TRACEPARENT })).status).toBe(
      202,
    );
    expect(await setup.dispatcher.runOnce()).toBe(1);

    const tracing = installTracing();
    try {
      expect((await setup.post(orderCreated('after'), { traceparent: PRODUCER_TRACEPARENT })).status).toBe(
        202,
      );
      expect(await setup.dispatcher.runOnce()).toBe(1);
      const spans = await tracing.spans();
      expect(spans.map((s) => s.name).sort()).toEqual(['deliver', 'handle', 'ingest']);
      expect(only(spans, 'ingest').attributes['messaging.message.id']).toBe('after');
      expect(parentOf(only(spans, 'handle'))).toBe(only(spans, 'deliver').spanContext().spanId);
    } finally {
      await tracing.uninstall();
    }
  });
});
