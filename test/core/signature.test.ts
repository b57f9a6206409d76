import { createHash, createHmac } from 'node:crypto';
import { Receiver } from '@upstash/qstash';
import { describe, expect, it } from 'vitest';
import {
  type QStashClaims,
  signQStashJwt,
  toQStashTokenDeadlineMs,
  verifyQStashBody,
  verifyQStashSignature,
  verifyQStashToken,
} from '../../src/core/signature.ts';

const CURRENT = 'sig_current_7kYjw48mhY7kAjqNGcy6cr29RJ6r';
const NEXT = 'sig_next_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs';
const URL_ = 'https://billing.example.com/webhooks/order.created.v1';
const BODY = '{"orderId":"o_1","total":42,"note":"crème brûlée ✓"}';
// A whole second, so iat = NOW / 1000 exactly and the expiry boundaries below are exact.
const NOW = 1_700_000_000_000;
const KEYS = { current: CURRENT, next: NEXT };
const encoder = new TextEncoder();

/** An independent minting, with node:crypto rather than WebCrypto, following QStash's documented format. */
function mintByHand(options: {
  header?: Record<string, unknown>;
  claims?: Record<string, unknown>;
  key?: string;
  hmac?: 'sha256' | 'sha512' | 'none';
}): string {
  const iat = NOW / 1000;
  const header = options.header ?? { alg: 'HS256', typ: 'JWT' };
  const claims = options.claims ?? {
    iss: 'Upstash',
    sub: URL_,
    exp: iat + 300,
    nbf: iat,
    iat,
    jti: 'jwt_handmade',
    body: createHash('sha256').update(BODY).digest('base64url'),
  };
  const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const hmac = options.hmac ?? 'sha256';
  const mac =
    hmac === 'none'
      ? ''
      : createHmac(hmac, options.key ?? CURRENT)
          .update(signingInput)
          .digest('base64url');
  return `${signingInput}.${mac}`;
}

function b64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

function decodePart(token: string, index: number): unknown {
  return JSON.parse(Buffer.from(token.split('.')[index]!, 'base64url').toString('utf8'));
}

function verify(
  signature: string | null | undefined,
  overrides: Partial<Parameters<typeof verifyQStashSignature>[0]> = {},
) {
  return verifyQStashSignature({ signature, body: BODY, url: URL_, keys: KEYS, nowMs: NOW, ...overrides });
}

// devMode: false pins the Receiver to the keys given here: left undefined it would consult QSTASH_DEV.
const receiver = new Receiver({ currentSigningKey: CURRENT, nextSigningKey: NEXT, devMode: false });

// The refusal table is built at collection time (top-level await): it.each needs its rows up front.
const good = await signQStashJwt({ key: CURRENT, url: URL_, body: BODY, nowMs: NOW });
const [h, p, mac] = good.split('.') as [string, string, string];
const iat = NOW / 1000;
const claims = {
  iss: 'Upstash',
  sub: URL_,
  exp: iat + 300,
  nbf: iat,
  iat,
  jti: 'jwt_x',
  body: createHash('sha256').update(BODY).digest('base64url'),
};
const { exp: _exp, ...withoutExp } = claims;
// 32 MAC bytes take 43 characters, whose last 2 bits decoders discard: flipping one keeps the
// bytes and changes the spelling.
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const respelled = `${mac.slice(0, -1)}${ALPHABET[ALPHABET.indexOf(mac.at(-1)!) ^ 1]}`;

const cases: [string, string | null | undefined, Record<string, unknown>, string][] = [
  ['no header', undefined, {}, 'missing'],
  ['a null header', null, {}, 'missing'],
  ['an empty header', '', {}, 'missing'],
  ['garbage', 'garbage', {}, 'malformed'],
  ['two parts', `${h}.${p}`, {}, 'malformed'],
  ['four parts', `${good}.x`, {}, 'malformed'],
  ['one part', `${h}${p}${mac}`, {}, 'malformed'],
  ['three empty parts', '..', {}, 'malformed'],
  ['an empty MAC', `${h}.${p}.`, {}, 'malformed'],
  ['a dot after the MAC', `${good}.`, {}, 'malformed'],
  ['a header that is not JSON', `bm90IGpzb24.${p}.${mac}`, {}, 'malformed'],
  ['a non-base64url character', `${h}.${p}.${mac.slice(0, -1)}=`, {}, 'malformed'],
  ['a respelled MAC', `${h}.${p}.${respelled}`, {}, 'malformed'],
  [
    'a signature made with another key',
    await signQStashJwt({ key: 'sig_other', url: URL_, body: BODY, nowMs: NOW }),
    {},
    'signature',
  ],
  [
    'a tampered payload',
    `${h}.${b64url(JSON.stringify({ ...claims, sub: 'https://evil.example/' }))}.${mac}`,
    {},
    'signature',
  ],
  ['a body changed by one byte', good, { body: BODY.replace('42', '43') }, 'body'],
  ['a body with a byte appended', good, { body: `${BODY} ` }, 'body'],
  ['another URL', good, { url: 'https://billing.example.com/webhooks/order.paid.v1' }, 'subject'],
  ['the URL with a trailing slash', good, { url: `${URL_}/` }, 'subject'],
  ['an expired token', good, { nowMs: NOW + 301_000, clockToleranceSec: 0 }, 'expired'],
  ['a token from the future', good, { nowMs: NOW - 60_000 }, 'not_yet_valid'],
  ['alg none, unsigned', mintByHand({ header: { alg: 'none', typ: 'JWT' }, hmac: 'none' }), {}, 'algorithm'],
  ['alg none, with a valid HS256 MAC', mintByHand({ header: { alg: 'none', typ: 'JWT' } }), {}, 'algorithm'],
  [
    'alg HS512 with the right key',
    mintByHand({ header: { alg: 'HS512', typ: 'JWT' }, hmac: 'sha512' }),
    {},
    'algorithm',
  ],
  ['alg RS256', mintByHand({ header: { alg: 'RS256', typ: 'JWT' } }), {}, 'algorithm'],
  ['no alg', mintByHand({ header: { typ: 'JWT' } }), {}, 'algorithm'],
  [
    'a crit header',
    mintByHand({ header: { alg: 'HS256', typ: 'JWT', crit: ['b64'], b64: false } }),
    {},
    'malformed',
  ],
  ['another issuer', mintByHand({ claims: { ...claims, iss: 'Upstash2' } }), {}, 'issuer'],
  ['no exp', mintByHand({ claims: withoutExp }), {}, 'malformed'],
  ['exp as a string', mintByHand({ claims: { ...claims, exp: String(iat + 300) } }), {}, 'malformed'],
  // The jti is what a replay is recognised by: a token without one cannot be told from its copies.
  ['an empty jti', mintByHand({ claims: { ...claims, jti: '' } }), {}, 'malformed'],
  [
    'a payload that is an array',
    mintByHand({ claims: [claims] as unknown as Record<string, unknown> }),
    {},
    'malformed',
  ],
];

describe('signQStashJwt', () => {
  it('mints QStash’s exact header and claims', async () => {
    const token = await signQStashJwt({ key: CURRENT, url: URL_, body: BODY, nowMs: NOW + 999 });
    const [header] = token.split('.');
    expect(Buffer.from(header!, 'base64url').toString('utf8')).toBe('{"alg":"HS256","typ":"JWT"}');
    const claims = decodePart(token, 1) as QStashClaims;
    expect(claims).toEqual({
      iss: 'Upstash',
      sub: URL_,
      iat: NOW / 1000,
      nbf: NOW / 1000,
      exp: NOW / 1000 + 300,
      jti: expect.stringMatching(/^jwt_[0-9a-f]{32}$/),
      body: createHash('sha256').update(BODY).digest('base64url'),
    });
    expect(claims.body).not.toContain('=');
    expect(token).not.toMatch(/[=+/]/);
  });

  it('gives every token its own jti', async () => {
    const tokens = await Promise.all(
      Array.from({ length: 20 }, () => signQStashJwt({ key: CURRENT, url: URL_, body: BODY, nowMs: NOW })),
    );
    const jtis = new Set(tokens.map((t) => (decodePart(t, 1) as QStashClaims).jti));
    expect(jtis.size).toBe(20);
  });

  it('leads each jti with its signing time, so the ids of a second sort as they were signed', async () => {
    // The inbox keys its token records by (deadline, jti): ordered ids land at the edge of its B-tree.
    const times = [NOW + 2, NOW + 1, NOW + 1_000];
    const jtis: string[] = [];
    for (const nowMs of times) {
      const token = await signQStashJwt({ key: CURRENT, url: URL_, body: BODY, nowMs });
      jtis.push((decodePart(token, 1) as QStashClaims).jti);
    }
    for (const jti of jtis) expect(jti).toMatch(/^jwt_[0-9a-f]{32}$/);
    expect(jtis.map((jti) => jti.slice(4, 16))).toEqual(times.map((ms) => ms.toString(16).padStart(12, '0')));
    expect([...jtis].sort()).toEqual([jtis[1], jtis[0], jtis[2]]);
  });

  it('uses a given jti', async () => {
    const token = await signQStashJwt({ key: CURRENT, url: URL_, body: BODY, nowMs: NOW, jti: 'jwt_fixed' });
    expect((decodePart(token, 1) as QStashClaims).jti).toBe('jwt_fixed');
  });

  it('signs the same bytes the same way whether given a string or a Uint8Array', async () => {
    const fromString = await signQStashJwt({ key: CURRENT, url: URL_, body: BODY, nowMs: NOW, jti: 'j' });
    const bytes = new TextEncoder().encode(BODY);
    const fromBytes = await signQStashJwt({ key: CURRENT, url: URL_, body: bytes, nowMs: NOW, jti: 'j' });
    expect(fromBytes).toBe(fromString);
  });

  it('matches an independent HMAC over the same signing input', async () => {
    const token = await signQStashJwt({ key: CURRENT, url: URL_, body: BODY, nowMs: NOW });
    const [h, p, mac] = token.split('.');
    expect(mac).toBe(createHmac('sha256', CURRENT).update(`${h}.${p}`).digest('base64url'));
  });

  it('keeps working past the key cache’s bound', async () => {
    for (let i = 0; i < 20; i++) {
      const key = `sig_rotating_${i}`;
      const token = await signQStashJwt({ key, url: URL_, body: BODY, nowMs: NOW });
      expect((await verify(token, { keys: { current: key } })).ok).toBe(true);
    }
  });

  it('refuses an empty key', async () => {
    await expect(signQStashJwt({ key: '', url: URL_, body: BODY, nowMs: NOW })).rejects.toThrow(TypeError);
  });
});

describe('verifyQStashSignature', () => {
  it('accepts its own tokens and returns the claims', async () => {
    const token = await signQStashJwt({ key: CURRENT, url: URL_, body: BODY, nowMs: NOW, jti: 'jwt_1' });
    const result = await verify(token);
    expect(result).toEqual({
      ok: true,
      claims: {
        iss: 'Upstash',
        sub: URL_,
        iat: NOW / 1000,
        nbf: NOW / 1000,
        exp: NOW / 1000 + 300,
        jti: 'jwt_1',
        body: createHash('sha256').update(BODY).digest('base64url'),
      },
    });
  });

  it('accepts raw bytes that are not valid UTF-8 (the body is hashed as received)', async () => {
    const body = new Uint8Array([0xff, 0xfe, 0x00, 0x7b]);
    const token = await signQStashJwt({ key: CURRENT, url: URL_, body, nowMs: NOW });
    expect((await verify(token, { body })).ok).toBe(true);
    expect(await verify(token, { body: new Uint8Array([0xff, 0xfe, 0x00, 0x7c]) })).toEqual({
      ok: false,
      reason: 'body',
    });
  });

  it('accepts a token minted by hand per QStash’s documented format', async () => {
    expect((await verify(mintByHand({}))).ok).toBe(true);
  });

  it('accepts a body hash with = padding', async () => {
    const padded = createHash('sha256').update(BODY).digest('base64').replace(/\+/g, '-').replace(/\//g, '_');
    expect(padded.endsWith('=')).toBe(true);
    const iat = NOW / 1000;
    const token = mintByHand({
      claims: { iss: 'Upstash', sub: URL_, exp: iat + 300, nbf: iat, iat, jti: 'jwt_p', body: padded },
    });
    expect((await verify(token)).ok).toBe(true);
  });

  it('answers with the seven claims alone, whatever else a signed token carries', async () => {
    // `claims`: the seven, as the mesh signs them.
    const verified = await verify(mintByHand({ claims: { ...claims, extra: 'not a claim of ours' } }));
    expect(verified).toEqual({ ok: true, claims });
  });

  it('refuses a padded body hash that differs from the body’s', async () => {
    const iat = NOW / 1000;
    const other = createHash('sha256')
      .update(`${BODY} `)
      .digest('base64')
      .replace(/\+/g, '-')
      .replace(/\//g, '_');
    expect(other.endsWith('=')).toBe(true);
    const token = mintByHand({
      claims: { iss: 'Upstash', sub: URL_, exp: iat + 300, nbf: iat, iat, jti: 'jwt_q', body: other },
    });
    expect(await verify(token)).toEqual({ ok: false, reason: 'body' });
  });

  it('tries the next key after the current one (rotation)', async () => {
    const token = await signQStashJwt({ key: NEXT, url: URL_, body: BODY, nowMs: NOW });
    expect((await verify(token)).ok).toBe(true);
    expect(await verify(token, { keys: { current: CURRENT } })).toEqual({ ok: false, reason: 'signature' });
    expect(await verify(token, { keys: { current: CURRENT, next: undefined } })).toEqual({
      ok: false,
      reason: 'signature',
    });
  });

  it('reports an expired token as expired, not as a bad signature, even with two keys', async () => {
    const token = await signQStashJwt({ key: CURRENT, url: URL_, body: BODY, nowMs: NOW });
    expect(await verify(token, { nowMs: NOW + 301_000, clockToleranceSec: 0 })).toEqual({
      ok: false,
      reason: 'expired',
    });
  });

  it('applies the clock tolerance (5 s by default) to exp and nbf', async () => {
    const token = await signQStashJwt({ key: CURRENT, url: URL_, body: BODY, nowMs: NOW });
    expect((await verify(token, { nowMs: NOW + 300_000 - 1 })).ok).toBe(true);
    expect((await verify(token, { nowMs: NOW + 301_000 })).ok).toBe(true);
    expect(await verify(token, { nowMs: NOW + 305_000 })).toEqual({ ok: false, reason: 'expired' });
    expect(await verify(token, { nowMs: NOW + 300_000, clockToleranceSec: 0 })).toEqual({
      ok: false,
      reason: 'expired',
    });
    expect((await verify(token, { nowMs: NOW - 5_000 })).ok).toBe(true);
    expect(await verify(token, { nowMs: NOW - 6_000 })).toEqual({ ok: false, reason: 'not_yet_valid' });
    expect(await verify(token, { nowMs: NOW - 1_000, clockToleranceSec: 0 })).toEqual({
      ok: false,
      reason: 'not_yet_valid',
    });
  });

  it('throws on a negative tolerance (a configuration error, not a bad request)', async () => {
    const token = await signQStashJwt({ key: CURRENT, url: URL_, body: BODY, nowMs: NOW });
    await expect(verify(token, { clockToleranceSec: -1 })).rejects.toThrow(RangeError);
  });

  it('throws on an empty current key', async () => {
    const token = await signQStashJwt({ key: CURRENT, url: URL_, body: BODY, nowMs: NOW });
    await expect(verify(token, { keys: { current: '' } })).rejects.toThrow(TypeError);
  });

  it('ignores an empty next key (an unset env var)', async () => {
    const token = await signQStashJwt({ key: CURRENT, url: URL_, body: BODY, nowMs: NOW });
    expect((await verify(token, { keys: { current: CURRENT, next: '' } })).ok).toBe(true);
  });

  describe('refuses, with the reason', () => {
    it('(the respelled MAC below really is the same bytes)', () => {
      expect(respelled).not.toBe(mac);
      expect(Buffer.from(respelled, 'base64url')).toEqual(Buffer.from(mac, 'base64url'));
    });

    it.each(cases)('%s', async (_name, signature, overrides, reason) => {
      expect(await verify(signature, overrides)).toEqual({ ok: false, reason });
    });
  });
});

describe('verifyQStashToken, then verifyQStashBody: the same verdicts in two steps', () => {
  it('the token alone decides every reason but the body, without being given one', async () => {
    for (const [, signature, overrides, reason] of cases) {
      const { body: _body, ...rest } = overrides;
      const token = await verifyQStashToken({ signature, url: URL_, keys: KEYS, nowMs: NOW, ...rest });
      if (reason === 'body') expect(token.ok).toBe(true);
      else expect(token).toEqual({ ok: false, reason });
    }
  });

  it('then the body against the claims: ok with the same claims, or body', async () => {
    const token = await verifyQStashToken({ signature: good, url: URL_, keys: KEYS, nowMs: NOW });
    if (!token.ok) throw new Error('the good token must verify');
    expect(await verifyQStashBody(token.claims, BODY)).toEqual(await verify(good));
    expect(await verifyQStashBody(token.claims, encoder.encode(BODY))).toEqual({
      ok: true,
      claims: token.claims,
    });
    expect(await verifyQStashBody(token.claims, `${BODY} `)).toEqual({ ok: false, reason: 'body' });
  });
});

describe('toQStashTokenDeadlineMs', () => {
  it('is the first moment the verifier refuses the token as expired', async () => {
    for (const tolerance of [0, 5, 2.5]) {
      const deadline = toQStashTokenDeadlineMs(iat + 300, tolerance);
      const at = (nowMs: number) => verify(good, { nowMs, clockToleranceSec: tolerance });
      expect((await at(deadline - 1)).ok).toBe(true);
      expect(await at(deadline)).toEqual({ ok: false, reason: 'expired' });
    }
  });
});

describe('@upstash/qstash Receiver', () => {
  it('verifies hookmesh’s tokens signed with the current key', async () => {
    const token = await signQStashJwt({ key: CURRENT, url: URL_, body: BODY, nowMs: Date.now() });
    await expect(
      receiver.verify({ signature: token, body: BODY, url: URL_, clockTolerance: 5 }),
    ).resolves.toBe(true);
  });

  it('verifies hookmesh’s tokens signed with the next key (after rotation)', async () => {
    const token = await signQStashJwt({ key: NEXT, url: URL_, body: BODY, nowMs: Date.now() });
    await expect(
      receiver.verify({ signature: token, body: BODY, url: URL_, clockTolerance: 5 }),
    ).resolves.toBe(true);
  });

  it('refuses hookmesh’s tokens for another URL, another body or another key', async () => {
    const token = await signQStashJwt({ key: CURRENT, url: URL_, body: BODY, nowMs: Date.now() });
    await expect(receiver.verify({ signature: token, body: BODY, url: `${URL_}x` })).rejects.toThrow();
    await expect(receiver.verify({ signature: token, body: `${BODY} `, url: URL_ })).rejects.toThrow();
    const stranger = await signQStashJwt({ key: 'sig_other', url: URL_, body: BODY, nowMs: Date.now() });
    await expect(receiver.verify({ signature: stranger, body: BODY, url: URL_ })).rejects.toThrow();
  });

  it('agrees with ours on a hand-minted token', async () => {
    const iat = Math.floor(Date.now() / 1000);
    const token = mintByHand({
      claims: {
        iss: 'Upstash',
        sub: URL_,
        exp: iat + 300,
        nbf: iat,
        iat,
        jti: 'jwt_hand',
        body: createHash('sha256').update(BODY).digest('base64url'),
      },
    });
    await expect(
      receiver.verify({ signature: token, body: BODY, url: URL_, clockTolerance: 5 }),
    ).resolves.toBe(true);
    expect((await verify(token, { nowMs: Date.now() })).ok).toBe(true);
  });
});
