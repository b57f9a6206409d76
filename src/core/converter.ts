import type * as v from 'valibot';
import type { DomainEventDefinition, DomainEventOf } from './domain-event.ts';
import type { IntegrationEventDefinition } from './integration-event.ts';

/** What a converter may return: one payload, several, or nothing (`null` / `[]`). */
export type ConverterResult<TPayload> = TPayload | readonly TPayload[] | null | undefined;

/** A pure function from one domain event to zero or more integration events of one type. */
export interface ConverterDefinition<
  TFrom extends DomainEventDefinition = DomainEventDefinition,
  TTo extends IntegrationEventDefinition = IntegrationEventDefinition,
> {
  readonly kind: 'converter';
  readonly name: string;
  readonly from: TFrom;
  readonly to: TTo;
  readonly convert: (event: DomainEventOf<TFrom>) => ConverterResult<v.InferInput<TTo['schema']>>;
}

/**
 * Declares how a domain event becomes integration events. Several converters may listen to one
 * domain event; the output is validated against `to`'s schema before anything is written.
 * @example defineConverter(OrderCreated, OrderCreatedV1, (e) => ({ orderId: e.data.order.id }))
 */
export function defineConverter<TFrom extends DomainEventDefinition, TTo extends IntegrationEventDefinition>(
  from: TFrom,
  to: TTo,
  convert: (event: DomainEventOf<TFrom>) => ConverterResult<v.InferInput<TTo['schema']>>,
  options: { name?: string } = {},
): ConverterDefinition<TFrom, TTo> {
  return Object.freeze({
    kind: 'converter',
    name: options.name ?? `${from.type}->${to.type}`,
    from,
    to,
    convert,
  });
}
