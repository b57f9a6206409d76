import { createHash, createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { signQStashJwt, verifyQStashSignature } from '../../src/core/signature.ts';

// Properties of the verifier over generated keys, URLs, bodies, times and tampering: what the
// example tests show for a handful of tokens, here for hundreds, seeded so a failure replays.

const SEED = 8_2026;
const RUNS = 150;
const SEGMENT_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

const key = fc.string({ minLength: 1, maxLength: 64, unit: 'grapheme' });
const url = fc.webUrl({ withQueryParameters: true, withFragments: false });
const body = fc.uint8Array({ minLength: 0, maxLength: 512 });
// Whole seconds from 2001 to 2286: iat, nbf and exp stay within every check's reach.
const nowMs = fc.integer({ min: 1_000_000_000, max: 9_999_999_999 }).map((s) => s * 1000);

/** A token minted by hand with node:crypto: any header and claims, signed with `secret`. */
function mint(header: Record<string, unknown>, claims: Record<string, unknown>, secret: string): string {
  const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
  const input = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(claims))}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

function claimsFor(target: string, raw: Uint8Array, atMs: number): Record<string, unknown> {
  const iat = Math.floor(atMs / 1000);
  return {
    iss: 'Upstash',
    sub: target,
    iat,
    nbf: iat,
    exp: iat + 300,
    jti: 'jwt_property',
    body: createHash('sha256').update(raw).digest('base64url'),
  };
}

describe('verifyQStashSignature — properties', () => {
  it('any token signed with the key verifies, with the current or the next key', async () => {
    await fc.assert(
      fc.asyncProperty(key, key, url, body, nowMs, async (signing, other, target, raw, at) => {
        const token = await signQStashJwt({ key: signing, url: target, body: raw, nowMs: at });
        const asCurrent = await verifyQStashSignature({
          signature: token,
          body: raw,
          url: target,
          keys: { current: signing },
          nowMs: at,
        });
        expect(asCurrent.ok).toBe(true);
        if (asCurrent.ok) expect(asCurrent.claims.sub).toBe(target);
        // During a rotation the token may come signed with the next key.
        const asNext = await verifyQStashSignature({
          signature: token,
          body: raw,
          url: target,
          keys: { current: other === signing ? `${other}x` : other, next: signing },
          nowMs: at,
        });
        expect(asNext.ok).toBe(true);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('a key that differs from the signing key fails', async () => {
    await fc.assert(
      fc.asyncProperty(key, key, url, body, nowMs, async (signing, other, target, raw, at) => {
        fc.pre(other !== signing);
        const token = await signQStashJwt({ key: signing, url: target, body: raw, nowMs: at });
        const result = await verifyQStashSignature({
          signature: token,
          body: raw,
          url: target,
          keys: { current: other },
          nowMs: at,
        });
        expect(result).toEqual({ ok: false, reason: 'signature' });
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('any single-character change of the token fails', async () => {
    await fc.assert(
      fc.asyncProperty(
        key,
        url,
        body,
        nowMs,
        fc.nat(),
        // Mostly the token's own alphabet (the hard case: still well-formed), sometimes anything.
        fc.oneof(
          { weight: 4, arbitrary: fc.constantFrom(...SEGMENT_CHARS) },
          { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 1, unit: 'binary' }) },
        ),
        async (signing, target, raw, at, position, replacement) => {
          const token = await signQStashJwt({ key: signing, url: target, body: raw, nowMs: at });
          const index = position % token.length;
          fc.pre(token[index] !== replacement);
          const tampered = token.slice(0, index) + replacement + token.slice(index + 1);
          const result = await verifyQStashSignature({
            signature: tampered,
            body: raw,
            url: target,
            keys: { current: signing },
            nowMs: at,
          });
          expect(result.ok).toBe(false);
        },
      ),
      { seed: SEED, numRuns: RUNS * 2 },
    );
  });

  it('any single-byte change of the body fails, and so does a byte added or removed', async () => {
    await fc.assert(
      fc.asyncProperty(
        key,
        url,
        fc.uint8Array({ minLength: 1, maxLength: 512 }),
        nowMs,
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        fc.constantFrom('change', 'insert', 'delete'),
        async (signing, target, raw, at, position, delta, edit) => {
          const token = await signQStashJwt({ key: signing, url: target, body: raw, nowMs: at });
          const index = position % raw.length;
          let tampered: Uint8Array;
          if (edit === 'change') {
            tampered = raw.slice();
            tampered[index] = (raw[index]! + delta) % 256;
          } else if (edit === 'insert') {
            tampered = new Uint8Array([...raw.subarray(0, index), delta, ...raw.subarray(index)]);
          } else {
            tampered = new Uint8Array([...raw.subarray(0, index), ...raw.subarray(index + 1)]);
          }
          const result = await verifyQStashSignature({
            signature: token,
            body: tampered,
            url: target,
            keys: { current: signing },
            nowMs: at,
          });
          expect(result).toEqual({ ok: false, reason: 'body' });
        },
      ),
      { seed: SEED, numRuns: RUNS * 2 },
    );
  });

  it('a token for another subject fails, whatever the other URL', async () => {
    await fc.assert(
      fc.asyncProperty(key, url, url, body, nowMs, async (signing, signedFor, target, raw, at) => {
        fc.pre(signedFor !== target);
        const token = await signQStashJwt({ key: signing, url: signedFor, body: raw, nowMs: at });
        const result = await verifyQStashSignature({
          signature: token,
          body: raw,
          url: target,
          keys: { current: signing },
          nowMs: at,
        });
        expect(result).toEqual({ ok: false, reason: 'subject' });
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('a correctly signed token with another issuer fails', async () => {
    await fc.assert(
      fc.asyncProperty(
        key,
        url,
        body,
        nowMs,
        fc.oneof(fc.string(), fc.constantFrom('upstash', 'UPSTASH', 'Upstash ', ' Upstash', 'Upstash\u0000')),
        async (signing, target, raw, at, issuer) => {
          fc.pre(issuer !== 'Upstash');
          const token = mint(
            { alg: 'HS256', typ: 'JWT' },
            { ...claimsFor(target, raw, at), iss: issuer },
            signing,
          );
          const result = await verifyQStashSignature({
            signature: token,
            body: raw,
            url: target,
            keys: { current: signing },
            nowMs: at,
          });
          expect(result).toEqual({ ok: false, reason: 'issuer' });
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('a token whose header names another algorithm fails, even with an HS256 MAC over it', async () => {
    await fc.assert(
      fc.asyncProperty(
        key,
        url,
        body,
        nowMs,
        fc.oneof(
          fc.constantFrom('none', 'None', 'HS512', 'HS384', 'RS256', 'ES256', 'hs256', 'HS256 ', ''),
          fc.string(),
          fc.constant(null),
          fc.integer(),
        ),
        async (signing, target, raw, at, alg) => {
          fc.pre(alg !== 'HS256');
          const token = mint({ alg, typ: 'JWT' }, claimsFor(target, raw, at), signing);
          const result = await verifyQStashSignature({
            signature: token,
            body: raw,
            url: target,
            keys: { current: signing },
            nowMs: at,
          });
          expect(result).toEqual({ ok: false, reason: 'algorithm' });
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });
});
