import { describe, expect, it } from 'vitest';
import { DefinitionError } from '../../src/core/errors.ts';
import { defineSubscription } from '../../src/core/subscription.ts';

describe('defineSubscription', () => {
  it('takes a retryDelay expression', () => {
    const sub = defineSubscription('order.created.v1', 'https://a.example.com/', {
      retryDelay: 'pow(2, retried) * 1000',
    });
    expect(sub.retryDelay).toBe('pow(2, retried) * 1000');
  });

  it('throws DefinitionError for a retryDelay that does not parse, naming why', () => {
    expect(() =>
      defineSubscription('order.created.v1', 'https://a.example.com/', { retryDelay: 'retried +' }),
    ).toThrow(DefinitionError);
    expect(() =>
      defineSubscription('order.created.v1', 'https://a.example.com/', { retryDelay: 'process.exit()' }),
    ).toThrow(/retryDelay.*unknown identifier "process"/);
  });

  it('throws DefinitionError for a retryDelay with a control character (it travels in a header)', () => {
    for (const retryDelay of ['pow(2, retried)\n* 1000', '1000\t', '\r1000']) {
      expect(() => defineSubscription('order.created.v1', 'https://a.example.com/', { retryDelay })).toThrow(
        DefinitionError,
      );
      expect(() => defineSubscription('order.created.v1', 'https://a.example.com/', { retryDelay })).toThrow(
        /control character/,
      );
    }
  });

  it('takes a filter, null by default', () => {
    expect(defineSubscription('order.created.v1', 'https://a.example.com/').filter).toBeNull();
    expect(
      defineSubscription('order.created.v1', 'https://a.example.com/', { filter: { total: { $gte: 100 } } })
        .filter,
    ).toEqual({ total: { $gte: 100 } });
  });

  it('throws DefinitionError for an invalid filter, naming the pointer', () => {
    expect(() =>
      defineSubscription('order.created.v1', 'https://a.example.com/', { filter: { total: { $gte: [1] } } }),
    ).toThrow(DefinitionError);
    expect(() =>
      defineSubscription('order.created.v1', 'https://a.example.com/', { filter: { total: { $gte: [1] } } }),
    ).toThrow(/filter is invalid at \/total\/\$gte/);
  });

  it('takes maxConcurrency from 1 to 1000, 16 by default', () => {
    expect(defineSubscription('order.created.v1', 'https://a.example.com/').maxConcurrency).toBe(16);
    expect(
      defineSubscription('order.created.v1', 'https://a.example.com/', { maxConcurrency: 1000 })
        .maxConcurrency,
    ).toBe(1000);
    for (const maxConcurrency of [0, 1001, 1.5, Number.NaN]) {
      expect(() =>
        defineSubscription('order.created.v1', 'https://a.example.com/', { maxConcurrency }),
      ).toThrow(/maxConcurrency must be an integer from 1 to 1000/);
    }
  });

  it('takes pauseAfter from 0 (never) to 10000, 50 by default', () => {
    expect(defineSubscription('order.created.v1', 'https://a.example.com/').pauseAfter).toBe(50);
    expect(
      defineSubscription('order.created.v1', 'https://a.example.com/', { pauseAfter: 0 }).pauseAfter,
    ).toBe(0);
    for (const pauseAfter of [-1, 10_001, 1.5, Number.NaN]) {
      expect(() => defineSubscription('order.created.v1', 'https://a.example.com/', { pauseAfter })).toThrow(
        /pauseAfter must be an integer from 0 to 10000/,
      );
    }
  });
});
