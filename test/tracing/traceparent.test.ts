import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import {
  activeTraceparent,
  fromTraceparent,
  toOnwardTraceparent,
  toTraceparent,
} from '../../src/tracing/tracing.ts';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const SPAN_ID = 'b7ad6b7169203331';

describe('W3C traceparent', () => {
  it('reads a version-00 header as a remote span context', () => {
    expect(fromTraceparent(`00-${TRACE_ID}-${SPAN_ID}-01`)).toEqual({
      traceId: TRACE_ID,
      spanId: SPAN_ID,
      traceFlags: 1,
      isRemote: true,
    });
    expect(fromTraceparent(`00-${TRACE_ID}-${SPAN_ID}-00`)?.traceFlags).toBe(0);
  });

  it('refuses what W3C calls invalid: version ff, zero ids, upper case, extra fields on 00', () => {
    for (const bad of [
      `ff-${TRACE_ID}-${SPAN_ID}-01`,
      `00-${'0'.repeat(32)}-${SPAN_ID}-01`,
      `00-${TRACE_ID}-${'0'.repeat(16)}-01`,
      `00-${TRACE_ID.toUpperCase()}-${SPAN_ID}-01`,
      `00-${TRACE_ID}-${SPAN_ID}-01-extra`,
      `00-${TRACE_ID}-${SPAN_ID}`,
      '',
    ]) {
      expect(fromTraceparent(bad), bad).toBeNull();
    }
  });

  it('reads a later version, which may carry more fields', () => {
    expect(fromTraceparent(`01-${TRACE_ID}-${SPAN_ID}-01-future`)?.spanId).toBe(SPAN_ID);
  });

  it('writes version 00 with only the sampled flag', () => {
    expect(toTraceparent({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 0x81 })).toBe(
      `00-${TRACE_ID}-${SPAN_ID}-01`,
    );
    expect(toTraceparent({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 0 })).toBe(
      `00-${TRACE_ID}-${SPAN_ID}-00`,
    );
  });

  it('hands on what it received when no SDK made a span of its own', () => {
    const received = `00-${TRACE_ID}-${SPAN_ID}-01`;
    const parent = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: TRACE_ID,
      spanId: SPAN_ID,
      traceFlags: 1,
      isRemote: true,
    });
    const noop = trace.getTracer('hookmesh').startSpan('x', {}, parent);
    expect(noop.isRecording()).toBe(false);
    expect(toOnwardTraceparent(noop, received)).toBe(received);
    expect(toOnwardTraceparent(trace.getTracer('hookmesh').startSpan('y'), null)).toBeNull();
    expect(activeTraceparent()).toBeUndefined();
  });
});
