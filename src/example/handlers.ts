import { createMeshClient } from '../client/index.ts';
import { defineHandler } from '../handler/index.ts';
import type { MeshHandlerContext } from '../node.ts';
import { OrderCreatedV1, OrderPaid, OrderPaidV1 } from './orders.ts';

/** Where the example's services say what they did; one JSON line on stdout by default. */
export type ExampleLog = (message: string, fields: Record<string, unknown>) => void;

const printLine: ExampleLog = (message, fields) =>
  console.log(JSON.stringify({ time: new Date().toISOString(), level: 'info', message, ...fields }));

/**
 * The example's consuming services, served by the mesh itself. Billing "charges" a created order
 * and says so by posting an `OrderPaid` domain event back to the mesh — as a handler emits a
 * command. Its id and `paidAt` derive from the delivery (`ce-id`, `ce-time`), so a retried delivery
 * never makes a second OrderPaid: the copy is an idempotent replay. Notifications log
 * `order.paid.v1`.
 * @example await serveMesh({ mesh: ordersMesh, handlers: createExampleHandlers() });
 */
export function createExampleHandlers(log: ExampleLog = printLine) {
  return (context: MeshHandlerContext) => {
    const mesh = createMeshClient({
      url: context.publicUrl,
      token: context.producerToken,
      fetch: context.fetch,
    });

    const billing = defineHandler(
      OrderCreatedV1,
      async (event) => {
        log('billing: charging order', {
          orderId: event.data.orderId,
          total: event.data.total,
          eventId: event.id,
        });
        // A repeated id is answered 200 with the first answer: nothing new happens.
        await mesh.publish(
          OrderPaid,
          { orderId: event.data.orderId, amount: event.data.total, paidAt: event.time },
          // The trace goes on: OrderPaid's ingest hangs under this delivery's handling.
          { id: `paid-${event.id}`, ...(event.traceparent ? { traceparent: event.traceparent } : {}) },
        );
      },
      { name: 'billing' },
    );

    const notifications = defineHandler(
      OrderPaidV1,
      (event) => {
        log('notifications: order paid', {
          orderId: event.data.orderId,
          amount: event.data.amount,
          eventId: event.id,
        });
      },
      { name: 'notifications' },
    );

    return [billing, notifications];
  };
}
