// The one file of the handler SDK on a Node built-in: it is reached only from the SDK's Node entry
// (`src/handler/node.ts`, the `node` condition of `hookmesh/handler`), never from the web entry
// that Workers, Deno builds and browsers bundle (test/architecture.test.ts holds both).
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { QStashVerifyCrypto } from '../core/signature.ts';

/**
 * The verifier's primitives on `node:crypto`: synchronous HMAC and SHA-256 (~3 µs) where WebCrypto
 * sends each to the thread pool and back (~35 µs per request on Node). The checks themselves stay
 * core's (`verifyQStashTokenWith`): same decisions, tested against WebCrypto token for token.
 * @example const token = await verifyQStashTokenWith(nodeQStashCrypto, { signature, url, keys, nowMs });
 */
export const nodeQStashCrypto: QStashVerifyCrypto = {
  macMatches(key, mac, signingInput) {
    // As WebCrypto refuses a zero-length HMAC key: an empty key is a secret everybody knows.
    if (key === '') throw new TypeError('QStash signing key must be a non-empty string');
    const expected = createHmac('sha256', key).update(signingInput, 'utf8').digest();
    // The length of an HMAC-SHA256 is public; only equal lengths can be compared in constant time.
    return mac.byteLength === expected.byteLength && timingSafeEqual(expected, mac);
  },
  sha256Base64url(body) {
    const hash = createHash('sha256');
    if (typeof body === 'string') hash.update(body, 'utf8');
    else hash.update(body);
    return hash.digest('base64url');
  },
};
