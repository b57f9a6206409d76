import * as v from 'valibot';
import type { ConverterDefinition } from './converter.ts';
import type { DomainEvent, DomainEventDefinition } from './domain-event.ts';
import { ConversionError, DefinitionError } from './errors.ts';
import { matchesPattern } from './event-type.ts';
import { type IntegrationEventDefinition, MAX_ORDERING_KEY_LENGTH } from './integration-event.ts';
import { type Issue, toIssues } from './issues.ts';
import type { Subscription } from './subscription.ts';

/** The app's definitions, as one value every runtime entry imports. */
export interface MeshDefinitions {
  /** Domain events with no converter still need listing to be accepted; converters' sources are added. */
  readonly domainEvents?: readonly DomainEventDefinition[];
  readonly integrationEvents?: readonly IntegrationEventDefinition[];
  // biome-ignore lint/suspicious/noExplicitAny: converters of any pair of events live in one list
  readonly converters?: readonly ConverterDefinition<any, any>[];
  readonly subscriptions?: readonly Subscription[];
}

/** An integration event a converter produced, validated, with its payload serialized once. */
export interface IntegrationEventDraft {
  readonly type: string;
  readonly data: unknown;
  /** The payload's JSON, byte for byte what subscribers receive. */
  readonly json: string;
  /** The definition's `orderingKey` of the data, when it declares one. */
  readonly orderingKey?: string;
}

export type ValidationResult =
  | { readonly ok: true; readonly data: unknown }
  | { readonly ok: false; readonly reason: 'unknown_type' }
  | { readonly ok: false; readonly reason: 'invalid'; readonly issues: Issue[] };

export interface Registry {
  readonly domainEvents: ReadonlyMap<string, DomainEventDefinition>;
  readonly integrationEvents: ReadonlyMap<string, IntegrationEventDefinition>;
  readonly subscriptions: readonly Subscription[];
  /** Checks a domain event's data against its schema; `issuePrefix` roots the issue paths. */
  validate(type: string, data: unknown, issuePrefix?: string): ValidationResult;
  /** Runs every converter listening to the event. Throws `ConversionError`; writes nothing. */
  convert(event: DomainEvent): IntegrationEventDraft[];
  /** Code-declared subscriptions that select an integration event type. */
  subscriptionsFor(type: string): Subscription[];
}

/**
 * Indexes the app's definitions and refuses contradictory ones at start (two schemas for one type).
 * @example const registry = createRegistry({ converters, subscriptions });
 */
export function createRegistry(definitions: MeshDefinitions): Registry {
  const domainEvents = new Map<string, DomainEventDefinition>();
  const integrationEvents = new Map<string, IntegrationEventDefinition>();
  const convertersByType = new Map<string, ConverterDefinition[]>();

  const addDomain = (def: DomainEventDefinition) => {
    const known = domainEvents.get(def.type);
    if (known && known !== def) throw new DefinitionError(`domain event ${def.type} is defined twice`);
    domainEvents.set(def.type, def);
  };
  const addIntegration = (def: IntegrationEventDefinition) => {
    const known = integrationEvents.get(def.type);
    if (known && known !== def) throw new DefinitionError(`integration event ${def.type} is defined twice`);
    integrationEvents.set(def.type, def);
  };

  for (const def of definitions.domainEvents ?? []) addDomain(def);
  for (const def of definitions.integrationEvents ?? []) addIntegration(def);
  for (const converter of definitions.converters ?? []) {
    addDomain(converter.from);
    addIntegration(converter.to);
    const list = convertersByType.get(converter.from.type) ?? [];
    list.push(converter);
    convertersByType.set(converter.from.type, list);
  }
  const subscriptions = [...(definitions.subscriptions ?? [])];
  const ids = new Set<string>();
  for (const sub of subscriptions) {
    if (ids.has(sub.id)) throw new DefinitionError(`subscription ${sub.id} is declared twice`);
    ids.add(sub.id);
  }

  return {
    domainEvents,
    integrationEvents,
    subscriptions,
    validate(type, data, issuePrefix = '/data') {
      const def = domainEvents.get(type);
      if (!def) return { ok: false, reason: 'unknown_type' };
      const result = v.safeParse(def.schema, data);
      if (!result.success)
        return { ok: false, reason: 'invalid', issues: toIssues(result.issues, issuePrefix) };
      return { ok: true, data: result.output };
    },
    convert(event) {
      const drafts: IntegrationEventDraft[] = [];
      const converters = convertersByType.get(event.type);
      if (converters === undefined) return drafts;
      for (const converter of converters) {
        let produced: unknown;
        try {
          // biome-ignore lint/suspicious/noExplicitAny: the registry holds converters of every event type
          produced = converter.convert(event as any);
        } catch (error) {
          throw new ConversionError(converter.name, `converter ${converter.name} threw`, { cause: error });
        }
        const outputs = produced == null ? [] : Array.isArray(produced) ? produced : [produced];
        for (const output of outputs) {
          const result = v.safeParse(converter.to.schema, output);
          if (!result.success) {
            const detail = toIssues(result.issues, '')
              .map((i) => `${i.path || '/'}: ${i.message}`)
              .join('; ');
            throw new ConversionError(
              converter.name,
              `converter ${converter.name} produced an invalid ${converter.to.type}: ${detail}`,
            );
          }
          const json = JSON.stringify(result.output);
          if (
            json === undefined ||
            typeof result.output !== 'object' ||
            result.output === null ||
            Array.isArray(result.output)
          ) {
            throw new ConversionError(
              converter.name,
              `converter ${converter.name} must produce JSON objects`,
            );
          }
          const orderingKey = toOrderingKey(converter, result.output);
          drafts.push(
            orderingKey === null
              ? { type: converter.to.type, data: result.output, json }
              : { type: converter.to.type, data: result.output, json, orderingKey },
          );
        }
      }
      return drafts;
    },
    subscriptionsFor(type) {
      return subscriptions.filter((sub) => matchesPattern(sub.type, type));
    },
  };
}

/**
 * The ordering key of a converted payload, or null when its definition declares none. Like a
 * converter's failures, a key function that throws or gives anything but a non-empty string of at
 * most `MAX_ORDERING_KEY_LENGTH` is a `ConversionError`: the request writes nothing.
 */
function toOrderingKey(converter: ConverterDefinition, data: unknown): string | null {
  const { to } = converter;
  if (to.orderingKey === undefined) return null;
  let key: unknown;
  try {
    key = to.orderingKey(data);
  } catch (error) {
    throw new ConversionError(converter.name, `orderingKey of ${to.type} threw`, { cause: error });
  }
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_ORDERING_KEY_LENGTH) {
    const given = typeof key === 'string' ? `a string of ${key.length} characters` : describeValue(key);
    throw new ConversionError(
      converter.name,
      `orderingKey of ${to.type} must return a string of 1 to ${MAX_ORDERING_KEY_LENGTH} characters, got ${given}`,
    );
  }
  return key;
}

function describeValue(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}
