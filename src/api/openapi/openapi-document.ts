import type { SubscriptionUrlRules } from '../../core/network-address.ts';
import type { Registry } from '../../core/registry.ts';
import { toApiPaths } from './api-paths.ts';
import { toDomainEventSchemas, toIntegrationEventSchemas, toWebhooks } from './event-catalog.ts';
import type { OpenApiDocument, SchemaObject } from './openapi-types.ts';
import {
  CallbackOutcomeSchema,
  DeliveriesPurgeSchema,
  DeliveriesReplaySchema,
  DeliveryPageSchema,
  DeliveryReplaySchema,
  DeliverySchema,
  EventReceiptSchema,
  EventReceiptsSchema,
  EventViewSchema,
  HealthSchema,
  ProblemSchema,
  SubscriptionListSchema,
  SubscriptionSchema,
} from './response-schemas.ts';
import { createSchemaConverter } from './schema-converter.ts';

export interface OpenApiDocumentOptions {
  readonly registry: Pick<Registry, 'domainEvents' | 'integrationEvents'>;
  /** The rules the subscription routes check URLs with. */
  readonly urlRules: SubscriptionUrlRules;
  /** `POST /v1/events`' body limit, in bytes. */
  readonly maxBodyBytes: number;
  /** Whether `POST /v1/qstash/callback` is mounted. */
  readonly qstashCallback: boolean;
}

const ANSWERS = {
  Problem: ProblemSchema,
  EventReceipt: EventReceiptSchema,
  EventReceipts: EventReceiptsSchema,
  EventView: EventViewSchema,
  Subscription: SubscriptionSchema,
  SubscriptionList: SubscriptionListSchema,
  Delivery: DeliverySchema,
  DeliveryPage: DeliveryPageSchema,
  DeliveryReplay: DeliveryReplaySchema,
  DeliveriesReplay: DeliveriesReplaySchema,
  DeliveriesPurge: DeliveriesPurgeSchema,
  Health: HealthSchema,
  CallbackOutcome: CallbackOutcomeSchema,
};

/**
 * The mesh's OpenAPI 3.1 document, its event catalog: the REST API (from the valibot schemas the
 * routes validate with), the app's domain events as `POST /v1/events`' body, and each integration
 * event under `webhooks` as subscribers receive it. Pure: the same options give the same document.
 * @example const doc = createOpenApiDocument({ registry, urlRules, maxBodyBytes: 256 * 1024, qstashCallback: false });
 */
export function createOpenApiDocument(options: OpenApiDocumentOptions): OpenApiDocument {
  const converter = createSchemaConverter();
  const schemas: Record<string, SchemaObject> = {};
  for (const [name, schema] of Object.entries(ANSWERS)) {
    schemas[name] = converter.toSchemaObject(schema, 'output', name);
  }
  Object.assign(schemas, toDomainEventSchemas(options.registry, converter));
  Object.assign(schemas, toIntegrationEventSchemas(options.registry, converter));
  const paths = toApiPaths({ ...options, converter }, schemas);
  return {
    openapi: '3.1.0',
    info: {
      title: 'hookmesh',
      version: 'v1',
      description:
        "The mesh's REST API and event catalog. Producers POST the domain events listed under " +
        '`POST /v1/events`; the mesh converts them into the integration events listed under ' +
        '`webhooks` and delivers each, signed, to every matching subscription. Errors are RFC 9457 ' +
        'problem documents (`application/problem+json`).',
    },
    tags: [
      { name: 'events', description: 'Publish domain events and follow them' },
      { name: 'deliveries', description: 'Inspect and replay deliveries (admin)' },
      { name: 'subscriptions', description: 'Manage subscriptions (admin)' },
      { name: 'operations', description: 'Health, metrics, this document, the dashboard' },
      { name: 'transport', description: 'Callbacks from the QStash transport' },
      { name: 'webhooks', description: 'What subscribers receive' },
    ],
    paths,
    webhooks: toWebhooks(options.registry),
    components: {
      // Definitions of recursive (`v.lazy`) parts, named after the schema they belong to.
      schemas: { ...converter.components, ...schemas },
      securitySchemes: {
        producer: {
          type: 'http',
          scheme: 'bearer',
          description: "A producer token (HOOKMESH_PRODUCER_TOKENS); its name becomes the events' source",
        },
        admin: { type: 'http', scheme: 'bearer', description: 'The admin token (HOOKMESH_ADMIN_TOKEN)' },
        metrics: {
          type: 'http',
          scheme: 'bearer',
          description: 'HOOKMESH_METRICS_TOKEN, for GET /metrics only',
        },
        qstashSignature: {
          type: 'apiKey',
          in: 'header',
          name: 'Upstash-Signature',
          description: "QStash's signature (a JWT whose subject is the callback URL)",
        },
      },
    },
  };
}
