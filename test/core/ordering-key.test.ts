import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { defineConverter } from '../../src/core/converter.ts';
import { defineDomainEvent } from '../../src/core/domain-event.ts';
import { ConversionError, DefinitionError } from '../../src/core/errors.ts';
import { defineIntegrationEvent, MAX_ORDERING_KEY_LENGTH } from '../../src/core/integration-event.ts';
import { createRegistry } from '../../src/core/registry.ts';

const Moved = defineDomainEvent('Moved', v.object({ key: v.unknown() }));

/** A registry whose one converter copies `data.key` into an event keyed by `orderingKey`. */
function registryKeyedBy(orderingKey: (data: { key?: unknown }) => string) {
  const MovedV1 = defineIntegrationEvent('thing.moved.v1', v.object({ key: v.optional(v.unknown()) }), {
    orderingKey,
  });
  return createRegistry({ converters: [defineConverter(Moved, MovedV1, (e) => ({ key: e.data.key }))] });
}

const convert = (registry: ReturnType<typeof createRegistry>, key: unknown) =>
  registry.convert({
    id: 'e1',
    type: 'Moved',
    data: { key },
    source: 'billing',
    occurredAt: null,
    receivedAt: '2026-01-15T09:30:00.000Z',
    metadata: null,
  });

describe('orderingKey', () => {
  it('is computed from the validated data when converting, and absent without one', () => {
    const keyed = registryKeyedBy((d) => `k-${String(d.key)}`);
    expect(convert(keyed, 'a')).toEqual([
      { type: 'thing.moved.v1', data: { key: 'a' }, json: '{"key":"a"}', orderingKey: 'k-a' },
    ]);

    const PlainV1 = defineIntegrationEvent('thing.plain.v1', v.object({ n: v.number() }));
    const plain = createRegistry({ converters: [defineConverter(Moved, PlainV1, () => ({ n: 1 }))] });
    expect(convert(plain, 'a')[0]).not.toHaveProperty('orderingKey');
  });

  it('accepts a key of 1 to 256 characters', () => {
    const keyed = registryKeyedBy((d) => d.key as string);
    expect(convert(keyed, 'x')[0]!.orderingKey).toBe('x');
    const longest = 'k'.repeat(MAX_ORDERING_KEY_LENGTH);
    expect(convert(keyed, longest)[0]!.orderingKey).toBe(longest);
  });

  it.each([
    ['an empty string', ''],
    ['a string over 256 characters', 'k'.repeat(MAX_ORDERING_KEY_LENGTH + 1)],
    ['a number', 42],
    ['undefined', undefined],
    ['null', null],
  ])('returning %s is a ConversionError naming the event type', (_, key) => {
    const keyed = registryKeyedBy((d) => d.key as string);
    const error = (() => {
      try {
        convert(keyed, key);
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(error).toBeInstanceOf(ConversionError);
    expect((error as ConversionError).message).toContain('orderingKey of thing.moved.v1');
    expect((error as ConversionError).converter).toBe('Moved->thing.moved.v1');
  });

  it('a throwing orderingKey is a ConversionError with the cause kept', () => {
    const boom = new Error('no key here');
    const keyed = registryKeyedBy(() => {
      throw boom;
    });
    expect(() => convert(keyed, 'a')).toThrow(ConversionError);
    try {
      convert(keyed, 'a');
    } catch (e) {
      expect((e as ConversionError).message).toBe('orderingKey of thing.moved.v1 threw');
      expect((e as ConversionError).cause).toBe(boom);
    }
  });

  it('a definition whose orderingKey is not a function is refused at start', () => {
    expect(() =>
      defineIntegrationEvent('thing.odd.v1', v.object({}), {
        orderingKey: 'orderId' as unknown as () => string,
      }),
    ).toThrow(DefinitionError);
  });
});
