import * as v from 'valibot';
import { describe, expectTypeOf, it } from 'vitest';
import { defineConverter } from '../../src/core/converter.ts';
import { type DomainEventOf, defineDomainEvent } from '../../src/core/domain-event.ts';
import { defineIntegrationEvent, type IntegrationEventOf } from '../../src/core/integration-event.ts';
import { OrderCreated, OrderCreatedV1 } from '../../src/example/orders.ts';

describe('types flow from the schemas', () => {
  it('a domain event definition carries its literal type and its data type', () => {
    const Shipped = defineDomainEvent('OrderShipped', v.object({ orderId: v.string(), parcels: v.number() }));
    expectTypeOf(Shipped.type).toEqualTypeOf<'OrderShipped'>();
    expectTypeOf<DomainEventOf<typeof Shipped>['data']>().toEqualTypeOf<{
      orderId: string;
      parcels: number;
    }>();
  });

  it('an integration event definition carries its payload type (the schema output)', () => {
    const V1 = defineIntegrationEvent(
      'order.shipped.v1',
      v.object({
        at: v.pipe(
          v.string(),
          v.transform((s) => new Date(s)),
        ),
      }),
    );
    expectTypeOf<IntegrationEventOf<typeof V1>['data']>().toEqualTypeOf<{ at: Date }>();
    expectTypeOf<IntegrationEventOf<typeof V1>['type']>().toEqualTypeOf<'order.shipped.v1'>();
  });

  it("a converter sees the domain event's data typed and must return the integration payload", () => {
    defineConverter(OrderCreated, OrderCreatedV1, (e) => {
      expectTypeOf(e.data.order.total).toEqualTypeOf<number>();
      expectTypeOf(e.type).toEqualTypeOf<'OrderCreated'>();
      return { orderId: e.data.order.id, customerId: e.data.order.customerId, total: 1, currency: 'EUR' };
    });
    // Nothing, or several, are fine too.
    defineConverter(OrderCreated, OrderCreatedV1, () => null);
    defineConverter(OrderCreated, OrderCreatedV1, () => []);
    // @ts-expect-error — the payload misses fields of order.created.v1
    defineConverter(OrderCreated, OrderCreatedV1, (e) => ({ orderId: e.data.order.id }));
    const wrongType = { orderId: 1, customerId: 'c', total: 1, currency: 'EUR' };
    // @ts-expect-error — a wrong field type
    defineConverter(OrderCreated, OrderCreatedV1, () => wrongType);
  });
});
