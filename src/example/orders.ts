import * as v from 'valibot';
import {
  defineConverter,
  defineDomainEvent,
  defineIntegrationEvent,
  defineMesh,
  defineSubscription,
  type MeshDefinitions,
} from '../index.ts';

// The example app of DESIGN.md: an order is created, billing charges it and says it was paid.
// It uses hookmesh only through its public entries, as a user's app would.

const Money = v.pipe(v.number(), v.finite(), v.minValue(0));
const Currency = v.pipe(v.string(), v.regex(/^[A-Z]{3}$/, 'currency must be an ISO 4217 code such as EUR'));

export const OrderCreated = defineDomainEvent(
  'OrderCreated',
  v.object({
    order: v.object({
      id: v.pipe(v.string(), v.minLength(1)),
      customerId: v.pipe(v.string(), v.minLength(1)),
      total: Money,
      currency: Currency,
    }),
  }),
);

export const OrderPaid = defineDomainEvent(
  'OrderPaid',
  v.object({
    orderId: v.pipe(v.string(), v.minLength(1)),
    amount: Money,
    paidAt: v.pipe(v.string(), v.isoTimestamp()),
  }),
);

// Per subscription, the events of one order are delivered one at a time, in the order the mesh
// accepted them (DESIGN "Ordering"); different orders go in parallel.
export const OrderCreatedV1 = defineIntegrationEvent(
  'order.created.v1',
  v.object({ orderId: v.string(), customerId: v.string(), total: v.number(), currency: v.string() }),
  { orderingKey: (d) => d.orderId },
);

export const OrderPaidV1 = defineIntegrationEvent(
  'order.paid.v1',
  v.object({ orderId: v.string(), amount: v.number(), paidAt: v.string() }),
  { orderingKey: (d) => d.orderId },
);

export const orderConverters = [
  defineConverter(OrderCreated, OrderCreatedV1, (e) => ({
    orderId: e.data.order.id,
    customerId: e.data.order.customerId,
    total: e.data.order.total,
    currency: e.data.order.currency,
  })),
  defineConverter(OrderPaid, OrderPaidV1, (e) => ({
    orderId: e.data.orderId,
    amount: e.data.amount,
    paidAt: e.data.paidAt,
  })),
];

/**
 * The example mesh: both integration events go to the example handler routes served by the mesh
 * itself (`<publicUrl>/webhooks/<type>`), declared in code and therefore trusted.
 * @example createOrdersMesh('http://127.0.0.1:8787')
 */
export function createOrdersMesh(publicUrl: string): MeshDefinitions {
  const base = publicUrl.replace(/\/+$/, '');
  return {
    converters: orderConverters,
    subscriptions: [
      defineSubscription(OrderCreatedV1, `${base}/webhooks/order.created.v1`, { id: 'example-billing' }),
      defineSubscription(OrderPaidV1, `${base}/webhooks/order.paid.v1`, { id: 'example-notifications' }),
    ],
  };
}

/** The example mesh as `serveMesh` and `createWorker` take it. */
export const ordersMesh = defineMesh(({ publicUrl }) => createOrdersMesh(publicUrl));
