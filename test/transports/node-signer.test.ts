import { Receiver } from '@upstash/qstash';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { signQStashJwt, verifyQStashSignature } from '../../src/core/signature.ts';
import { signQStashJwtNode } from '../../src/transports/node-signer.ts';

describe('the node:crypto signer', () => {
  const input = {
    key: 'sig_current_0123456789abcdef',
    url: 'https://billing.example.com/webhooks/order.created.v1?x=1',
    body: '{"orderId":"o-1","note":"é ✓"}',
    nowMs: 1_796_000_000_123,
    jti: 'jwt_fixed',
  };

  it('mints byte for byte the token the WebCrypto signer mints', async () => {
    expect(signQStashJwtNode(input)).toBe(await signQStashJwt(input));
    const bytes = new TextEncoder().encode(input.body);
    expect(signQStashJwtNode({ ...input, body: bytes })).toBe(await signQStashJwt({ ...input, body: bytes }));
  });

  it('one body signed for several URLs and keys in a row, then another: each token as WebCrypto mints it', async () => {
    // The signer keeps the last body's hash and each key's HMAC key: neither may leak into the next token.
    const inputs = [
      input,
      { ...input, url: 'https://crm.example.com/hooks' },
      { ...input, key: 'sig_next_0123456789abcdef' },
      { ...input, body: '{"orderId":"o-2"}' },
      { ...input, body: new TextEncoder().encode('{"orderId":"o-2"}') },
      input,
    ];
    for (const each of inputs) expect(signQStashJwtNode(each)).toBe(await signQStashJwt(each));
  });

  it('mints the WebCrypto token for any URL, jti, time and body (its claims are written by hand)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.webUrl({ withQueryParameters: true, withFragments: true }),
          fc.string({ unit: 'binary' }),
        ),
        fc.option(fc.string({ unit: 'binary', minLength: 1 }), { nil: undefined }),
        fc.oneof(fc.integer({ min: 0, max: 2 ** 45 }), fc.double({ min: -1e22, max: 1e22, noNaN: true })),
        fc.string({ unit: 'binary' }),
        async (url, jti, nowMs, body) => {
          const each = { key: input.key, url, nowMs, body, ...(jti === undefined ? {} : { jti }) };
          if (jti === undefined) {
            // A fresh jti each: compare with WebCrypto's token for the node signer's own jti.
            const token = signQStashJwtNode(each);
            const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
            expect(token).toBe(await signQStashJwt({ ...each, jti: claims.jti }));
          } else {
            expect(signQStashJwtNode(each)).toBe(await signQStashJwt(each));
          }
        },
      ),
      { seed: 4_12_2026, numRuns: 300 },
    );
  });

  it('mints jtis as the WebCrypto signer does: the signing time in milliseconds, then random bits', () => {
    const { jti: _, ...fresh } = input;
    const jtis = Array.from({ length: 300 }, () => {
      const [, claims] = signQStashJwtNode(fresh).split('.');
      return (JSON.parse(Buffer.from(claims!, 'base64url').toString('utf8')) as { jti: string }).jti;
    });
    for (const jti of jtis) expect(jti).toMatch(/^jwt_[0-9a-f]{32}$/);
    expect(new Set(jtis.map((jti) => jti.slice(0, 16)))).toEqual(
      new Set([`jwt_${input.nowMs.toString(16).padStart(12, '0')}`]),
    );
    // 300 draws cross the end of the pool of random bytes: no two ids alike.
    expect(new Set(jtis).size).toBe(300);
  });

  it('is verified by hookmesh and by @upstash/qstash’s Receiver, with a fresh jti each time', async () => {
    const now = Date.now();
    const token = signQStashJwtNode({ key: input.key, url: input.url, body: input.body, nowMs: now });
    expect(token).not.toBe(
      signQStashJwtNode({ key: input.key, url: input.url, body: input.body, nowMs: now }),
    );
    expect(
      await verifyQStashSignature({
        signature: token,
        body: input.body,
        url: input.url,
        keys: { current: input.key },
        nowMs: now,
      }),
    ).toMatchObject({ ok: true });
    const receiver = new Receiver({
      currentSigningKey: input.key,
      nextSigningKey: 'sig_next_0123456789abcdef',
    });
    expect(
      await receiver.verify({ signature: token, body: input.body, url: input.url, clockTolerance: 5 }),
    ).toBe(true);
  });
});
