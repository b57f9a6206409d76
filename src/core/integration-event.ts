import type * as v from 'valibot';
import { DefinitionError } from './errors.ts';
import { INTEGRATION_TYPE_PATTERN } from './event-type.ts';

/** A public, versioned contract (`order.created.v1`): a plain JSON object typed by a schema. */
export interface IntegrationEventDefinition<
  TType extends string = string,
  TSchema extends v.GenericSchema = v.GenericSchema,
> {
  readonly kind: 'integration';
  readonly type: TType;
  readonly schema: TSchema;
}

/** An integration event as delivered: the id is stable across retries and transports (`ce-id`). */
export interface IntegrationEvent<TData = unknown, TType extends string = string> {
  readonly id: string;
  readonly type: TType;
  /** URI-reference naming the producer, e.g. `/producers/billing` (`ce-source`). */
  readonly source: string;
  /** RFC 3339 (`ce-time`). */
  readonly time: string;
  readonly data: TData;
  /**
   * W3C trace context to carry on, e.g. to `publish` — the producer's `traceparent` as the mesh
   * forwarded it, or this handler run's own span when the app installs an OpenTelemetry SDK.
   * Absent when the delivery came without one.
   */
  readonly traceparent?: string;
}

export type IntegrationEventOf<TDef> =
  TDef extends IntegrationEventDefinition<infer TType, infer TSchema>
    ? IntegrationEvent<v.InferOutput<TSchema>, TType>
    : never;

/**
 * Declares an integration event type and the schema of its payload.
 * @example const OrderCreatedV1 = defineIntegrationEvent('order.created.v1', v.object({ orderId: v.string() }));
 */
export function defineIntegrationEvent<const TType extends string, TSchema extends v.GenericSchema>(
  type: TType,
  schema: TSchema,
): IntegrationEventDefinition<TType, TSchema> {
  if (!INTEGRATION_TYPE_PATTERN.test(type)) {
    throw new DefinitionError(
      `integration event type ${JSON.stringify(type)} must be lower-case, dot-separated and end in a version (order.created.v1)`,
    );
  }
  return Object.freeze({ kind: 'integration', type, schema });
}
