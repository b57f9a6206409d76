import { Hono } from 'hono';
import * as v from 'valibot';
import type { Clock } from '../core/clock.ts';
import type {
  DeliveryAdminStore,
  DeliveryCursor,
  DeliveryFilter,
  DeliverySummary,
} from '../core/delivery-admin-store.ts';
import { DELIVERY_STATUSES } from '../core/delivery-state.ts';
import type { Issue } from '../core/issues.ts';
import {
  bodySizeLimit,
  invalidInput,
  parseInput,
  readJsonBody,
  readQuery,
  TimestampSchema,
  TypePatternSchema,
  toIso,
} from './admin-input.ts';
import { type AuthEnv, type Authenticator, requireAuth } from './auth.ts';
import { problem } from './problem.ts';

export interface DeliveriesRoutesOptions {
  readonly deliveries: DeliveryAdminStore;
  readonly auth: Authenticator;
  readonly clock: Clock;
}

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 500;

const SubscriptionIdSchema = v.pipe(
  v.string(),
  v.minLength(1, 'subscription must not be empty'),
  v.maxLength(200, 'subscription is at most 200 characters'),
);

export const ListQuerySchema = v.strictObject({
  status: v.optional(v.picklist(DELIVERY_STATUSES, `status must be one of ${DELIVERY_STATUSES.join(', ')}`)),
  type: v.optional(TypePatternSchema),
  subscription: v.optional(SubscriptionIdSchema),
  since: v.optional(TimestampSchema),
  until: v.optional(TimestampSchema),
  limit: v.optional(
    v.pipe(
      v.string(),
      v.regex(/^[0-9]{1,4}$/, `limit must be an integer from 1 to ${MAX_PAGE_SIZE}`),
      v.transform(Number),
      v.minValue(1, `limit must be an integer from 1 to ${MAX_PAGE_SIZE}`),
      v.maxValue(MAX_PAGE_SIZE, `limit must be an integer from 1 to ${MAX_PAGE_SIZE}`),
    ),
  ),
  cursor: v.optional(
    v.pipe(
      v.string(),
      v.transform(fromCursor),
      v.object(
        { createdAt: v.number(), id: v.string() },
        'cursor is not one this API gave out: pass nextCursor as it came',
      ),
    ),
  ),
});

/** Status is not a choice: only dead deliveries are replayed. `"dead"` may be said explicitly. */
export const ReplayFilterSchema = v.strictObject({
  status: v.optional(v.literal('dead', 'only dead deliveries are replayed: leave status out or say "dead"')),
  type: v.optional(TypePatternSchema),
  subscription: v.optional(SubscriptionIdSchema),
  since: v.optional(TimestampSchema),
  until: v.optional(TimestampSchema),
});

/** Dead deliveries one `DELETE /v1/deliveries` removes at most; `more: true` says call again. */
export const MAX_PURGE_PER_CALL = 10_000;

/** Only dead deliveries are purged, and only up to a point in time the operator names. */
export const PurgeQuerySchema = v.strictObject({
  status: v.literal('dead', 'only dead deliveries are purged: say status=dead'),
  until: TimestampSchema,
});

/**
 * `/v1/deliveries`, admin only: list with filters and keyset pagination, replay dead deliveries
 * one by one or by filter, and purge dead ones accepted before a time (`DELETE ?status=dead&until=`,
 * at most `MAX_PURGE_PER_CALL` per call). Replays are idempotent: only dead deliveries move.
 */
export function createDeliveriesRoutes(options: DeliveriesRoutesOptions) {
  const { deliveries, clock } = options;

  return new Hono<AuthEnv>()
    .use(requireAuth(options.auth, ['admin']))
    .get('/', async (c) => {
      const query = readQuery(c);
      if (!query.ok) return invalidInput(c, query.issues);
      const parsed = parseInput(c, ListQuerySchema, query.query);
      if (!parsed.ok) return parsed.response;
      const { limit = DEFAULT_PAGE_SIZE, cursor, ...rest } = parsed.value;
      const filter = toFilter(rest);
      if (!filter.ok) return invalidInput(c, filter.issues);
      // One row more than asked says whether another page exists, so the last page says null.
      const rows = await deliveries.listDeliveries({
        ...filter.value,
        limit: limit + 1,
        ...(cursor === undefined ? {} : { after: cursor }),
      });
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return c.json({
        deliveries: page.map(toDeliveryResponse),
        nextCursor: rows.length > limit && last ? toCursor(last) : null,
      });
    })
    .delete('/', async (c) => {
      const query = readQuery(c);
      if (!query.ok) return invalidInput(c, query.issues);
      const parsed = parseInput(c, PurgeQuerySchema, query.query);
      if (!parsed.ok) return parsed.response;
      const result = await deliveries.purgeDeadDeliveries({
        acceptedBefore: parsed.value.until,
        limit: MAX_PURGE_PER_CALL,
      });
      return c.json({ purged: result.purged, more: result.more });
    })
    .post('/retry', bodySizeLimit(), async (c) => {
      const read = await readJsonBody(c);
      if (!read.ok) return read.response;
      const parsed = parseInput(c, ReplayFilterSchema, read.body);
      if (!parsed.ok) return parsed.response;
      const { status: _, ...rest } = parsed.value;
      const filter = toFilter(rest);
      if (!filter.ok) return invalidInput(c, filter.issues);
      const replayed = await deliveries.replayDeliveries({ ...filter.value, status: 'dead' }, clock.now());
      return c.json({ replayed }, 202);
    })
    .post('/:id/retry', async (c) => {
      const id = c.req.param('id');
      const { outcome, delivery } = await deliveries.replayDelivery(id, clock.now());
      switch (outcome) {
        case 'not_found':
          return problem(c, 404, 'not-found', `no delivery ${JSON.stringify(id)}`);
        case 'delivered':
          return problem(
            c,
            409,
            'conflict',
            `delivery ${JSON.stringify(id)} was delivered; there is nothing to replay`,
          );
        case 'replayed':
          return c.json({ delivery: delivery && toDeliveryResponse(delivery) }, 202);
        case 'unchanged':
          return c.json({ delivery: delivery && toDeliveryResponse(delivery) }, 200);
      }
    });
}

function toFilter(input: {
  status?: DeliveryFilter['status'] | undefined;
  type?: string | undefined;
  subscription?: string | undefined;
  since?: number | undefined;
  until?: number | undefined;
}): { ok: true; value: DeliveryFilter } | { ok: false; issues: Issue[] } {
  if (input.since !== undefined && input.until !== undefined && input.since > input.until) {
    return { ok: false, issues: [{ path: '/until', message: 'until must not be before since' }] };
  }
  return {
    ok: true,
    value: {
      ...(input.status === undefined ? {} : { status: input.status }),
      ...(input.type === undefined ? {} : { type: input.type }),
      ...(input.subscription === undefined ? {} : { subscriptionId: input.subscription }),
      ...(input.since === undefined ? {} : { since: input.since }),
      ...(input.until === undefined ? {} : { until: input.until }),
    },
  };
}

/** A delivery as the API answers it; times ISO 8601, no next attempt once it is settled. */
export function toDeliveryResponse(d: DeliverySummary) {
  return {
    id: d.id,
    eventId: d.eventId,
    integrationEventId: d.integrationEventId,
    type: d.type,
    subscriptionId: d.subscriptionId,
    url: d.url,
    status: d.status,
    attempts: d.attempts,
    generation: d.generation,
    orderingKey: d.orderingKey,
    nextAttemptAt: d.status === 'delivered' || d.status === 'dead' ? null : toIso(d.nextAttemptAt),
    createdAt: toIso(d.createdAt),
    updatedAt: toIso(d.updatedAt),
  };
}

/** Opaque to clients: base64url of `[createdAt, id]` of the page's last row. */
export function toCursor(d: DeliveryCursor): string {
  const bytes = new TextEncoder().encode(JSON.stringify([d.createdAt, d.id]));
  return btoa(String.fromCharCode(...bytes))
    .replaceAll('+', '-')
    .replaceAll('/', '_')
    .replace(/=+$/, '');
}

/** A cursor `toCursor` made, or null for anything else. */
export function fromCursor(text: string): DeliveryCursor | null {
  if (!/^[A-Za-z0-9_-]{1,1024}$/.test(text)) return null;
  try {
    const binary = atob(text.replaceAll('-', '+').replaceAll('_', '/'));
    const bytes = Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
    const value: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    if (!Array.isArray(value) || value.length !== 2) return null;
    const [createdAt, id] = value as unknown[];
    if (!Number.isSafeInteger(createdAt) || typeof id !== 'string') return null;
    return { createdAt: createdAt as number, id };
  } catch {
    return null;
  }
}
