import * as v from 'valibot';
import type { Registry } from '../../core/registry.ts';
import { EnvelopeSchema, MAX_EVENTS_PER_REQUEST, TRACEPARENT } from '../ingest.ts';
import { type ParameterObject, type PathItemObject, type SchemaObject, schemaRef } from './openapi-types.ts';
import type { SchemaConverter } from './schema-converter.ts';

/** `components.schemas` names: a domain event's envelope, an integration event's payload. */
export const domainEventSchemaName = (type: string) => `domain.${type}`;
export const integrationEventSchemaName = (type: string) => `integration.${type}`;

/**
 * The app's domain events as `POST /v1/events` takes them: per type, the route's own envelope
 * schema with `type` fixed and `data` the event's schema (what producers send: its input side);
 * `DomainEvent` is their `oneOf`, discriminated by `type`, and `DomainEventBatch` the array form.
 * With no domain events defined, `DomainEvent` is the bare envelope.
 */
export function toDomainEventSchemas(
  registry: Pick<Registry, 'domainEvents'>,
  converter: SchemaConverter,
): Record<string, SchemaObject> {
  const schemas: Record<string, SchemaObject> = {};
  const mapping: Record<string, string> = {};
  for (const [type, definition] of registry.domainEvents) {
    const name = domainEventSchemaName(type);
    // Converted apart, so a `data` schema that cannot be converted at all leaves the envelope whole.
    const envelope = converter.toSchemaObject(
      v.strictObject({ ...EnvelopeSchema.entries, type: v.literal(type) }),
      'input',
      name,
    );
    const data = converter.toSchemaObject(definition.schema, 'input', `${name}.data`);
    schemas[name] = { title: type, ...envelope, properties: { ...envelope.properties, data } };
    mapping[type] = schemaRef(name).$ref!;
  }
  const refs = Object.values(mapping).map(($ref) => ({ $ref }));
  schemas.DomainEvent =
    refs.length === 0
      ? converter.toSchemaObject(EnvelopeSchema, 'input', 'DomainEvent')
      : {
          description: "One of the app's domain events, chosen by `type`",
          oneOf: refs,
          discriminator: { propertyName: 'type', mapping },
        };
  schemas.DomainEventBatch = {
    description: `Up to ${MAX_EVENTS_PER_REQUEST} domain events, accepted all or nothing; each carries its own id`,
    type: 'array',
    items: schemaRef('DomainEvent'),
    minItems: 1,
    maxItems: MAX_EVENTS_PER_REQUEST,
  };
  return schemas;
}

/** The app's integration events' payloads, as subscribers receive them (the schemas' output side). */
export function toIntegrationEventSchemas(
  registry: Pick<Registry, 'integrationEvents'>,
  converter: SchemaConverter,
): Record<string, SchemaObject> {
  const schemas: Record<string, SchemaObject> = {};
  for (const [type, definition] of registry.integrationEvents) {
    const name = integrationEventSchemaName(type);
    schemas[name] = { title: type, ...converter.toSchemaObject(definition.schema, 'output', name) };
  }
  return schemas;
}

/**
 * One webhook per integration event type: the request every subscription of that type receives
 * (DESIGN "Delivery on the wire"), identical on every transport, and what its answer means.
 */
export function toWebhooks(registry: Pick<Registry, 'integrationEvents'>): Record<string, PathItemObject> {
  const webhooks: Record<string, PathItemObject> = {};
  for (const type of registry.integrationEvents.keys()) {
    webhooks[type] = {
      post: {
        operationId: `deliver.${type}`,
        summary: `Delivers ${type} to a subscription's URL`,
        description:
          'Sent to every subscription of this type (or of a matching `prefix.*`), at least once: the ' +
          'body is the integration event, byte for byte as stored; `ce-id` stays the same across ' +
          "retries and transports and is the handler's deduplication key. Verify `Upstash-Signature` " +
          "(QStash's format: `@upstash/qstash`'s `Receiver` or `hookmesh/handler` do) before trusting it.",
        tags: ['webhooks'],
        parameters: deliveryHeaders(type),
        requestBody: {
          required: true,
          description: `The ${type} payload`,
          content: { 'application/json': { schema: schemaRef(integrationEventSchemaName(type)) } },
        },
        responses: {
          '2XX': {
            description:
              'Delivered. A copy of an event the handler already completed is answered 2xx without running it again.',
          },
          '489': {
            description:
              'Permanent failure (the payload does not fit the handler): the delivery is dead at once.',
            headers: {
              'Upstash-NonRetryable-Error': { required: true, schema: { type: 'string', const: 'true' } },
            },
          },
          default: {
            description:
              'Any other answer, or none within the attempt timeout: retried with backoff (10 retries by ' +
              'default), then dead.',
            headers: {
              'Retry-After': {
                description: 'Seconds or an HTTP date: sets the next delay (capped at 1 day)',
                schema: { type: 'string' },
              },
            },
          },
        },
      },
    };
  }
  return webhooks;
}

function deliveryHeaders(type: string): ParameterObject[] {
  const header = (name: string, description: string, schema: SchemaObject, required = true) =>
    ({ name, in: 'header', required, description, schema }) satisfies ParameterObject;
  return [
    header('ce-specversion', 'CloudEvents binary mode', { type: 'string', const: '1.0' }),
    header('ce-id', "The integration event's id: stable across retries and transports", {
      type: 'string',
      minLength: 1,
    }),
    header('ce-type', 'The integration event type', { type: 'string', const: type }),
    header('ce-source', 'A URI-reference naming the producer, e.g. /producers/billing', {
      type: 'string',
      format: 'uri-reference',
    }),
    header('ce-time', "When it happened (the producer's occurredAt) or was accepted; RFC 3339", {
      type: 'string',
      format: 'date-time',
    }),
    header(
      'traceparent',
      'W3C trace context, when the producer sent one',
      { type: 'string', pattern: TRACEPARENT.source },
      false,
    ),
    header(
      'Upstash-Signature',
      'A JWT (HS256) minted for this attempt: iss "Upstash", sub = this URL, body = base64url(SHA-256(body)), ' +
        'exp = iat + 300; signed with the current signing key, verified with the current then the next',
      { type: 'string', pattern: '^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$' },
    ),
    header('Upstash-Message-Id', "The transport's message id", { type: 'string', minLength: 1 }),
    header('Upstash-Retried', 'Retries made before this attempt: 0 on the first', {
      type: 'integer',
      minimum: 0,
    }),
  ];
}
