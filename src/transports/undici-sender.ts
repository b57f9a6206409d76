import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { Agent, request } from 'undici';
import type { HttpSender, SendResult } from '../core/http-sender.ts';
import { RESPONSE_EXCERPT_BYTES } from '../core/http-sender.ts';
import { isForbiddenAddress, isForbiddenHostname, parseIpLiteral } from '../core/network-address.ts';

/** Responses beyond this are not drained (the connection is dropped instead of reused). */
const DRAIN_LIMIT_BYTES = 64 * 1024;

export class ForbiddenAddressError extends Error {
  constructor(host: string) {
    super(`refused to connect to ${host}: a loopback, private, link-local or metadata address`);
    this.name = 'ForbiddenAddressError';
  }
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A `lookup` for sockets that resolves as usual and refuses the connection when any address the
 * name resolves to is forbidden — checked at connect time, so a name that later resolves
 * elsewhere (DNS rebinding) is caught too.
 */
export function createGuardedLookup(resolve: typeof dnsLookup = dnsLookup) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void =>
    guard(resolve, hostname, options, callback);
}

function guard(
  resolve: typeof dnsLookup,
  hostname: string,
  options: LookupOptions,
  callback: LookupCallback,
): void {
  resolve(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, []);
    const bad = addresses.find((a) => {
      const ip = parseIpLiteral(a.address);
      return ip === null || isForbiddenAddress(ip);
    });
    if (bad || addresses.length === 0) return callback(new ForbiddenAddressError(hostname), []);
    if (options.all) return callback(null, addresses);
    const first = addresses[0]!;
    callback(null, first.address, first.family);
  });
}

/**
 * Sends attempts with undici over keep-alive pools (raw undici reaches ~10× Node's global fetch
 * here). Trusted (code-declared) subscriptions go through a plain agent; untrusted ones through an
 * agent whose sockets check every resolved address, unless private networks are allowed.
 * Redirects are never followed: undici's `request` does not, and a 3xx counts as a failure.
 * @example const send = createUndiciSender({ allowPrivateNetwork: false }); await send(req, { trusted: false, timeoutMs: 15_000 });
 */
export function createUndiciSender(options: {
  allowPrivateNetwork: boolean;
  connections?: number;
  /** The resolver behind the guard (tests give one that answers like a rebinding DNS server). */
  resolve?: typeof dnsLookup;
}): HttpSender & {
  close(): Promise<void>;
} {
  const common = { keepAliveTimeout: 30_000, connections: options.connections ?? 128, pipelining: 1 };
  const trustedAgent = new Agent(common);
  const guardedAgent = options.allowPrivateNetwork
    ? trustedAgent
    : new Agent({ ...common, connect: { lookup: createGuardedLookup(options.resolve) as never } });

  const send: HttpSender = async (req, { trusted, timeoutMs }) => {
    const url = new URL(req.url);
    const guarded = !trusted && !options.allowPrivateNetwork;
    if (guarded) {
      // Literal addresses never reach `lookup`: check them here.
      const host = url.hostname.replace(/^\[|\]$/g, '');
      const literal = parseIpLiteral(host);
      if ((literal && isForbiddenAddress(literal)) || isForbiddenHostname(host))
        throw new ForbiddenAddressError(host);
    }
    const response = await request(url, {
      method: 'POST',
      headers: req.headers,
      body: req.body,
      dispatcher: guarded ? guardedAgent : trustedAgent,
      signal: AbortSignal.timeout(timeoutMs),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(response.headers)) {
      if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
    }
    const chunks: Buffer[] = [];
    let kept = 0;
    let total = 0;
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (kept < RESPONSE_EXCERPT_BYTES) {
        const part = chunk.subarray(0, RESPONSE_EXCERPT_BYTES - kept);
        chunks.push(part);
        kept += part.length;
      }
      if (total > DRAIN_LIMIT_BYTES) {
        response.body.destroy();
        break;
      }
    }
    const result: SendResult = {
      status: response.statusCode,
      headers,
      excerpt: Buffer.concat(chunks).toString('utf8'),
    };
    return result;
  };

  return Object.assign(send, {
    async close() {
      await trustedAgent.close();
      if (guardedAgent !== trustedAgent) await guardedAgent.close();
    },
  });
}
