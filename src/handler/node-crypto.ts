// The one file of the handler SDK on a Node built-in: it is reached only from the SDK's Node entry
// (`src/handler/node.ts`, the `node` condition of `hookmesh/handler`), never from the web entry
// that Workers, Deno builds and browsers bundle (test/architecture.test.ts holds both).
import { createHash, createHmac, createSecretKey, hash, type KeyObject, timingSafeEqual } from 'node:crypto';
import type { QStashVerifyCrypto } from '../core/signature.ts';

/**
 * Signing keys as `KeyObject`s, by key string: `createHmac` given a string converts and copies it
 * into a new key on every call. Bounded like WebCrypto's key cache in core: a deployment has one
 * or two keys; a stream of distinct ones (a misuse) must not grow memory.
 */
const KEY_CACHE_LIMIT = 8;
const keyObjects = new Map<string, KeyObject>();

function keyObjectOf(key: string): KeyObject {
  let keyObject = keyObjects.get(key);
  if (keyObject === undefined) {
    keyObject = createSecretKey(Buffer.from(key, 'utf8'));
    if (keyObjects.size >= KEY_CACHE_LIMIT) {
      const oldest = keyObjects.keys().next();
      if (!oldest.done) keyObjects.delete(oldest.value);
    }
    keyObjects.set(key, keyObject);
  }
  return keyObject;
}

/**
 * The verifier's primitives on `node:crypto`: synchronous HMAC and SHA-256 (~3 µs) where WebCrypto
 * sends each to the thread pool and back (~35 µs per request on Node). The checks themselves stay
 * core's (`checkQStashToken`): same decisions, tested against WebCrypto token for token; and,
 * synchronous, they are answered without a turn of the microtask queue.
 * @example const token = await verifyQStashTokenWith(nodeQStashCrypto, { signature, url, keys, nowMs });
 */
export const nodeQStashCrypto: QStashVerifyCrypto = {
  macMatches(key, mac, signingInput) {
    // As WebCrypto refuses a zero-length HMAC key: an empty key is a secret everybody knows.
    if (key === '') throw new TypeError('QStash signing key must be a non-empty string');
    const expected = createHmac('sha256', keyObjectOf(key)).update(signingInput, 'utf8').digest();
    // The length of an HMAC-SHA256 is public; only equal lengths can be compared in constant time.
    return mac.byteLength === expected.byteLength && timingSafeEqual(expected, mac);
  },
  decodeBase64url(segment) {
    // Native, where `fromBase64url` walks the string in JS; the verifier has checked the
    // alphabet and the length, which `Buffer` would not refuse (it skips what it cannot read).
    return Buffer.from(segment, 'base64url') as Uint8Array<ArrayBuffer>;
  },
  sha256Base64url(body) {
    // Bytes (what the route hashes) in one shot, without a Hash object: `crypto.hash`, Node ≥ 20.12.
    if (typeof body !== 'string') return hash('sha256', body, 'base64url');
    return createHash('sha256').update(body, 'utf8').digest('base64url');
  },
};
