import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkQStashBody,
  checkQStashToken,
  fromBase64url,
  isCanonicalBase64url,
  signQStashJwt,
  verifyQStashBodyWith,
  verifyQStashTokenWith,
  webCryptoQStash,
} from '../../src/core/signature.ts';
import { nodeQStashCrypto } from '../../src/handler/node-crypto.ts';

// The token check's own base64url decoding and canonical-spelling test against what they replace
// (`atob`, and decoding then encoding again), and the synchronous check against the async one.

const SEED = 3_12_2026;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const segment = fc
  .array(fc.constantFrom(...ALPHABET), { minLength: 1, maxLength: 80 })
  .map((chars) => chars.join(''));

/** What the verifier did before: `atob` on the standard alphabet, null where it throws. */
function viaAtob(text: string): Uint8Array | null {
  try {
    return Uint8Array.from(atob(text.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

describe('fromBase64url', () => {
  it('decodes every base64url segment as atob does, and refuses what atob refuses', () => {
    fc.assert(
      fc.property(segment, (text) => {
        expect(fromBase64url(text)).toEqual(viaAtob(text));
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it("has Node's native decoder (nodeQStashCrypto.decodeBase64url) agree on every segment it is given", () => {
    const decode = nodeQStashCrypto.decodeBase64url;
    if (decode === undefined) throw new Error('the Node primitives decode natively');
    fc.assert(
      fc.property(
        segment.filter((text) => text.length % 4 !== 1),
        (text) => {
          expect(new Uint8Array(decode(text))).toEqual(fromBase64url(text));
        },
      ),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('refuses characters outside the alphabet (padding, the standard alphabet, anything else)', () => {
    for (const text of ['YQ==', 'a+bc', 'a/bc', 'ab c', 'abé', 'ab\u0000c'])
      expect(fromBase64url(text)).toBeNull();
  });
});

describe('isCanonicalBase64url', () => {
  it('holds exactly when decoding and encoding again gives the same spelling', () => {
    fc.assert(
      fc.property(segment, (text) => {
        const bytes = viaAtob(text);
        const roundTrip = bytes !== null && Buffer.from(bytes).toString('base64url') === text;
        expect(isCanonicalBase64url(text)).toBe(roundTrip);
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('refuses stray low bits in the last character of a MAC', () => {
    const mac = Buffer.alloc(32, 7).toString('base64url');
    expect(isCanonicalBase64url(mac)).toBe(true);
    const last = ALPHABET.indexOf(mac.at(-1)!);
    expect(isCanonicalBase64url(`${mac.slice(0, -1)}${ALPHABET[last + 1]}`)).toBe(false);
  });
});

describe('checkQStashToken and checkQStashBody', () => {
  it('answer synchronously on node:crypto, as the async forms answer', async () => {
    const key = 'sig_test_key';
    const url = 'https://billing.example.com/webhooks/order.paid.v1';
    const nowMs = 1_900_000_000_000;
    const body = '{"orderId":"o-1"}';
    const token = await signQStashJwt({ key, url, body, nowMs, jti: 'jwt_1' });
    const cases = [
      { signature: token, url, keys: { current: key }, nowMs },
      { signature: token, url, keys: { current: 'other', next: key }, nowMs },
      { signature: token, url, keys: { current: 'other' }, nowMs },
      { signature: token, url: `${url}x`, keys: { current: key }, nowMs },
      { signature: token, url, keys: { current: key }, nowMs: nowMs + 400_000 },
      { signature: `${token}A`, url, keys: { current: key }, nowMs },
      { signature: undefined, url, keys: { current: key }, nowMs },
    ];
    for (const input of cases) {
      const sync = checkQStashToken(nodeQStashCrypto, input);
      expect(sync).not.toBeInstanceOf(Promise);
      expect(sync).toEqual(await verifyQStashTokenWith(webCryptoQStash, input));
      expect(await checkQStashToken(webCryptoQStash, input)).toEqual(sync);
    }
    const accepted = checkQStashToken(nodeQStashCrypto, cases[0]!);
    if (accepted instanceof Promise || !accepted.ok) throw new Error('the token should hold');
    for (const sent of [body, `${body} `, new TextEncoder().encode(body)]) {
      const sync = checkQStashBody(nodeQStashCrypto, accepted.claims, sent);
      expect(sync).not.toBeInstanceOf(Promise);
      expect(sync).toEqual(await verifyQStashBodyWith(webCryptoQStash, accepted.claims, sent));
    }
  });

  it('throws for an empty current key on node:crypto, and rejects on WebCrypto', async () => {
    const input = { signature: 'a.b.c', url: 'https://x', keys: { current: '' }, nowMs: 0 };
    const token = await signQStashJwt({ key: 'k', url: 'https://x', body: '', nowMs: 0 });
    expect(() => checkQStashToken(nodeQStashCrypto, { ...input, signature: token })).toThrow(TypeError);
    await expect(verifyQStashTokenWith(webCryptoQStash, { ...input, signature: token })).rejects.toThrow(
      TypeError,
    );
  });
});
