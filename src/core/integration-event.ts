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
  /**
   * Names the sequence an event belongs to (an order id, an account): per subscription, deliveries
   * with the same key are attempted one at a time in acceptance order (DESIGN "Ordering"). A
   * method, so a definition of any schema still fits where `IntegrationEventDefinition` is asked.
   */
  orderingKey?(data: v.InferOutput<TSchema>): string;
}

/** What `defineIntegrationEvent` takes besides the type and schema. */
export interface IntegrationEventOptions<TSchema extends v.GenericSchema> {
  /**
   * The event's ordering key, computed from its validated data when it is converted: a non-empty
   * string of at most `MAX_ORDERING_KEY_LENGTH` characters. Per subscription, the deliveries of
   * one key go one at a time in acceptance order, each waiting until the one before is delivered
   * or dead; other keys, and events without a key, are not held back. A throw or another value
   * fails the conversion (500, nothing written).
   */
  readonly orderingKey?: (data: v.InferOutput<TSchema>) => string;
}

/** The longest ordering key, in UTF-16 code units (JavaScript's `length`). */
export const MAX_ORDERING_KEY_LENGTH = 256;

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
 * Declares an integration event type and the schema of its payload; `orderingKey` keeps the
 * deliveries of one key in order.
 * @example const OrderCreatedV1 = defineIntegrationEvent('order.created.v1', v.object({ orderId: v.string() }), { orderingKey: (d) => d.orderId });
 */
export function defineIntegrationEvent<const TType extends string, TSchema extends v.GenericSchema>(
  type: TType,
  schema: TSchema,
  options: IntegrationEventOptions<TSchema> = {},
): IntegrationEventDefinition<TType, TSchema> {
  if (!INTEGRATION_TYPE_PATTERN.test(type)) {
    throw new DefinitionError(
      `integration event type ${JSON.stringify(type)} must be lower-case, dot-separated and end in a version (order.created.v1)`,
    );
  }
  if (options.orderingKey !== undefined && typeof options.orderingKey !== 'function') {
    throw new DefinitionError(`orderingKey of ${type} must be a function of the event's data`);
  }
  return Object.freeze({
    kind: 'integration',
    type,
    schema,
    ...(options.orderingKey ? { orderingKey: options.orderingKey } : {}),
  });
}
