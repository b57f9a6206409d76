import { Receiver } from '@upstash/qstash';
import { type CloudEventV1, HTTP } from 'cloudevents';
import { describe, expect, it } from 'vitest';
import { CURRENT, DATA, delivery, NEXT, ROUTE_URL, TYPE } from './webhook-fixtures.ts';

// Clients nobody here wrote read hookmesh's deliveries: the wire format is the real one.

describe('a hookmesh delivery, read by @upstash/qstash', () => {
  // Both keys always: with one missing the SDK falls back to environment variables (or dev keys).
  const receiver = new Receiver({ currentSigningKey: CURRENT, nextSigningKey: NEXT });

  it('verifies with the Receiver (which uses the real clock, hence Date.now())', async () => {
    const req = await delivery({ nowMs: Date.now() });
    await expect(
      receiver.verify({
        signature: req.headers['upstash-signature']!,
        body: req.body,
        url: ROUTE_URL,
        clockTolerance: 5,
      }),
    ).resolves.toBe(true);
  });

  it('a delivery signed with the next key verifies too, and a tampered body does not', async () => {
    const req = await delivery({ nowMs: Date.now(), signingKey: NEXT });
    const signature = req.headers['upstash-signature']!;
    await expect(
      receiver.verify({ signature, body: req.body, url: ROUTE_URL, clockTolerance: 5 }),
    ).resolves.toBe(true);
    await expect(
      receiver.verify({ signature, body: `${req.body} `, url: ROUTE_URL, clockTolerance: 5 }),
    ).rejects.toThrow();
    await expect(
      receiver.verify({ signature, body: req.body, url: `${ROUTE_URL}x`, clockTolerance: 5 }),
    ).rejects.toThrow();
  });
});

describe('a hookmesh delivery, read by the CloudEvents SDK', () => {
  it('is a binary-mode CloudEvent with the right id, type, source, time and data', async () => {
    const req = await delivery();
    const event = HTTP.toEvent({ headers: req.headers, body: req.body }) as CloudEventV1<typeof DATA>;
    expect(Array.isArray(event)).toBe(false);
    expect(event.specversion).toBe('1.0');
    expect(event.id).toBe('ie_01');
    expect(event.type).toBe(TYPE);
    expect(event.source).toBe('/producers/orders');
    expect(new Date(event.time!).toISOString()).toBe('2026-11-30T11:59:58.000Z');
    expect(event.datacontenttype).toBe('application/json');
    expect(event.data).toEqual(DATA);
    expect(() => (event as unknown as { validate(): boolean }).validate()).not.toThrow();
  });
});
