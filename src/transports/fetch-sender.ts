import type { HttpSender } from '../core/http-sender.ts';
import { RESPONSE_EXCERPT_BYTES } from '../core/http-sender.ts';
import { isForbiddenAddress, isForbiddenHostname, parseIpLiteral } from '../core/network-address.ts';

/**
 * Every address (IPv4 and IPv6, as text) a name resolves to. Rejects when it cannot tell — the
 * sender then refuses to connect rather than guess.
 */
export type ResolveAddresses = (
  hostname: string,
  options: { signal: AbortSignal },
) => Promise<readonly string[]>;

export interface FetchSenderOptions {
  /** `HOOKMESH_ALLOW_PRIVATE_NETWORK`: untrusted subscriptions may reach private addresses. */
  readonly allowPrivateNetwork: boolean;
  readonly fetch?: typeof fetch;
  /** How names are resolved for the check; by default `Deno.resolveDns` (A and AAAA) where it exists. */
  readonly resolve?: ResolveAddresses;
}

/**
 * Sends attempts with the platform's `fetch` (Deno, and tests), `redirect: 'manual'` so a redirect
 * is a failed attempt, never followed. For an untrusted (API-created) subscription, unless private
 * networks are allowed, the URL's host is checked at connect time (DESIGN "Trust"): a literal
 * address by the rules of `network-address.ts`, a name by resolving it and checking EVERY address
 * it resolves to (the OS may connect to any of them) — refused if one is forbidden, if it does not
 * resolve, or if this runtime offers no resolver.
 *
 * Then the request goes to what was checked:
 * - `http:` — to the checked address itself (the first one), with the original `Host` header, so
 *   nothing resolves the name a second time. On Deno the `Host` header needs an HTTP client made
 *   with `allowHost: true`, created here when `Deno.createHttpClient` exists.
 * - `https:` — by name. Plain `fetch` cannot connect to an address while presenting and verifying
 *   the name (SNI and the certificate come from the URL), and Deno's `createHttpClient` has no
 *   option to pin an address or resolve names (its options: CA certificates, proxy, client
 *   certificate, pool sizes, http1/http2, allowHost). Refusing https names would stop production
 *   delivering to anything but literal addresses, which no public https endpoint uses. So: check
 *   first, then let `fetch` resolve again.
 *
 *   Residual risk, accepted: a DNS rebinding window between our resolution and fetch's (a TTL-0
 *   name answering a public address to us and 10.x to fetch; also Deno.resolveDns and the system
 *   resolver fetch uses may read different sources). What the window gives an attacker is a TCP
 *   connection and a TLS ClientHello to the internal address — never the request: the handshake
 *   fails unless that peer proves a certificate for the attacker's name, so no headers, body or
 *   signature are sent. It remains a blind probe (is something listening on that port?) whose
 *   error text lands in the attempt record, which only the admin reads. Closing the window needs a
 *   connection pinned to the checked address with SNI for the name — `Deno.connect` then
 *   `Deno.startTls(conn, { hostname })` — under a hand-written HTTP/1.1 client.
 * @example const send = createFetchSender({ allowPrivateNetwork: false });
 */
export function createFetchSender(options: FetchSenderOptions): HttpSender {
  const doFetch = options.fetch ?? fetch;
  const deno = (globalThis as { Deno?: DenoNetApi }).Deno;
  const resolve = options.resolve ?? (deno?.resolveDns ? resolveWithDeno(deno) : null);
  let pinnedInit: Record<string, unknown> | undefined;
  /** What a request to an address with the name's `Host` header needs on this runtime. */
  const initForPinned = (): Record<string, unknown> => {
    pinnedInit ??= deno?.createHttpClient ? { client: deno.createHttpClient({ allowHost: true }) } : {};
    return pinnedInit;
  };

  return async (req, { trusted, timeoutMs }) => {
    const signal = AbortSignal.timeout(timeoutMs);
    let url = req.url;
    let headers = req.headers;
    let extra: Record<string, unknown> = {};
    if (!trusted && !options.allowPrivateNetwork) {
      const target = await checkTarget(new URL(req.url), resolve, signal);
      if (target.pinned) {
        url = target.url;
        headers = { ...req.headers, host: target.host };
        extra = initForPinned();
      }
    }
    const response = await doFetch(url, {
      ...extra,
      method: 'POST',
      headers,
      body: req.body,
      redirect: 'manual',
      signal,
    });
    const responseHeaders: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      responseHeaders[name.toLowerCase()] = value;
    });
    let excerpt = '';
    if (response.body) {
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let kept = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (kept < RESPONSE_EXCERPT_BYTES) {
          const part = value.subarray(0, RESPONSE_EXCERPT_BYTES - kept);
          excerpt += decoder.decode(part, { stream: true });
          kept += part.length;
        } else {
          await reader.cancel();
          break;
        }
      }
    }
    return { status: response.status, headers: responseHeaders, excerpt };
  };
}

/** The few Deno APIs used here, feature-detected (declared like `src/runtime/deno.ts` does). */
interface DenoNetApi {
  resolveDns?(query: string, recordType: 'A' | 'AAAA', options?: { signal?: AbortSignal }): Promise<string[]>;
  createHttpClient?(options: { allowHost?: boolean }): unknown;
}

type Target = { pinned: false } | { pinned: true; url: string; host: string };

async function checkTarget(url: URL, resolve: ResolveAddresses | null, signal: AbortSignal): Promise<Target> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  // Forbidden literals in every spelling, `localhost` and metadata names: refused by their face.
  if (isForbiddenHostname(host)) throw refused(host);
  if (parseIpLiteral(host) !== null) return { pinned: false };
  if (resolve === null) {
    throw new Error(`refused to connect to ${host}: cannot check what it resolves to on this runtime`);
  }
  let addresses: readonly string[];
  try {
    addresses = await abortable(resolve(host, { signal }), signal);
  } catch (error) {
    if (signal.aborted) throw error;
    throw new Error(`refused to connect to ${host}: could not resolve it to check its addresses`, {
      cause: error,
    });
  }
  const parsed = addresses.map((a) => parseIpLiteral(a));
  if (parsed.length === 0)
    throw new Error(`refused to connect to ${host}: it does not resolve to any address`);
  if (parsed.some((ip) => ip === null || isForbiddenAddress(ip))) throw refused(host);
  if (url.protocol !== 'http:') return { pinned: false };
  const pinned = new URL(url);
  const first = addresses[0]!;
  pinned.hostname = first.includes(':') ? `[${first.replace(/%.*$/, '')}]` : first;
  return { pinned: true, url: pinned.href, host: url.host };
}

function refused(host: string): Error {
  return new Error(`refused to connect to ${host}: a loopback, private, link-local or metadata address`);
}

/** A and AAAA through `Deno.resolveDns`; "no such record" is an empty answer, anything else rejects. */
function resolveWithDeno(deno: DenoNetApi): ResolveAddresses {
  return async (hostname, { signal }) => {
    const answers = await Promise.allSettled(
      (['A', 'AAAA'] as const).map((type) => deno.resolveDns!(hostname, type, { signal })),
    );
    const addresses: string[] = [];
    for (const answer of answers) {
      if (answer.status === 'fulfilled') addresses.push(...answer.value);
      else if ((answer.reason as { name?: unknown } | null)?.name !== 'NotFound') throw answer.reason;
    }
    return addresses;
  };
}

/** An injected resolver may ignore the signal; the attempt's timeout still holds. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
