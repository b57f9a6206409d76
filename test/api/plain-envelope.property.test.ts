import fc from 'fast-check';
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { EnvelopeSchema, plainEnvelope } from '../../src/api/ingest.ts';

// Ingest checks a plain envelope by hand and leaves every other one to `EnvelopeSchema`
// (src/api/ingest.ts): the shortcut must accept only what the schema accepts, and give what it
// gives. Envelopes are built as JSON texts and parsed, as the API receives them.

const SEED = 12_2026;
const RUNS = 2_000;

const text = fc.oneof(
  fc.constantFrom(
    '',
    'a',
    'evt-1',
    '\u0000',
    'x\u007f',
    '\ud800',
    '\ud83d\ude00',
    'a'.repeat(200),
    'a'.repeat(201),
  ),
  fc.string({ maxLength: 12 }),
);
const timestamp = fc.oneof(
  fc.constantFrom(
    '2026-11-30T10:00:00.000Z',
    '2026-11-30T10:00:00Z',
    '2026-11-30 10:00:00+01:00',
    '2026-13-30T10:00:00Z',
    '2026-11-30T10:00:00.0000000001Z',
    '2026-11-30',
    'yesterday',
  ),
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
);
const anyJson = fc.jsonValue({ maxDepth: 2 });
/** `[key, value]`, or nothing with the odds `absent` (out of 10). */
const member = (key: string, value: fc.Arbitrary<unknown>, absent: number) =>
  fc.oneof(
    { arbitrary: fc.constant(undefined), weight: absent },
    { arbitrary: value.map((x) => [key, x] as const), weight: 10 - absent },
  );
/** Mostly the right kind of value, sometimes any JSON. */
const mostly = (value: fc.Arbitrary<unknown>) =>
  fc.oneof({ arbitrary: value, weight: 4 }, { arbitrary: anyJson, weight: 1 });
const envelope = fc
  .tuple(
    member('id', mostly(text), 3),
    member('type', mostly(text), 1),
    member('data', anyJson, 1),
    member('occurredAt', mostly(timestamp), 5),
    member('metadata', mostly(fc.dictionary(fc.string({ maxLength: 4 }), anyJson)), 5),
    member('notBefore', mostly(timestamp), 5),
    member('extra', anyJson, 9),
    member('__proto__', anyJson, 9),
  )
  .map((members) => Object.fromEntries(members.filter((m) => m !== undefined)));

describe('plainEnvelope', () => {
  it('accepts only what EnvelopeSchema accepts, with its output', () => {
    let plain = 0;
    fc.assert(
      fc.property(fc.oneof(envelope, anyJson), (value) => {
        const input = JSON.parse(JSON.stringify(value) ?? 'null');
        const fast = plainEnvelope(input);
        const schema = v.safeParse(EnvelopeSchema, input);
        if (fast === null) return;
        plain++;
        expect(schema.success).toBe(true);
        expect(fast).toEqual(schema.output);
        expect(Object.keys(fast).sort()).toEqual(Object.keys(schema.output as object).sort());
      }),
      { seed: SEED, numRuns: RUNS },
    );
    // The shortcut is taken at all: a share of the generated envelopes is plain.
    expect(plain).toBeGreaterThan(20);
  });

  it('takes the envelopes producers send', () => {
    const sent = {
      id: 'order-1',
      type: 'OrderCreated',
      data: { order: { id: 'o-1' } },
      occurredAt: '2026-11-30T10:00:00.000Z',
      metadata: { tenant: 't-1' },
      notBefore: '2026-12-01T10:00:00Z',
    };
    expect(plainEnvelope(sent)).toEqual(sent);
    expect(plainEnvelope({ type: 'OrderCreated', data: null })).toEqual({ type: 'OrderCreated', data: null });
  });
});
