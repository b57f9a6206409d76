import type * as v from 'valibot';
import { DefinitionError } from './errors.ts';
import { DOMAIN_TYPE_PATTERN } from './event-type.ts';

/** What a producing service says happened (`OrderCreated`), with the schema its `data` must pass. */
export interface DomainEventDefinition<
  TType extends string = string,
  TSchema extends v.GenericSchema = v.GenericSchema,
> {
  readonly kind: 'domain';
  readonly type: TType;
  readonly schema: TSchema;
}

/** A domain event as accepted by the mesh; `data` is the schema's output. */
export interface DomainEvent<TData = unknown, TType extends string = string> {
  readonly id: string;
  readonly type: TType;
  readonly data: TData;
  /** The producer's name (from its token), e.g. `billing`. */
  readonly source: string;
  readonly occurredAt: string | null;
  readonly receivedAt: string;
  readonly metadata: Readonly<Record<string, unknown>> | null;
}

export type DomainEventOf<TDef> =
  TDef extends DomainEventDefinition<infer TType, infer TSchema>
    ? DomainEvent<v.InferOutput<TSchema>, TType>
    : never;

/**
 * Declares a domain event type and the schema of its data.
 * @example const OrderCreated = defineDomainEvent('OrderCreated', v.object({ orderId: v.string() }));
 */
export function defineDomainEvent<const TType extends string, TSchema extends v.GenericSchema>(
  type: TType,
  schema: TSchema,
): DomainEventDefinition<TType, TSchema> {
  if (!DOMAIN_TYPE_PATTERN.test(type)) {
    throw new DefinitionError(`domain event type ${JSON.stringify(type)} must match ${DOMAIN_TYPE_PATTERN}`);
  }
  return Object.freeze({ kind: 'domain', type, schema });
}
