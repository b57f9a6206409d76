import { createHash, createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type QStashVerifyCrypto,
  signQStashJwt,
  type VerifyQStashTokenInput,
  verifyQStashBodyWith,
  verifyQStashTokenWith,
  webCryptoQStash,
} from '../../src/core/signature.ts';
import { nodeQStashCrypto } from '../../src/handler/node-crypto.ts';

// The Node entry's verifier against the WebCrypto one, token for token: the same answer (accepted
// with the same claims, or refused for the same reason, or the same throw) for well-formed tokens,
// tampered ones, hand-made headers and claims, strange keys (lone surrogates included), bodies as
// bytes and as strings. Seeded, so a failure replays.

const SEED = 12_2026;
const RUNS = 300;
const SEGMENT_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=.+/';

/** Keys as users may write them, and as nobody should (`binary` makes lone surrogates). */
const key = fc.oneof(
  fc.string({ minLength: 1, maxLength: 64, unit: 'grapheme' }),
  fc.string({ minLength: 1, maxLength: 16, unit: 'binary' }),
);
const url = fc.webUrl({ withQueryParameters: true, withFragments: false });
const bytes = fc.uint8Array({ minLength: 0, maxLength: 256 });
const body = fc.oneof(bytes, fc.string({ maxLength: 64, unit: 'binary' }));
const nowMs = fc.integer({ min: 1_000_000_000, max: 9_999_999_999 }).map((s) => s * 1000);

type Decision = { ok: boolean; reason?: string; claims?: unknown } | { threw: string };

async function decide(run: () => Promise<{ ok: boolean }>): Promise<Decision> {
  try {
    return await run();
  } catch (error) {
    return { threw: error instanceof Error ? error.constructor.name : String(error) };
  }
}

/** Both verifiers over one request: the token, then (when it holds) the body. */
async function both(input: VerifyQStashTokenInput, raw: string | Uint8Array) {
  const one = async (primitives: QStashVerifyCrypto) => {
    const token = await decide(() => verifyQStashTokenWith(primitives, input));
    if (!('ok' in token) || !token.ok || token.claims === undefined) return { token, body: null };
    const claims = token.claims as Parameters<typeof verifyQStashBodyWith>[1];
    return { token, body: await decide(() => verifyQStashBodyWith(primitives, claims, raw)) };
  };
  return { web: await one(webCryptoQStash), node: await one(nodeQStashCrypto) };
}

function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

/** A token minted by hand: any header and claims (as JSON text), signed with `secret`. */
function mint(header: string, claims: string, secret: string): string {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

describe('nodeQStashCrypto decides as webCryptoQStash', () => {
  it('on tokens signed by the mesh, then tampered with or checked with other keys, URLs, bodies, times', async () => {
    await fc.assert(
      fc.asyncProperty(
        key,
        key,
        url,
        url,
        body,
        body,
        nowMs,
        fc.integer({ min: -400, max: 400 }),
        fc.record({
          index: fc.nat(),
          char: fc.constantFrom(...SEGMENT_CHARS),
          bit: fc.nat({ max: 255 }),
          what: fc.constantFrom('none', 'char', 'mac', 'key', 'next', 'url', 'body', 'truncate', 'append'),
        }),
        async (signing, other, target, elsewhere, raw, otherBody, at, skewSec, tamper) => {
          let token = await signQStashJwt({ key: signing, url: target, body: raw, nowMs: at });
          let keys: { current: string; next?: string } = { current: signing };
          let checkedUrl = target;
          let sent = raw;
          const index = tamper.index % token.length;
          if (tamper.what === 'char') token = token.slice(0, index) + tamper.char + token.slice(index + 1);
          if (tamper.what === 'mac') {
            // One bit of the MAC itself, re-encoded canonically: only the comparison can tell.
            const dot = token.lastIndexOf('.');
            const mac = Buffer.from(token.slice(dot + 1), 'base64url');
            mac[tamper.bit >> 3]! ^= 1 << (tamper.bit & 7);
            token = `${token.slice(0, dot + 1)}${mac.toString('base64url')}`;
          }
          if (tamper.what === 'truncate') token = token.slice(0, index);
          if (tamper.what === 'append') token = `${token}${tamper.char}`;
          if (tamper.what === 'key') keys = { current: other };
          if (tamper.what === 'next') keys = { current: other, next: signing };
          if (tamper.what === 'url') checkedUrl = elsewhere;
          if (tamper.what === 'body') sent = otherBody;
          const input = { signature: token, url: checkedUrl, keys, nowMs: at + skewSec * 1000 };
          const { web, node } = await both(input, sent);
          expect(node).toEqual(web);
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('on hand-made headers and claims (algorithms, types, missing or mistyped claims, crit)', async () => {
    const header = fc.oneof(
      fc.constant('{"alg":"HS256","typ":"JWT"}'),
      fc.constant('{"typ":"JWT","alg":"HS256"}'),
      fc.constant('{"alg":"HS256"}'),
      fc.constantFrom('{"alg":"none"}', '{"alg":"HS512","typ":"JWT"}', '{"alg":"HS256","typ":"jwt"}'),
      fc.constant('{"alg":"HS256","crit":["b64"]}'),
      fc.constantFrom('[]', 'null', '"HS256"', '{', ''),
      fc.json(),
    );
    const claim = (value: fc.Arbitrary<unknown>) => fc.option(value, { nil: undefined });
    const claims = fc.record(
      {
        iss: claim(fc.oneof(fc.constant('Upstash'), fc.string(), fc.integer())),
        sub: claim(fc.oneof(fc.constant('https://h.example/webhooks/x'), fc.string())),
        iat: claim(fc.oneof(fc.integer(), fc.double(), fc.string())),
        nbf: claim(fc.oneof(fc.constant(1_900_000_000), fc.integer(), fc.constant(Number.NaN))),
        exp: claim(fc.oneof(fc.constant(1_900_000_300), fc.integer(), fc.double())),
        jti: claim(fc.oneof(fc.string(), fc.constant(''), fc.integer())),
        body: claim(
          fc.oneof(fc.constant(createHash('sha256').update('{}').digest('base64url')), fc.string()),
        ),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(header, claims, key, fc.boolean(), async (head, payload, secret, asText) => {
        const json = asText ? JSON.stringify(payload) : JSON.stringify({ ...payload, extra: [1, { a: 2 }] });
        const token = mint(head, json, secret);
        const input = {
          signature: token,
          url: 'https://h.example/webhooks/x',
          keys: { current: secret },
          nowMs: 1_900_000_100_000,
        };
        const { web, node } = await both(input, '{}');
        expect(node).toEqual(web);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('on random strings as tokens, and on keys the verifier must refuse to use', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 400 }),
          fc.stringMatching(/^[A-Za-z0-9_-]{1,40}(\.[A-Za-z0-9_=-]{0,60}){2}$/),
        ),
        fc.constantFrom('k', '', 'sig_current'),
        fc.constantFrom(undefined, '', 'sig_next'),
        async (token, current, next) => {
          const input = {
            signature: token,
            url: 'https://h.example/',
            keys: next === undefined ? { current } : { current, next },
            nowMs: 1_900_000_000_000,
          };
          const { web, node } = await both(input, new Uint8Array(0));
          expect(node).toEqual(web);
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('throws for an empty key as WebCrypto does, once the MAC is checked against it', async () => {
    const token = await signQStashJwt({
      key: 'k',
      url: 'https://h.example/',
      body: '',
      nowMs: 1_900_000_000_000,
    });
    const input = {
      signature: token,
      url: 'https://h.example/',
      keys: { current: '' },
      nowMs: 1_900_000_000_000,
    };
    const { web, node } = await both(input, '');
    expect(web.token).toEqual({ threw: 'TypeError' });
    expect(node).toEqual(web);
  });
});
