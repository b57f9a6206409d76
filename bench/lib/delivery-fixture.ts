import type { DeliveryRequest } from '../../src/core/delivery-request.ts';
import { toDeliveryRequest } from '../../src/core/delivery-request.ts';

// What bench:delivery sends and expects, shared by the harness and its helper processes so that
// the raw undici loop, the mesh and wrk all carry requests of the same shape and size.

export const PRODUCER_NAME = 'bench';
export const PRODUCER_TOKEN = 'bench-token-0123456789abcdef-0123456789';
export const ADMIN_TOKEN = 'bench-admin-0123456789abcdef-0123456789';
export const SIGNING_KEY = 'sig_bench_0123456789abcdef0123456789abcdef';
export const PAID_TYPE = 'order.paid.v1';
/** Where the example app's code-declared `order.paid.v1` subscription posts, under its public URL. */
export const EXAMPLE_PAID_PATH = `/webhooks/${PAID_TYPE}`;
const PAID_AT = '2026-11-30T10:00:00.000Z';

/** The mesh's environment, minus role, port and database (DESIGN.md, "Configuration"). */
export function meshEnv(publicUrl: string): Record<string, string> {
  return {
    // Development mode: API-created subscriptions may then use http:// loopback URLs.
    NODE_ENV: 'development',
    HOOKMESH_ALLOW_PRIVATE_NETWORK: 'true',
    HOOKMESH_PRODUCER_TOKENS: `${PRODUCER_NAME}:${PRODUCER_TOKEN}`,
    HOOKMESH_ADMIN_TOKEN: ADMIN_TOKEN,
    QSTASH_CURRENT_SIGNING_KEY: SIGNING_KEY,
    // The example subscriptions live under the public URL: pointing it at the sink makes their
    // deliveries loopback deliveries like ours instead of requests to the mesh's own handlers.
    HOOKMESH_PUBLIC_URL: publicUrl,
  };
}

/** An `OrderPaid` domain event for POST /v1/events; its integration event is ~90 B of JSON. */
export function orderPaidEvent(id: string, n: number) {
  return {
    id,
    type: 'OrderPaid',
    data: { orderId: `o-${String(n).padStart(8, '0')}`, amount: 123.45, paidAt: PAID_AT },
  };
}

/** The integration event body the mesh delivers for `orderPaidEvent(_, n)`, byte for byte. */
export function orderPaidBody(n: number): string {
  return JSON.stringify(orderPaidEvent('', n).data);
}

/**
 * A delivery exactly as the local dispatcher builds it (UUIDv7 ce-id, hex delivery id in the
 * message id, a fresh signature): the raw loop sends this, so its requests match the mesh's in size.
 */
export async function sampleDelivery(url: string): Promise<DeliveryRequest> {
  return await toDeliveryRequest({
    url,
    event: {
      id: '0199c0de-1234-7abc-8def-0123456789ab',
      type: PAID_TYPE,
      source: `/producers/${PRODUCER_NAME}`,
      time: new Date().toISOString(),
      data: orderPaidBody(1),
    },
    traceparent: null,
    retried: 0,
    messageId: `msg_${'0123456789abcdef'.repeat(2)}_0`,
    signingKey: SIGNING_KEY,
    nowMs: Date.now(),
  });
}
