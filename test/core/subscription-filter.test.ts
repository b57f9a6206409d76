import { describe, expect, it } from 'vitest';
import { createFilterIndex } from '../../src/core/filter-index.ts';
import {
  compileFilter,
  MAX_FILTER_DEPTH,
  MAX_FILTER_NODES,
  matchesFilter,
} from '../../src/core/subscription-filter.ts';

const order = {
  orderId: 'o-1',
  currency: 'EUR',
  total: 120.5,
  customer: { id: 'c-1', tier: 'gold', address: { country: 'DE' } },
  tags: ['new', 'vip'],
  lines: [{ sku: 'A', qty: 2 }],
  note: null,
  'a.b': 'dotted',
};

const issuesOf = (filter: unknown) => {
  const result = compileFilter(filter);
  if (result.ok) throw new Error('expected the filter to be refused');
  return result.issues;
};

describe('subscription filters: matching', () => {
  it.each([
    ['equality at the root', { currency: 'EUR' }, true],
    ['equality that differs', { currency: 'USD' }, false],
    ['several fields: all must hold', { currency: 'EUR', total: 120.5 }, true],
    ['several fields, one differs', { currency: 'EUR', total: 1 }, false],
    ['a nested object matches sub-paths', { customer: { tier: 'gold' } }, true],
    ['deeper sub-paths', { customer: { address: { country: 'DE' } } }, true],
    ['a nested sub-path that differs', { customer: { tier: 'silver' } }, false],
    ['a dotted key is one field name, not a path', { 'a.b': 'dotted' }, true],
    ['so customer.tier names no field', { 'customer.tier': 'gold' }, false],
    ['numbers compare as numbers', { total: 120.5 }, true],
    ['no cross-kind equality', { total: '120.5' }, false],
    ['null equals a present null', { note: null }, true],
    ['null does not equal a missing field', { missing: null }, false],
    [
      '$eq with an object is deep, key order free',
      { customer: { address: { $eq: { country: 'DE' } } } },
      true,
    ],
    ['$eq with an object is exact (no extra keys)', { customer: { $eq: { tier: 'gold' } } }, false],
    ['$ne', { currency: { $ne: 'USD' } }, true],
    ['$ne on a missing field matches', { missing: { $ne: 'x' } }, true],
    ['$in', { currency: { $in: ['USD', 'EUR'] } }, true],
    ['$in without it', { currency: { $in: ['USD', 'GBP'] } }, false],
    ['$in of nothing', { currency: { $in: [] } }, false],
    ['$nin', { currency: { $nin: ['USD'] } }, true],
    ['$nin on a missing field matches', { missing: { $nin: ['x'] } }, true],
    ['$gt', { total: { $gt: 100 } }, true],
    ['$gte at the bound', { total: { $gte: 120.5 } }, true],
    ['$lt', { total: { $lt: 100 } }, false],
    ['$lte at the bound', { total: { $lte: 120.5 } }, true],
    ['a range', { total: { $gt: 100, $lt: 200 } }, true],
    ['strings compare with strings', { currency: { $gte: 'EUR', $lt: 'EUS' } }, true],
    ['a number never compares with a string', { currency: { $gt: 0 } }, false],
    ['a string never compares with a number', { total: { $lt: 'zzz' } }, false],
    ['comparisons on a missing field fail', { missing: { $lt: 1 } }, false],
    ['$exists true', { note: { $exists: true } }, true],
    ['$exists false', { missing: { $exists: false } }, true],
    ['$exists false on a present field', { note: { $exists: false } }, false],
    ['$and', { $and: [{ currency: 'EUR' }, { total: { $gt: 100 } }] }, true],
    ['$and with one false', { $and: [{ currency: 'EUR' }, { total: { $gt: 500 } }] }, false],
    ['$or', { $or: [{ currency: 'USD' }, { total: { $gt: 100 } }] }, true],
    ['$or all false', { $or: [{ currency: 'USD' }, { total: { $gt: 500 } }] }, false],
    ['$or at a field, with plain values', { currency: { $or: ['USD', 'EUR'] } }, true],
    ['$not with a filter', { $not: { currency: 'USD' } }, true],
    ['$not with an operator object', { total: { $not: { $gt: 100 } } }, false],
    ['$not with a value', { currency: { $not: 'EUR' } }, false],
    ['$not on a missing field', { missing: { $not: { $gt: 1 } } }, true],
    ['an array field equals one of its elements', { tags: 'vip' }, true],
    ['…or the whole array', { tags: ['new', 'vip'] }, true],
    ['…not a reordered array', { tags: ['vip', 'new'] }, false],
    ['$in with an array field: any element', { tags: { $in: ['old', 'vip'] } }, true],
    ['$ne on an array: no element equals', { tags: { $ne: 'vip' } }, false],
    ['$nin on an array: no element in the list', { tags: { $nin: ['old'] } }, true],
    ['comparisons on an array: some element', { lines: { $exists: true }, tags: { $gt: 'u' } }, true],
    ['paths do not go into arrays', { lines: { sku: 'A' } }, false],
    ['an array element object by $eq', { lines: { $eq: { sku: 'A', qty: 2 } } }, true],
    ['a field of a non-object is missing', { currency: { length: 3 } }, false],
    ['prototype names are not fields', { constructor: { $exists: true } }, false],
  ])('%s', (_, filter, expected) => {
    expect(matchesFilter(filter, order)).toBe(expected);
  });

  it('matches data that is not an object only through root operators', () => {
    expect(matchesFilter({ currency: { $exists: false } }, 'text')).toBe(true);
    expect(matchesFilter({ currency: 'EUR' }, [order])).toBe(false);
  });
});

describe('subscription filters: validation', () => {
  it.each([
    ['not an object', 'EUR', ''],
    ['an array', [{ currency: 'EUR' }], ''],
    ['an empty filter', {}, ''],
    ['an empty nested object', { customer: {} }, '/customer'],
    ['an unknown operator', { total: { $gtt: 1 } }, '/total/$gtt'],
    ['$in without an array', { currency: { $in: 'EUR' } }, '/currency/$in'],
    ['$gt with a boolean', { total: { $gt: true } }, '/total/$gt'],
    ['$lte with null', { total: { $lte: null } }, '/total/$lte'],
    ['$exists with a string', { total: { $exists: 'yes' } }, '/total/$exists'],
    ['$and with an empty array', { $and: [] }, '/$and'],
    ['$or with an object', { $or: { currency: 'EUR' } }, '/$or'],
    [
      'a bad condition inside $or',
      { $or: [{ currency: 'EUR' }, { total: { $bad: 1 } }] },
      '/$or/1/total/$bad',
    ],
    ['a bad condition inside $not', { $not: { total: {} } }, '/$not/total'],
    ['pointer escapes ~ and /', { 'a/b~c': { $x: 1 } }, '/a~1b~0c/$x'],
  ])('refuses %s, pointing at it', (_, filter, path) => {
    expect(issuesOf(filter).map((i) => i.path)).toContain(path);
  });

  it('refuses what JSON cannot carry', () => {
    expect(issuesOf({ total: Number.NaN })[0]).toMatchObject({ path: '/total' });
    expect(issuesOf({ total: { $in: [1, Number.POSITIVE_INFINITY] } })[0]).toMatchObject({
      path: '/total/$in/1',
    });
    expect(issuesOf({ when: new Date(0) })[0]).toMatchObject({ path: '/when' });
    expect(issuesOf({ x: undefined })[0]).toMatchObject({ path: '/x' });
  });

  it(`caps nesting at ${MAX_FILTER_DEPTH} levels`, () => {
    let deep: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < MAX_FILTER_DEPTH; i++) deep = { a: deep };
    const issues = issuesOf(deep);
    expect(issues[0]!.message).toMatch(/nests at most/);
    expect(issues[0]!.path.startsWith('/a/a/a')).toBe(true);

    let shallow: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < MAX_FILTER_DEPTH - 2; i++) shallow = { a: shallow };
    expect(compileFilter(shallow).ok).toBe(true);
  });

  it(`caps the size at ${MAX_FILTER_NODES} values`, () => {
    const values = (n: number) => Array.from({ length: n }, (_, i) => `c-${i}`);
    expect(compileFilter({ id: { $in: values(MAX_FILTER_NODES - 3) } }).ok).toBe(true);
    const issues = issuesOf({ id: { $in: values(MAX_FILTER_NODES) } });
    expect(issues).toHaveLength(1);
    expect(issues[0]!.message).toMatch(/at most 512 values/);
  });

  it('reports several issues at once, at most 20', () => {
    const many = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`f${i}`, { $bad: i }]));
    expect(issuesOf(many)).toHaveLength(20);
  });

  it('matchesFilter throws on an invalid filter, naming the pointer', () => {
    expect(() => matchesFilter({ total: { $gt: [] } }, order)).toThrow(/\/total\/\$gt/);
  });
});

describe('filter index', () => {
  const index = createFilterIndex([
    { id: 'eur', type: 'order.created.v1', filter: '{"currency":"EUR"}' },
    { id: 'usd', type: 'order.created.v1', filter: '{"currency":"USD"}' },
    { id: 'big', type: 'order.*', filter: '{"total":{"$gt":100}}' },
    { id: 'other', type: 'shipment.sent.v1', filter: '{"currency":"EUR"}' },
    { id: 'broken', type: 'order.paid.v1', filter: '{"total":{"$nope":1}}' },
  ]);

  it('gives the filtered subscriptions whose type and filter match', () => {
    expect(index.size).toBe(5);
    expect(index.matching('order.created.v1', JSON.stringify(order))).toEqual(['eur', 'big']);
    expect(index.matching('order.created.v1', '{"currency":"USD","total":1}')).toEqual(['usd']);
    expect(index.matching('customer.created.v1', '{"currency":"EUR"}')).toEqual([]);
  });

  it('lets a stored filter that no longer compiles match every event of its type', () => {
    expect(index.matching('order.paid.v1', '{"total":1}')).toEqual(['broken']);
  });

  it('parses nothing for a type no filtered subscription takes', () => {
    expect(index.matching('customer.created.v1', 'not json')).toEqual([]);
  });
});
