import { describe, expect, it } from 'vitest';
import { toCloudEventHeaders, toDeliveryRequest } from '../../src/core/delivery-request.ts';

const event = {
  id: '0199c0de-1234-7abc-8def-0123456789ab',
  type: 'order.paid.v1',
  source: '/producers/shop',
  time: '2026-11-30T10:00:00.000Z',
  data: '{"orderId":"o-1"}',
};

describe('toDeliveryRequest', () => {
  it('sends the CloudEvents headers, then the Upstash ones and the user agent, in that order on the wire', async () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const req = await toDeliveryRequest({
      url: 'https://billing.example.com/hooks',
      event,
      traceparent,
      retried: 2,
      messageId: 'msg_0123456789abcdef0123456789abcdef_0',
      signingKey: 'key',
      nowMs: 0,
      sign: (input) => `signed:${input.url}:${input.body}`,
    });
    expect(Object.entries(req.headers)).toEqual([
      ...Object.entries(toCloudEventHeaders(event, traceparent)),
      ['upstash-signature', 'signed:https://billing.example.com/hooks:{"orderId":"o-1"}'],
      ['upstash-message-id', 'msg_0123456789abcdef0123456789abcdef_0'],
      ['upstash-retried', '2'],
      ['user-agent', 'hookmesh'],
    ]);
    expect(req.body).toBe(event.data);
  });

  it('adds no traceparent header without one', async () => {
    const req = await toDeliveryRequest({
      url: 'https://billing.example.com/hooks',
      event,
      traceparent: null,
      retried: 0,
      messageId: 'msg_x',
      signingKey: 'key',
      nowMs: 0,
      sign: () => 'sig',
    });
    expect(Object.keys(req.headers)).not.toContain('traceparent');
    expect(Object.keys(req.headers)).toHaveLength(10);
  });
});
