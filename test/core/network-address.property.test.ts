import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkSubscriptionUrl, isForbiddenHostname, parseIpLiteral } from '../../src/core/network-address.ts';

// DESIGN "Trust": an API-created subscription may not target loopback, private, link-local,
// unique-local or metadata addresses "in every spelling: decimal, hex, octal, IPv4-mapped IPv6".
// Here every address of those ranges is spelled every way an inet_aton-style or WHATWG parser
// reads it, and WHATWG URL (what `fetch` and undici connect with) is the oracle for what a
// spelling means.

const SEED = 8_2026;
const RUNS = 500;
const STRICT = { requireHttps: false, allowPrivateNetwork: false } as const;

/** [first address, prefix bits] of every IPv4 range the mesh refuses. */
const FORBIDDEN: readonly (readonly [number, number])[] = [
  [ip(0, 0, 0, 0), 8],
  [ip(10, 0, 0, 0), 8],
  [ip(100, 64, 0, 0), 10],
  [ip(127, 0, 0, 0), 8],
  [ip(169, 254, 0, 0), 16],
  [ip(172, 16, 0, 0), 12],
  [ip(192, 168, 0, 0), 16],
  [ip(198, 18, 0, 0), 15],
  [ip(224, 0, 0, 0), 4],
  [ip(240, 0, 0, 0), 4],
];

function ip(a: number, b: number, c: number, d: number): number {
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

function inForbiddenRange(address: number): boolean {
  return FORBIDDEN.some(([base, bits]) => address >>> (32 - bits) === base >>> (32 - bits));
}

const forbiddenIpv4 = fc
  .constantFrom(...FORBIDDEN)
  .chain(([base, bits]) =>
    fc.integer({ min: 0, max: 2 ** (32 - bits) - 1 }).map((low) => (base + low) >>> 0),
  );
// The named ones people aim at: loopback and cloud metadata.
const favouriteIpv4 = fc.constantFrom(
  ip(127, 0, 0, 1),
  ip(169, 254, 169, 254),
  ip(10, 0, 0, 1),
  ip(0, 0, 0, 0),
);
const privateIpv4 = fc.oneof(forbiddenIpv4, favouriteIpv4);
const publicIpv4 = fc.nat({ max: 0xffffffff }).filter((n) => !inForbiddenRange(n));

/** One number of an inet_aton spelling: decimal, octal (leading 0) or hex (0x, either case), padded. */
const numberSpelling = (value: number) =>
  fc.oneof(
    fc.constant(String(value)),
    fc.nat({ max: 3 }).map((zeros) => `0${'0'.repeat(zeros)}${value.toString(8)}`),
    fc.tuple(fc.constantFrom('0x', '0X'), fc.nat({ max: 3 }), fc.boolean()).map(([prefix, zeros, upper]) => {
      const hex = value.toString(16);
      return `${prefix}${'0'.repeat(zeros)}${upper ? hex.toUpperCase() : hex}`;
    }),
  );

/** An IPv4 address as 1 to 4 parts, the last one filling the remaining bytes; maybe a trailing dot. */
const ipv4Spelling = (address: number) =>
  fc.integer({ min: 1, max: 4 }).chain((parts) => {
    const bytes = [address >>> 24, (address >>> 16) & 0xff, (address >>> 8) & 0xff, address & 0xff];
    const lead = bytes.slice(0, parts - 1);
    const rest = bytes.slice(parts - 1).reduce((n, b) => n * 256 + b, 0);
    return fc
      .tuple(fc.tuple(...[...lead, rest].map(numberSpelling)), fc.boolean())
      .map(([spelled, dot]) => `${spelled.join('.')}${dot ? '.' : ''}`);
  });

const hex16 = (n: number, upper: boolean) => (upper ? n.toString(16).toUpperCase() : n.toString(16));

/** IPv6 spellings that carry the IPv4 address: mapped (dotted or hex tail, compressed or not). */
const mappedSpelling = (address: number) =>
  fc.tuple(fc.constantFrom('dotted', 'hex', 'full'), fc.boolean()).map(([form, upper]) => {
    const dotted = [address >>> 24, (address >>> 16) & 0xff, (address >>> 8) & 0xff, address & 0xff].join(
      '.',
    );
    const [hi, lo] = [hex16(address >>> 16, upper), hex16(address & 0xffff, upper)];
    const ffff = upper ? 'FFFF' : 'ffff';
    if (form === 'dotted') return `[::${ffff}:${dotted}]`;
    if (form === 'hex') return `[::${ffff}:${hi}:${lo}]`;
    return `[0:0:0:0:0:${ffff}:${hi}:${lo}]`;
  });

const hostSpelling = (address: number) =>
  fc.oneof(
    { weight: 3, arbitrary: ipv4Spelling(address) },
    { weight: 1, arbitrary: mappedSpelling(address) },
  );

/** What WHATWG URL makes of a host: the address an HTTP client would connect to, as bytes. */
function whatwgBytes(host: string): number[] | null {
  const hostname = new URL(`http://${host}/`).hostname;
  const parsed = parseIpLiteral(hostname);
  return parsed === null ? null : [...parsed.bytes];
}

function toBytes(address: number): number[] {
  return [address >>> 24, (address >>> 16) & 0xff, (address >>> 8) & 0xff, address & 0xff];
}

describe('network address rules — properties', () => {
  it('reads every IPv4 spelling as WHATWG URL does', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 0xffffffff }).chain((a) => fc.tuple(fc.constant(a), ipv4Spelling(a))),
        ([address, spelling]) => {
          const parsed = parseIpLiteral(spelling);
          expect(parsed && [...parsed.bytes]).toEqual(toBytes(address));
          expect(whatwgBytes(spelling)).toEqual(toBytes(address));
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('refuses every spelling of a loopback, private, link-local or metadata IPv4 address', () => {
    fc.assert(
      fc.property(
        privateIpv4.chain((a) => fc.tuple(fc.constant(a), hostSpelling(a), fc.constantFrom('http', 'https'))),
        fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
        ([, host, scheme], port) => {
          const url = `${scheme}://${host}${port === undefined ? '' : `:${port}`}/webhooks/x`;
          expect(isForbiddenHostname(host.replace(/^\[|\]$/g, ''))).toBe(true);
          const check = checkSubscriptionUrl(url, STRICT);
          expect(check.ok, url).toBe(false);
          // Allowed again only where the operator says so (development).
          expect(checkSubscriptionUrl(url, { ...STRICT, allowPrivateNetwork: true }).ok).toBe(true);
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('refuses them through the other IPv6 forms that reach an IPv4 address (NAT64, 6to4)', () => {
    fc.assert(
      fc.property(privateIpv4, fc.constantFrom('nat64', '6to4'), (address, form) => {
        const [hi, lo] = [hex16(address >>> 16, false), hex16(address & 0xffff, false)];
        const host = form === 'nat64' ? `[64:ff9b::${hi}:${lo}]` : `[2002:${hi}:${lo}::1]`;
        expect(checkSubscriptionUrl(`https://${host}/`, STRICT).ok, host).toBe(false);
      }),
      { seed: SEED, numRuns: RUNS / 2 },
    );
  });

  it('allows every spelling of a public IPv4 address', () => {
    fc.assert(
      fc.property(
        publicIpv4.chain((a) => fc.tuple(fc.constant(a), hostSpelling(a))),
        ([address, host]) => {
          expect(whatwgBytes(host)?.slice(-4)).toEqual(toBytes(address));
          const check = checkSubscriptionUrl(`https://${host}/hook`, STRICT);
          expect(check.ok, host).toBe(true);
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('never lets a URL through whose WHATWG reading is a forbidden address, whatever the text', () => {
    // Arbitrary hosts glued from the pieces spellings are made of: whatever URL makes of them, a
    // URL the check accepts must not connect to a forbidden IPv4 address.
    const piece = fc.constantFrom(
      '0',
      '1',
      '7f',
      '0x7f',
      '0x',
      '00',
      '127',
      '255',
      '256',
      '.',
      '..',
      '169',
      '254',
      '10',
      'a',
      'f',
    );
    fc.assert(
      fc.property(fc.array(piece, { minLength: 1, maxLength: 8 }), (pieces) => {
        const host = pieces.join('');
        const url = `http://${host}/`;
        if (!URL.canParse(url)) return;
        const bytes = whatwgBytes(host);
        if (bytes === null || bytes.length !== 4) return;
        const address = ip(bytes[0]!, bytes[1]!, bytes[2]!, bytes[3]!);
        expect(checkSubscriptionUrl(url, STRICT).ok, host).toBe(!inForbiddenRange(address));
      }),
      { seed: SEED, numRuns: RUNS * 2 },
    );
  });
});
