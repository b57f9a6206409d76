import * as v from 'valibot';
import { describe, expectTypeOf, it } from 'vitest';
import { defineIntegrationEvent } from '../../src/core/integration-event.ts';
import {
  createMemoryInbox,
  createWebhookApp,
  defineHandler,
  type HandlerContext,
  type HandlerDefinition,
} from '../../src/handler/index.ts';

const ShippedV1 = defineIntegrationEvent(
  'order.shipped.v1',
  v.object({
    orderId: v.string(),
    parcels: v.number(),
    at: v.pipe(
      v.string(),
      v.transform((s) => new Date(s)),
    ),
  }),
);

describe('a handler sees its event typed by the definition', () => {
  it('event.data is the schema output (transforms included), event.type the literal type', () => {
    defineHandler(ShippedV1, (event, ctx) => {
      expectTypeOf(event.data).toEqualTypeOf<{ orderId: string; parcels: number; at: Date }>();
      expectTypeOf(event.type).toEqualTypeOf<'order.shipped.v1'>();
      expectTypeOf(event.id).toEqualTypeOf<string>();
      expectTypeOf(ctx).toEqualTypeOf<HandlerContext>();
      expectTypeOf(ctx.retryLater).returns.toEqualTypeOf<never>();
    });
  });

  it('a wrong field is a compile error', () => {
    defineHandler(ShippedV1, (event) => {
      // @ts-expect-error — no such field in the schema
      void event.data.total;
    });
  });

  it('retryLater takes seconds or ms, nothing else', () => {
    defineHandler(ShippedV1, (_event, ctx) => {
      if (Math.random() > 2) ctx.retryLater({ seconds: 5 });
      if (Math.random() > 2) ctx.retryLater({ ms: 1500 });
      // @ts-expect-error — a bare number says nothing about its unit
      if (Math.random() > 2) ctx.retryLater(5);
    });
  });

  it('the definition keeps its event type, and typed handlers fit the app', () => {
    const h = defineHandler(ShippedV1, async () => {});
    expectTypeOf(h).toEqualTypeOf<HandlerDefinition<typeof ShippedV1>>();
    expectTypeOf(h.event.type).toEqualTypeOf<'order.shipped.v1'>();
    const Other = defineIntegrationEvent('order.other.v1', v.object({ n: v.number() }));
    createWebhookApp({
      handlers: [h, defineHandler(Other, (e) => void e.data.n)],
      signingKeys: { current: 'k' },
      inbox: createMemoryInbox(),
      publicUrl: 'https://shipping.example.com',
    });
    // publicUrl is required: tokens are checked against it, never against the request's Host.
    // @ts-expect-error — missing publicUrl
    expectTypeOf(createWebhookApp).toBeCallableWith({
      handlers: [h],
      signingKeys: { current: 'k' },
      inbox: createMemoryInbox(),
    });
  });
});
