import type { HttpSender } from '../core/http-sender.ts';
import { RESPONSE_EXCERPT_BYTES } from '../core/http-sender.ts';
import { isForbiddenAddress, isForbiddenHostname, parseIpLiteral } from '../core/network-address.ts';

/**
 * Sends attempts with the platform's `fetch` (Deno, Workers, tests), `redirect: 'manual'` so a
 * redirect is a failed attempt, never followed. Without a socket-level hook it can only refuse
 * literal addresses and known names; the Node sender also checks what names resolve to.
 * @example const send = createFetchSender({ allowPrivateNetwork: false });
 */
export function createFetchSender(options: {
  allowPrivateNetwork: boolean;
  fetch?: typeof fetch;
}): HttpSender {
  const doFetch = options.fetch ?? fetch;
  return async (req, { trusted, timeoutMs }) => {
    if (!trusted && !options.allowPrivateNetwork) {
      const host = new URL(req.url).hostname.replace(/^\[|\]$/g, '');
      const literal = parseIpLiteral(host);
      if ((literal && isForbiddenAddress(literal)) || isForbiddenHostname(host)) {
        throw new Error(`refused to connect to ${host}: a loopback, private, link-local or metadata address`);
      }
    }
    const response = await doFetch(req.url, {
      method: 'POST',
      headers: req.headers,
      body: req.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      headers[name.toLowerCase()] = value;
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
    return { status: response.status, headers, excerpt };
  };
}
