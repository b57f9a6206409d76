import * as v from 'valibot';
import { DELIVERY_STATUSES } from '../../core/delivery-state.ts';
import { SubscriptionFilterView } from '../subscription-filter-schema.ts';

// The API's answers as valibot schemas, for the OpenAPI document. The routes build their answers
// with `toEventResponse`, `toSubscriptionResponse`, `toDeliveryResponse`; test/api/openapi.test.ts
// checks real answers against these, so a field added there and not here fails a test. Objects are
// not strict: DESIGN lets the API add fields ("more fields may be added; these names stay").

const Timestamp = v.pipe(v.string(), v.isoTimestamp());
const Count = v.pipe(v.number(), v.integer(), v.minValue(0));
const JsonObject = v.record(v.string(), v.unknown());
const OrderingKey = v.pipe(
  v.nullable(v.string()),
  v.description(
    "The definition's orderingKey of the data, null without one: per subscription, deliveries with one key go one at a time, in acceptance order",
  ),
);

/** An RFC 9457 problem document (`application/problem+json`), as `problem()` writes it. */
export const ProblemSchema = v.object({
  type: v.pipe(
    v.string(),
    v.description('The problem class, stable for clients to branch on: urn:hookmesh:problem:<slug>'),
  ),
  title: v.string(),
  status: v.pipe(v.number(), v.integer(), v.minValue(100), v.maxValue(599)),
  detail: v.optional(v.string()),
  issues: v.optional(
    v.pipe(
      v.array(
        v.object({
          path: v.pipe(v.string(), v.description('A JSON Pointer (RFC 6901) into the request body or query')),
          message: v.string(),
        }),
      ),
      v.description('What is wrong, field by field'),
    ),
  ),
});

/** `POST /v1/events`'s answer for one event. */
export const EventReceiptSchema = v.object({
  id: v.string(),
  integrationEvents: v.array(v.object({ id: v.string(), type: v.string() })),
});

/** `POST /v1/events`'s answer for an array: one receipt per event, in order. */
export const EventReceiptsSchema = v.object({ events: v.array(EventReceiptSchema) });

export const DeliveryStatusSchema = v.picklist(DELIVERY_STATUSES);

const AttemptSchema = v.object({
  number: v.pipe(v.number(), v.integer(), v.minValue(1)),
  at: Timestamp,
  status: v.pipe(v.nullable(Count), v.description('The HTTP status, or null when there was no answer')),
  durationMs: v.pipe(v.number(), v.minValue(0)),
  error: v.pipe(v.nullable(v.string()), v.description('null for a producer: it belongs to the subscriber')),
  responseExcerpt: v.pipe(
    v.nullable(v.string()),
    v.description('null for a producer: it belongs to the subscriber'),
  ),
});

/** `GET /v1/events/{id}`: the event, its integration events, their deliveries and attempts. */
export const EventViewSchema = v.object({
  id: v.string(),
  type: v.string(),
  source: v.pipe(v.string(), v.description("The producer's name, from its token")),
  receivedAt: Timestamp,
  occurredAt: v.nullable(v.string()),
  data: JsonObject,
  metadata: v.nullable(JsonObject),
  integrationEvents: v.array(
    v.object({
      id: v.string(),
      type: v.string(),
      source: v.string(),
      time: v.string(),
      data: JsonObject,
      orderingKey: OrderingKey,
      deliveries: v.array(
        v.object({
          id: v.string(),
          subscriptionId: v.string(),
          url: v.string(),
          status: DeliveryStatusSchema,
          nextAttemptAt: v.nullable(Timestamp),
          attempts: v.array(AttemptSchema),
        }),
      ),
    }),
  ),
});

export const SubscriptionSchema = v.object({
  id: v.string(),
  type: v.string(),
  url: v.string(),
  retries: Count,
  retryDelay: v.nullable(v.string()),
  origin: v.pipe(
    v.picklist(['code', 'api']),
    v.description('code: declared by the operator, changed only in code; api: created here'),
  ),
  maxConcurrency: v.pipe(Count, v.description('Most attempts in flight at once for this subscription')),
  pauseAfter: v.pipe(
    Count,
    v.description('Consecutive failed attempts that pause it with reason `failing`; 0 = never'),
  ),
  paused: v.pipe(v.boolean(), v.description('Paused: its deliveries are held, not attempted')),
  pausedReason: v.nullable(v.picklist(['manual', 'failing'])),
  pausedAt: v.nullable(Timestamp),
  filter: SubscriptionFilterView,
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

export const SubscriptionListSchema = v.object({ subscriptions: v.array(SubscriptionSchema) });

export const DeliverySchema = v.object({
  id: v.string(),
  eventId: v.string(),
  integrationEventId: v.string(),
  type: v.string(),
  subscriptionId: v.string(),
  url: v.string(),
  status: DeliveryStatusSchema,
  attempts: Count,
  generation: v.pipe(Count, v.description('Replays so far')),
  orderingKey: OrderingKey,
  nextAttemptAt: v.nullable(Timestamp),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

export const DeliveryPageSchema = v.object({
  deliveries: v.array(DeliverySchema),
  nextCursor: v.pipe(
    v.nullable(v.string()),
    v.description('Pass as `cursor` for the next page; null on the last'),
  ),
});

export const DeliveryReplaySchema = v.object({ delivery: v.optional(DeliverySchema) });

export const DeliveriesReplaySchema = v.object({ replayed: Count });

export const DeliveriesPurgeSchema = v.object({
  purged: Count,
  more: v.pipe(v.boolean(), v.description('More dead deliveries before `until` are left: call again')),
});

export const HealthSchema = v.object({ status: v.literal('ok') });

export const CallbackOutcomeSchema = v.object({ outcome: v.picklist(['applied', 'duplicate']) });
