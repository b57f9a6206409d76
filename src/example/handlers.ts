import { defineHandler } from '../handler/define-handler.ts';
import { OrderCreatedV1, OrderPaidV1 } from './orders.ts';

export interface ExampleHandlerDeps {
  /** Where the billing service posts its domain events (the mesh's own URL in the example). */
  readonly meshUrl: string;
  /** The producer token billing posts with. */
  readonly producerToken: string;
  readonly fetch: typeof fetch;
  readonly log: (message: string, fields: Record<string, unknown>) => void;
}

/**
 * The example's consuming services. Billing "charges" a created order and says so by posting an
 * `OrderPaid` domain event back to the mesh — as a handler emits a command. Its id and `paidAt`
 * derive from the delivery (`ce-id`, `ce-time`), so a retried delivery never makes a second
 * OrderPaid: the copy is an idempotent replay. Notifications log `order.paid.v1`.
 * @example const handlers = createExampleHandlers({ meshUrl, producerToken, fetch, log });
 */
export function createExampleHandlers(deps: ExampleHandlerDeps) {
  const billing = defineHandler(
    OrderCreatedV1,
    async (event) => {
      deps.log('billing: charging order', {
        orderId: event.data.orderId,
        total: event.data.total,
        eventId: event.id,
      });
      const res = await deps.fetch(`${deps.meshUrl}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${deps.producerToken}` },
        body: JSON.stringify({
          id: `paid-${event.id}`,
          type: 'OrderPaid',
          data: { orderId: event.data.orderId, amount: event.data.total, paidAt: event.time },
        }),
      });
      await res.body?.cancel();
      // 200 = this OrderPaid was already accepted (a retried delivery): nothing new happened.
      if (res.status !== 202 && res.status !== 200)
        throw new Error(`the mesh answered ${res.status} to OrderPaid`);
    },
    { name: 'billing' },
  );

  const notifications = defineHandler(
    OrderPaidV1,
    (event) => {
      deps.log('notifications: order paid', {
        orderId: event.data.orderId,
        amount: event.data.amount,
        eventId: event.id,
      });
    },
    { name: 'notifications' },
  );

  return [billing, notifications] as const;
}
