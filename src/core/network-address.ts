/**
 * Which network addresses an untrusted (API-created) subscription may target. A webhook mesh makes
 * requests on a stranger's behalf; without these rules a subscription to `http://169.254.169.254/`
 * or `http://0x7f.1:6379/` turns it into a proxy into the operator's own network (SSRF).
 *
 * The rules run twice: on the URL when the subscription is created (here), and on the resolved
 * address when the dispatcher connects (it calls `parseIpLiteral` + `isForbiddenAddress`), because a
 * name can resolve somewhere else tomorrow.
 */

/** An IP address as bytes: 4 for IPv4, 16 for IPv6, network order. */
export interface IpAddress {
  readonly family: 4 | 6;
  readonly bytes: Uint8Array;
}

export interface SubscriptionUrlRules {
  /** Production: plain http would expose the signed body and its token in transit. */
  requireHttps: boolean;
  /** `HOOKMESH_ALLOW_PRIVATE_NETWORK`: lets loopback/private targets through (development). */
  allowPrivateNetwork: boolean;
}

export type SubscriptionUrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

/**
 * Parses a host that is an IP literal, in every spelling a URL parser or the OS resolver accepts —
 * for IPv4 the inet_aton forms WHATWG URL also follows: 1 to 4 parts, each decimal, hex (`0x`) or
 * octal (leading `0`), the last part filling the remaining bytes (`127.1`, `2130706433`). IPv6 with
 * or without brackets, `::`, an embedded dotted IPv4 tail, and a zone id (`%eth0`, dropped).
 * Returns null for anything else, i.e. a name to be resolved.
 * @example parseIpLiteral('0x7f.1') // { family: 4, bytes: Uint8Array [127, 0, 0, 1] }
 */
export function parseIpLiteral(host: string): IpAddress | null {
  if (host.startsWith('[')) return host.endsWith(']') ? parseIpv6(host.slice(1, -1)) : null;
  if (host.includes(':')) return parseIpv6(host);
  return parseIpv4(host);
}

/**
 * Whether an address is off limits to untrusted subscriptions: loopback, unspecified, private,
 * CGNAT, link-local (cloud metadata), unique-local, multicast, reserved, benchmarking. IPv6 forms
 * that carry an IPv4 address (mapped, compatible, translated, NAT64, 6to4) are judged by that IPv4
 * address, since that is where the packets end up.
 * @example isForbiddenAddress(parseIpLiteral('::ffff:169.254.169.254')!) // true
 */
export function isForbiddenAddress(addr: IpAddress): boolean {
  const { bytes } = addr;
  // Malformed input fails closed: an address we cannot read is not one we connect to.
  if (addr.family === 4) return bytes.length !== 4 || FORBIDDEN_IPV4.some((range) => inRange(bytes, range));
  if (bytes.length !== 16) return true;
  if (FORBIDDEN_IPV6.some((range) => inRange(bytes, range))) return true;
  for (const range of IPV4_CARRYING_IPV6) {
    if (inRange(bytes, range)) {
      const ipv4 = bytes.subarray(range.offset, range.offset + 4);
      return FORBIDDEN_IPV4.some((r) => inRange(ipv4, r));
    }
  }
  return false;
}

/**
 * Whether a URL host is forbidden on its face: a forbidden IP literal in any spelling, the
 * `localhost` family (resolvers answer `*.localhost` with loopback, RFC 6761), or a cloud metadata
 * name (`metadata.google.internal`, and `metadata`, which GCE's search domain completes to it).
 * Other names pass: they are judged by the address they resolve to, at connect time.
 * @example isForbiddenHostname('foo.localhost') // true
 */
export function isForbiddenHostname(host: string): boolean {
  const literal = parseIpLiteral(host);
  if (literal !== null) return isForbiddenAddress(literal);
  // `localhost.` is the same name as `localhost` to a resolver.
  const name = host.toLowerCase().replace(/\.+$/, '');
  return name === 'localhost' || name.endsWith('.localhost') || METADATA_NAMES.has(name);
}

/**
 * Validates the URL of a subscription created through the API (DESIGN "Trust"): absolute, http(s)
 * (https only when `requireHttps`), no credentials, and — unless `allowPrivateNetwork` — no
 * forbidden host. Both the host as written and as WHATWG URL normalised it are checked: the parser
 * already turns `2130706433` into `127.0.0.1`, but other code may read the stored string differently.
 * @example
 * checkSubscriptionUrl('http://2130706433/', { requireHttps: false, allowPrivateNetwork: false })
 * // { ok: false, reason: 'URL must not target a loopback, private, link-local or metadata address' }
 */
export function checkSubscriptionUrl(url: string, rules: SubscriptionUrlRules): SubscriptionUrlCheck {
  if (!URL.canParse(url)) return { ok: false, reason: 'URL must be absolute' };
  const parsed = new URL(url);
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    return { ok: false, reason: 'URL must use http or https' };
  }
  if (rules.requireHttps && parsed.protocol !== 'https:') return { ok: false, reason: 'URL must use https' };
  const authority = rawAuthority(url);
  // Credentials in a URL end up in logs, the dashboard and API answers; an empty `@` is refused too,
  // so what is stored never looks like it carries any.
  if (parsed.username !== '' || parsed.password !== '' || authority?.includes('@')) {
    return { ok: false, reason: 'URL must not contain credentials' };
  }
  if (!rules.allowPrivateNetwork) {
    const rawHost = authority === null ? null : hostOf(authority);
    if (isForbiddenHostname(parsed.hostname) || (rawHost !== null && isForbiddenHostname(rawHost))) {
      return { ok: false, reason: 'URL must not target a loopback, private, link-local or metadata address' };
    }
  }
  return { ok: true, url: parsed };
}

// Declared before the range tables below, which are parsed at module load.
const HEX_GROUP = /^[0-9a-f]{1,4}$/i;
const DOTTED_QUAD = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

const METADATA_NAMES: ReadonlySet<string> = new Set(['metadata.google.internal', 'metadata']);

interface Range {
  readonly prefix: Uint8Array;
  readonly bits: number;
}

function range(address: string, bits: number): Range {
  const parsed = parseIpLiteral(address);
  if (parsed === null) throw new Error(`bad range literal ${address}`);
  return { prefix: parsed.bytes, bits };
}

const FORBIDDEN_IPV4: readonly Range[] = [
  range('0.0.0.0', 8), // "this network"; connecting to 0.0.0.0 reaches the local host
  range('10.0.0.0', 8), // private
  range('100.64.0.0', 10), // CGNAT shared space (Alibaba Cloud's metadata, 100.100.100.200, lives here)
  range('127.0.0.0', 8), // loopback
  range('169.254.0.0', 16), // link-local: cloud metadata at 169.254.169.254
  range('172.16.0.0', 12), // private
  range('192.168.0.0', 16), // private
  range('198.18.0.0', 15), // benchmarking, used inside some operators' networks
  range('224.0.0.0', 4), // multicast
  range('240.0.0.0', 4), // reserved, and the broadcast 255.255.255.255
];

const FORBIDDEN_IPV6: readonly Range[] = [
  range('::', 128), // unspecified
  range('::1', 128), // loopback
  range('fe80::', 10), // link-local
  range('fec0::', 10), // site-local: deprecated, still private where a stack honours it
  range('fc00::', 7), // unique-local, including AWS's metadata at fd00:ec2::254
  range('ff00::', 8), // multicast
  range('64:ff9b:1::', 48), // local-use NAT64 (RFC 8215): translates into the operator's own space
];

/** IPv6 forms whose packets reach an IPv4 address written inside them, at `offset`. */
const IPV4_CARRYING_IPV6: readonly (Range & { readonly offset: number })[] = [
  { ...range('::ffff:0:0', 96), offset: 12 }, // IPv4-mapped
  { ...range('::', 96), offset: 12 }, // IPv4-compatible (deprecated, still parsed)
  { ...range('::ffff:0:0:0', 96), offset: 12 }, // IPv4-translated (SIIT)
  { ...range('64:ff9b::', 96), offset: 12 }, // NAT64 well-known prefix
  { ...range('2002::', 16), offset: 2 }, // 6to4
];

function inRange(bytes: Uint8Array, { prefix, bits }: Range): boolean {
  if (bytes.length !== prefix.length) return false;
  const whole = bits >> 3;
  for (let i = 0; i < whole; i++) if (bytes[i] !== prefix[i]) return false;
  const rest = bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((bytes[whole]! ^ prefix[whole]!) & mask) === 0;
}

function parseIpv4(host: string): IpAddress | null {
  const parts = host.split('.');
  // One trailing dot is the fully qualified spelling; URL parsers and resolvers both accept it.
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  if (parts.length > 4) return null;
  const numbers: number[] = [];
  for (const part of parts) {
    const n = parseIpv4Number(part);
    if (n === null) return null;
    numbers.push(n);
  }
  let last = numbers.pop()!;
  if (numbers.some((n) => n > 255) || last >= 256 ** (4 - numbers.length)) return null;
  const bytes = new Uint8Array(4);
  bytes.set(numbers);
  for (let i = 3; i >= numbers.length; i--) {
    bytes[i] = last % 256;
    last = Math.floor(last / 256);
  }
  return { family: 4, bytes };
}

function parseIpv4Number(part: string): number | null {
  if (part === '') return null;
  let digits = part;
  let radix = 10;
  if (/^0x/i.test(part)) {
    digits = part.slice(2);
    radix = 16;
  } else if (part.length > 1 && part.startsWith('0')) {
    digits = part.slice(1);
    radix = 8;
  }
  // WHATWG reads a bare `0x` as zero, so must we, or `0x.0x.0x.0x` would slip by as a "name".
  if (digits === '') return 0;
  const pattern = radix === 16 ? /^[0-9a-f]+$/i : radix === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  // Overlong numbers parse to something huge (or Infinity) and are refused by the range check.
  return pattern.test(digits) ? Number.parseInt(digits, radix) : null;
}

function parseIpv6(text: string): IpAddress | null {
  // A zone id names the local interface for link-local addresses; it does not change the address.
  const zone = text.indexOf('%');
  const address = zone === -1 ? text : text.slice(0, zone);
  const halves = address.split('::');
  if (halves.length > 2) return null;
  const compressed = halves.length === 2;
  const head = parseGroups(halves[0]!, !compressed);
  const tail = compressed ? parseGroups(halves[1]!, true) : [];
  if (head === null || tail === null) return null;
  const count = head.length + tail.length;
  if (compressed ? count > 7 : count !== 8) return null;
  const groups = [...head, ...new Array<number>(8 - count).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  groups.forEach((group, i) => {
    bytes[2 * i] = group >> 8;
    bytes[2 * i + 1] = group & 0xff;
  });
  return { family: 6, bytes };
}

/** Colon-separated 16-bit groups; the last may be a dotted IPv4 address (two groups' worth). */
function parseGroups(text: string, ipv4TailAllowed: boolean): number[] | null {
  if (text === '') return [];
  const parts = text.split(':');
  const groups: number[] = [];
  for (const [i, part] of parts.entries()) {
    if (HEX_GROUP.test(part)) {
      groups.push(Number.parseInt(part, 16));
    } else if (ipv4TailAllowed && i === parts.length - 1 && DOTTED_QUAD.test(part)) {
      const [a, b, c, d] = part.split('.').map(Number) as [number, number, number, number];
      groups.push((a << 8) | b, (c << 8) | d);
    } else {
      return null;
    }
  }
  return groups;
}

/** The authority as the caller wrote it (before WHATWG normalisation), or null if there is none. */
function rawAuthority(url: string): string | null {
  // WHATWG drops tabs and newlines anywhere and leading C0/space, and reads `\` as `/` in http(s).
  let text = url.replace(/[\t\n\r]/g, '');
  let start = 0;
  while (start < text.length && text.charCodeAt(start) <= 0x20) start++;
  text = text.slice(start);
  const match = /^[a-z][a-z0-9+.-]*:[/\\]*([^/\\?#]*)/i.exec(text);
  return match === null ? null : match[1]!;
}

function hostOf(authority: string): string {
  const host = authority.slice(authority.lastIndexOf('@') + 1);
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end === -1 ? host : host.slice(0, end + 1);
  }
  const port = host.indexOf(':');
  return port === -1 ? host : host.slice(0, port);
}
