// `hookmesh/handler` on Node (the `node` condition of the entry, see package.json): everything the
// web entry exports, the same names and types, with the signature checked on `node:crypto`
// instead of WebCrypto — about a third of the route's cost per request on Node. Workers, Deno
// bundles and browsers resolve the web entry (`./index.ts`), which never loads a Node built-in.
// `export *` rather than a list: this entry must never drift from the web one (one list, in
// index.ts); test/handler/node-entry.test.ts compares the two.
import type { Hono } from 'hono';
import { nodeQStashCrypto } from './node-crypto.ts';
import { createWebhookAppWith } from './webhook-app.ts';
import type { WebhookAppOptions } from './webhook-options.ts';

export * from './index.ts';

/**
 * `createWebhookApp` of the web entry, verifying with `node:crypto`: the same answers for every
 * request (core decides; only the MAC and the hash are computed here).
 * @example
 * const webhooks = createWebhookApp({ handlers: [onOrderCreated], signingKeys, inbox, publicUrl });
 */
export function createWebhookApp(options: WebhookAppOptions): Hono {
  return createWebhookAppWith(nodeQStashCrypto, options);
}
