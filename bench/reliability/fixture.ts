import { join } from 'node:path';

// Secrets and shapes every scenario of `npm run reliability` shares. Tokens are 32+ characters so
// the same values serve the production-mode runs.

export const PRODUCER_NAME = 'reliability';
export const PRODUCER_TOKEN = 'reliability-producer-0123456789abcdef';
export const ADMIN_TOKEN = 'reliability-admin-token-0123456789abcdef';
export const SIGNING_KEY = 'sig_reliability_0123456789abcdef0123456789';
export const PAID_TYPE = 'order.paid.v1';
export const PAID_AT = '2026-11-30T10:00:00.000Z';

/** An `OrderPaid` domain event for POST /v1/events (its integration event goes to `order.paid.v1`). */
export function orderPaid(id: string) {
  return { id, type: 'OrderPaid', data: { orderId: `o-${id}`, amount: 12.5, paidAt: PAID_AT } };
}

/** An `OrderCreated` domain event (→ `order.created.v1`). */
export function orderCreated(id: string) {
  return {
    id,
    type: 'OrderCreated',
    data: { order: { id: `o-${id}`, customerId: 'c-1', total: 42.5, currency: 'EUR' } },
  };
}

/** The mesh's environment (DESIGN.md "Configuration") for a database in `dir`. */
export function meshEnv(
  dir: string,
  port: number,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    NODE_ENV: 'development',
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: `file:${meshDbPath(dir)}`,
    HOOKMESH_PRODUCER_TOKENS: `${PRODUCER_NAME}:${PRODUCER_TOKEN}`,
    HOOKMESH_ADMIN_TOKEN: ADMIN_TOKEN,
    QSTASH_CURRENT_SIGNING_KEY: SIGNING_KEY,
    HOOKMESH_RETENTION_DAYS: '0',
    ...extra,
  };
}

export const meshDbPath = (dir: string) => join(dir, 'mesh.db');
export const handlerDbPath = (dir: string) => join(dir, 'handler.db');
