import Database from 'libsql';
import { describe, expect, it } from 'vitest';
import { deliveryIdBytesIn, deliveryIdIn, isDeliveryIdBytes } from '../../src/store/sql-ids.ts';

describe('delivery ids decided in JS', () => {
  const db = new Database(':memory:');
  /** The stored form's type and bytes, as `[kind, hex]`. */
  const stored = (sql: string, id: string) =>
    db.prepare(`SELECT typeof(${sql}), hex(${sql})`).raw().get([id]) as [string, string];

  it.each([
    '0199c0de12347abc8def0123456789ab',
    'ab',
    '',
    '0199C0DE12347ABC8DEF0123456789AB',
    'abc',
    'zz',
    'd1',
    'ie1',
    '0199c0de-1234-7abc-8def-0123456789ab',
  ])('isDeliveryIdBytes(%j) says what deliveryIdIn stores, and deliveryIdBytesIn stores the same', (id) => {
    const general = stored(deliveryIdIn('?1'), id);
    expect(isDeliveryIdBytes(id)).toBe(general[0] === 'blob');
    if (isDeliveryIdBytes(id)) expect(stored(deliveryIdBytesIn('?1'), id)).toEqual(general);
  });
});
