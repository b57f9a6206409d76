import Database from 'libsql';
import { describe, expect, it } from 'vitest';
import type { NewDomainEvent } from '../../src/core/event-store.ts';
import {
  integrationSource,
  integrationTime,
  toStoredSource,
  toStoredTime,
} from '../../src/store/sql-integration-event.ts';

// An integration event's source and time are stored as NULL when the domain event gives them back
// (migration 0008): the SQL that derives them must write exactly what ingest wrote.

function event(receivedAt: number, occurredAt: string | null, source = 'billing'): NewDomainEvent {
  const time = occurredAt ?? new Date(receivedAt).toISOString();
  return {
    id: 'e',
    type: 'OrderCreated',
    source,
    data: '{}',
    occurredAt,
    metadata: null,
    traceparent: null,
    receivedAt,
    integrationEvents: [
      {
        id: 'ie',
        type: 'order.created.v1',
        source: `/producers/${encodeURIComponent(source)}`,
        time,
        data: '{}',
      },
    ],
  };
}

/**
 * What the reads give back for `e`'s integration event, stored as the store stores it (the CAST
 * is the INTEGER affinity of `received_at`).
 */
function readBack(e: NewDomainEvent): { source: string; time: string } {
  const db = new Database(':memory:');
  try {
    const ie = e.integrationEvents[0]!;
    const row = db
      .prepare(
        `SELECT ${integrationSource('ie', 'de')} AS source, ${integrationTime('ie', 'de')} AS time
         FROM (SELECT ? AS source, ? AS time) ie, (SELECT ? AS source, ? AS occurred_at, CAST(? AS INTEGER) AS received_at) de`,
      )
      .get([toStoredSource(e, ie), toStoredTime(e, ie), e.source, e.occurredAt, e.receivedAt]) as {
      source: string;
      time: string;
    };
    return { source: row.source, time: row.time };
  } finally {
    db.close();
  }
}

describe('integration event source and time, stored only when not derivable', () => {
  const times = [
    0, 1, 999, 1_000, 59_999, 951_782_400_000, 1_764_503_962_352, 4_102_444_800_001, 253_402_300_799_999,
  ];

  it('reads back what ingest wrote, whatever the millisecond', () => {
    for (let n = 0; n < 200; n++) times.push(Math.floor(Math.random() * 4_102_444_800_000));
    for (const ms of times) {
      const e = event(ms, null);
      expect(toStoredTime(e, e.integrationEvents[0]!), String(ms)).toBeNull();
      expect(readBack(e)).toEqual({ source: '/producers/billing', time: new Date(ms).toISOString() });
    }
  });

  it("keeps the producer's occurredAt verbatim, derived from the domain event", () => {
    const e = event(1_764_503_962_352, '2026-01-15T00:00:00+01:00');
    expect(toStoredTime(e, e.integrationEvents[0]!)).toBeNull();
    expect(readBack(e).time).toBe('2026-01-15T00:00:00+01:00');
  });

  it('stores the text where the derivation would not give it back', () => {
    const encoded = event(1_764_503_962_352, null, 'billing team/eu');
    expect(toStoredSource(encoded, encoded.integrationEvents[0]!)).toBe('/producers/billing%20team%2Feu');
    expect(readBack(encoded).source).toBe('/producers/billing%20team%2Feu');
    const before1970 = event(-1, null);
    expect(readBack(before1970).time).toBe('1969-12-31T23:59:59.999Z');
    const other = {
      ...event(5, null),
      integrationEvents: [{ ...event(5, null).integrationEvents[0]!, time: 'x' }],
    };
    expect(readBack(other).time).toBe('x');
  });
});
