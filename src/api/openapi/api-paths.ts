import type { GenericSchema } from 'valibot';
import { PROMETHEUS_CONTENT_TYPE } from '../../core/metrics-text.ts';
import type { SubscriptionUrlRules } from '../../core/network-address.ts';
import {
  ListQuerySchema as DeliveriesQuerySchema,
  PurgeQuerySchema,
  ReplayFilterSchema,
} from '../deliveries-routes.ts';
import { EventIdSchema, TRACEPARENT } from '../ingest.ts';
import { CALLBACK_MAX_BODY_BYTES, CallbackBodySchema } from '../qstash-callback-routes.ts';
import { createSubscriptionSchemas } from '../subscriptions-routes.ts';
import type { PathItemObject, SchemaObject, SecurityRequirement } from './openapi-types.ts';
import { schemaRef } from './openapi-types.ts';
import {
  ADMIN_ONLY,
  adminBodyProblems,
  BAD_REQUEST,
  DECLARED_IN_CODE,
  header,
  INTERNAL,
  json,
  pathId,
  problems,
  queryParameters,
  receipts,
  UNAUTHORIZED,
} from './operation-parts.ts';
import type { SchemaConverter } from './schema-converter.ts';

export interface ApiPathsOptions {
  readonly converter: SchemaConverter;
  /** The subscription URL rules the routes were built with: their schemas depend on them. */
  readonly urlRules: SubscriptionUrlRules;
  /** `POST /v1/events`' body limit, in bytes. */
  readonly maxBodyBytes: number;
  /** Whether `POST /v1/qstash/callback` is mounted (the QStash transport runs). */
  readonly qstashCallback: boolean;
}

const PRODUCER: SecurityRequirement[] = [{ producer: [] }];
const ADMIN: SecurityRequirement[] = [{ admin: [] }];
const PRODUCER_OR_ADMIN: SecurityRequirement[] = [{ producer: [] }, { admin: [] }];
const PUBLIC: SecurityRequirement[] = [];

/**
 * Every route of DESIGN's REST table: request schemas converted from the valibot schemas the routes
 * validate with, answers from `response-schemas.ts`, and a problem response for each status the
 * route answers. Request schemas land in `components.schemas` through `schemas`.
 */
export function toApiPaths(
  options: ApiPathsOptions,
  schemas: Record<string, SchemaObject>,
): Record<string, PathItemObject> {
  const { converter } = options;
  const subscriptionSchemas = createSubscriptionSchemas(options.urlRules);
  const input = (name: string, schema: GenericSchema) => {
    schemas[name] = converter.toSchemaObject(schema, 'input', name);
    return schemaRef(name);
  };
  const subscriptionCreate = input('SubscriptionCreate', subscriptionSchemas.CreateSchema);
  const subscriptionPatch = input('SubscriptionPatch', subscriptionSchemas.PatchSchema);
  const replayFilter = input('DeliveryReplayFilter', ReplayFilterSchema);
  const idempotencyKey = converter.toSchemaObject(EventIdSchema, 'input', 'IdempotencyKey');

  const paths: Record<string, PathItemObject> = {
    '/v1/events': {
      post: {
        operationId: 'publishEvents',
        summary: 'Publish one domain event, or an array of them',
        description:
          'Validates, converts and writes the event(s) with their integration events and deliveries ' +
          'atomically. The same id (or Idempotency-Key) again with the same body answers 200 with ' +
          'the same receipt and writes nothing; with another body, 409.',
        tags: ['events'],
        security: PRODUCER,
        parameters: [
          header('Idempotency-Key', 'The id of a single event sent without one', idempotencyKey),
          header('traceparent', 'W3C trace context, stored and forwarded with every delivery', {
            type: 'string',
            pattern: TRACEPARENT.source,
          }),
        ],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: { oneOf: [schemaRef('DomainEvent'), schemaRef('DomainEventBatch')] },
            },
          },
        },
        responses: {
          '200': json('Every event was already accepted: the same receipts, nothing written', receipts()),
          '202': json('Accepted: something new was written', receipts()),
          ...problems({
            400: 'invalid-event (issues point at the fields), malformed-json',
            401: UNAUTHORIZED,
            403: 'forbidden: the admin token is not a producer token',
            409: 'conflict: an id already accepted with a different body',
            413: `payload-too-large: the body exceeds ${options.maxBodyBytes} bytes`,
            415: 'unsupported-media-type: send application/json',
            422: 'unknown-event-type: no domain event has this type',
            429: 'too-many-requests: the mesh is at capacity; retry after Retry-After',
            500: INTERNAL,
            503: 'unavailable: the database cannot write now (`reason`: busy, full, io, read_only, overloaded, unreachable, not_migrated); nothing was written, retry after Retry-After',
          }),
        },
      },
    },
    '/v1/events/{id}': {
      get: {
        operationId: 'getEvent',
        summary: 'Read an event with its integration events, deliveries and attempts',
        description: "A producer reads its own events, without subscribers' error texts and excerpts.",
        tags: ['events'],
        security: PRODUCER_OR_ADMIN,
        parameters: [pathId('The domain event id')],
        responses: {
          '200': json('The event', schemaRef('EventView')),
          ...problems({
            401: UNAUTHORIZED,
            404: "not-found (another producer's event looks missing too)",
            500: INTERNAL,
          }),
        },
      },
    },
    '/v1/deliveries': {
      get: {
        operationId: 'listDeliveries',
        summary: 'List deliveries, filtered, by cursor',
        tags: ['deliveries'],
        security: ADMIN,
        parameters: queryParameters(converter, DeliveriesQuerySchema, 'DeliveriesQuery'),
        responses: {
          '200': json('A page of deliveries, oldest first', schemaRef('DeliveryPage')),
          ...problems({ 400: BAD_REQUEST, 401: UNAUTHORIZED, 403: ADMIN_ONLY, 500: INTERNAL }),
        },
      },
      delete: {
        operationId: 'purgeDeadDeliveries',
        summary: 'Purge dead deliveries accepted before a time',
        description:
          'Deletes dead deliveries (status=dead only) created before `until`, with their attempts, and ' +
          'each event once none of its deliveries remains (its id may then be posted again). At most ' +
          '10,000 per call, oldest first; `more: true` says call again.',
        tags: ['deliveries'],
        security: ADMIN,
        parameters: queryParameters(converter, PurgeQuerySchema, 'DeliveriesPurgeQuery'),
        responses: {
          '200': json('How many dead deliveries went', schemaRef('DeliveriesPurge')),
          ...problems({ 400: BAD_REQUEST, 401: UNAUTHORIZED, 403: ADMIN_ONLY, 500: INTERNAL }),
        },
      },
    },
    '/v1/deliveries/{id}/retry': {
      post: {
        operationId: 'replayDelivery',
        summary: 'Replay a dead delivery',
        description: 'Idempotent: a delivery already due or in flight is left as it is (200).',
        tags: ['deliveries'],
        security: ADMIN,
        parameters: [pathId('The delivery id')],
        responses: {
          '200': json('Nothing to do: the delivery is already due or in flight', schemaRef('DeliveryReplay')),
          '202': json(
            'Replayed: the delivery is pending again, with a fresh retry budget',
            schemaRef('DeliveryReplay'),
          ),
          ...problems({
            401: UNAUTHORIZED,
            403: ADMIN_ONLY,
            404: 'not-found',
            409: 'conflict: the delivery was delivered',
            500: INTERNAL,
          }),
        },
      },
    },
    '/v1/deliveries/retry': {
      post: {
        operationId: 'replayDeliveries',
        summary: 'Replay every dead delivery that matches a filter',
        tags: ['deliveries'],
        security: ADMIN,
        requestBody: { required: true, content: { 'application/json': { schema: replayFilter } } },
        responses: {
          '202': json('How many deliveries moved back to pending', schemaRef('DeliveriesReplay')),
          ...adminBodyProblems(),
        },
      },
    },
    '/v1/subscriptions': {
      get: {
        operationId: 'listSubscriptions',
        summary: 'List subscriptions, those declared in code included',
        tags: ['subscriptions'],
        security: ADMIN,
        parameters: queryParameters(converter, subscriptionSchemas.ListQuerySchema, 'SubscriptionsQuery'),
        responses: {
          '200': json('The subscriptions', schemaRef('SubscriptionList')),
          ...problems({ 400: BAD_REQUEST, 401: UNAUTHORIZED, 403: ADMIN_ONLY, 500: INTERNAL }),
        },
      },
      post: {
        operationId: 'createSubscription',
        summary: 'Create a subscription',
        description:
          'It applies to events accepted after it is created. In production its URL must be https and ' +
          'may not target loopback, private, link-local or metadata addresses (checked again at connect time).',
        tags: ['subscriptions'],
        security: ADMIN,
        requestBody: { required: true, content: { 'application/json': { schema: subscriptionCreate } } },
        responses: {
          '201': {
            ...json('Created', schemaRef('Subscription')),
            headers: { Location: { description: 'The new subscription', schema: { type: 'string' } } },
          },
          ...adminBodyProblems(),
        },
      },
    },
    '/v1/subscriptions/{id}': {
      get: {
        operationId: 'getSubscription',
        summary: 'Read a subscription',
        tags: ['subscriptions'],
        security: ADMIN,
        parameters: [pathId('The subscription id')],
        responses: {
          '200': json('The subscription', schemaRef('Subscription')),
          ...problems({ 401: UNAUTHORIZED, 403: ADMIN_ONLY, 404: 'not-found', 500: INTERNAL }),
        },
      },
      patch: {
        operationId: 'updateSubscription',
        summary: 'Change a subscription created through the API',
        tags: ['subscriptions'],
        security: ADMIN,
        parameters: [pathId('The subscription id')],
        requestBody: { required: true, content: { 'application/json': { schema: subscriptionPatch } } },
        responses: {
          '200': json('The subscription after the change', schemaRef('Subscription')),
          ...adminBodyProblems({ 404: 'not-found', 409: DECLARED_IN_CODE }),
        },
      },
      delete: {
        operationId: 'deleteSubscription',
        summary: 'Delete a subscription created through the API',
        tags: ['subscriptions'],
        security: ADMIN,
        parameters: [pathId('The subscription id')],
        responses: {
          '204': { description: 'Deleted' },
          ...problems({
            401: UNAUTHORIZED,
            403: ADMIN_ONLY,
            404: 'not-found',
            409: DECLARED_IN_CODE,
            500: INTERNAL,
          }),
        },
      },
    },
    '/healthz': {
      get: {
        operationId: 'health',
        summary: 'Liveness: 200 once the database answers and migrations are applied',
        tags: ['operations'],
        security: PUBLIC,
        responses: {
          '200': json('Up', schemaRef('Health')),
          ...problems({
            503: 'unavailable: the database does not answer, its recent writes failed (`storage: database full`, with `reason`), or migrations are pending',
          }),
        },
      },
    },
    '/metrics': {
      get: {
        operationId: 'metrics',
        summary: 'Prometheus metrics (text format 0.0.4)',
        tags: ['operations'],
        security: [{ admin: [] }, { metrics: [] }],
        responses: {
          '200': {
            description: 'Deliveries and subscriptions by state (from the store), counters and histograms',
            content: { [PROMETHEUS_CONTENT_TYPE]: { schema: { type: 'string' } } },
          },
          ...problems({ 401: UNAUTHORIZED, 403: 'forbidden', 500: INTERNAL }),
        },
      },
    },
    '/openapi.json': {
      get: {
        operationId: 'openapi',
        summary: "This document: the mesh's REST API and event catalog",
        tags: ['operations'],
        security: PRODUCER_OR_ADMIN,
        responses: {
          '200': json('An OpenAPI 3.1 document', { type: 'object' }),
          ...problems({ 401: UNAUTHORIZED }),
        },
      },
    },
    '/dashboard': {
      get: {
        operationId: 'dashboard',
        summary: "The operator's pages (server-rendered HTML; sign in with the admin token)",
        tags: ['operations'],
        security: PUBLIC,
        responses: {
          '200': { description: 'An HTML page', content: { 'text/html': { schema: { type: 'string' } } } },
        },
      },
    },
  };

  if (options.qstashCallback) {
    paths['/v1/qstash/callback'] = {
      post: {
        operationId: 'qstashCallback',
        summary: "QStash's callback and failure callback: one attempt's outcome",
        description: 'Called by QStash, signed like a delivery (sub = this URL).',
        tags: ['transport'],
        security: [{ qstashSignature: [] }],
        requestBody: {
          required: true,
          content: { 'application/json': { schema: input('QStashCallback', CallbackBodySchema) } },
        },
        responses: {
          '200': json('Recorded (also for a repeat)', schemaRef('CallbackOutcome')),
          ...problems({
            400: 'malformed-json, bad-request: not a QStash callback body',
            401: 'unauthorized: the Upstash-Signature is not valid',
            404: 'not-found: no delivery has this message yet; QStash retries the callback',
            413: `payload-too-large: the body exceeds ${CALLBACK_MAX_BODY_BYTES} bytes`,
            500: INTERNAL,
          }),
        },
      },
    };
  }
  return paths;
}
