import { describe, expectTypeOf, it } from 'vitest';
import {
  createMeshClient,
  type MeshEvent,
  type PublishManyResult,
  type PublishResult,
} from '../../src/client/index.ts';
import { OrderCreated, OrderPaid } from '../../src/example/orders.ts';

const mesh = createMeshClient({ url: 'http://mesh.test', token: 't' });
const data = { order: { id: 'o-1', customerId: 'c-1', total: 1, currency: 'EUR' } };
const paid = { orderId: 'o-1', amount: 1, paidAt: '2026-11-30T12:00:00Z' };

describe('hookmesh/client types', () => {
  it("types publish's data from the definition's schema", () => {
    expectTypeOf(mesh.publish(OrderCreated, data)).resolves.toEqualTypeOf<PublishResult>();
    expectTypeOf<PublishResult['status']>().toEqualTypeOf<200 | 202>();
    expectTypeOf<PublishResult['integrationEvents'][number]>().toEqualTypeOf<{
      readonly id: string;
      readonly type: string;
    }>();

    // @ts-expect-error — OrderPaid's data is not OrderCreated's
    void mesh.publish(OrderCreated, paid);
    // @ts-expect-error — a field of the wrong type
    void mesh.publish(OrderCreated, { order: { ...data.order, total: '1' } });
    // @ts-expect-error — a missing field
    void mesh.publish(OrderCreated, { order: { id: 'o-1' } });
    // @ts-expect-error — occurredAt is a timestamp
    void mesh.publish(OrderCreated, data, { occurredAt: 1 });
  });

  it('types each item of publishMany by its own definition', () => {
    expectTypeOf(
      mesh.publishMany([
        { event: OrderCreated, data },
        { event: OrderPaid, data: paid, id: 'p-1' },
      ]),
    ).resolves.toEqualTypeOf<PublishManyResult>();

    void mesh.publishMany([
      { event: OrderCreated, data },
      // @ts-expect-error — the second item carries OrderCreated's data under OrderPaid
      { event: OrderPaid, data },
    ]);
  });

  it('answers getEvent with the event or null', () => {
    expectTypeOf(mesh.getEvent('x')).resolves.toEqualTypeOf<MeshEvent | null>();
  });
});
