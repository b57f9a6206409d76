// `hookmesh/handler` on Node (the `node` condition of the entry, see package.json): everything the
// web entry exports, the same names and types, with the signature checked on `node:crypto`
// instead of WebCrypto — about a third of the route's cost per request on Node — and a libSQL
// inbox on a local file through the `libsql` binding, its statements prepared once. Workers, Deno
// bundles and browsers resolve the web entry (`./index.ts`), which never loads a Node built-in.
// `export *` rather than a list: this entry must never drift from the web one (one list, in
// index.ts); test/handler/node-entry.test.ts compares the two.
import type { Hono } from 'hono';
import type { Inbox } from './inbox.ts';
import { createLibsqlFileInbox, toInboxFilePath } from './libsql-file-inbox.ts';
import {
  createLibsqlInbox as createLibsqlClientInbox,
  isLibsqlInboxClient,
  type LibsqlClientInboxOptions,
  type LibsqlInbox,
  type LibsqlInboxClient,
  type LibsqlInboxOptions,
} from './libsql-inbox.ts';
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

/**
 * `createLibsqlInbox` of the web entry, except for a local file given as `{ url: 'file:…' }`: that
 * inbox owns a connection of the `libsql` binding with its statements prepared once (the client
 * prepares each anew on every call), WAL and `synchronous = FULL`, group-committed — an entry is
 * still fsynced before the route answers 2xx. Same tables, same answers: processes of a service
 * may mix the two on one file. A remote URL, a URL with options or escapes, or a client of yours
 * goes through `@libsql/client` as on the web entry.
 * @example const inbox = createLibsqlInbox({ url: 'file:./data/inbox.db' });
 */
export function createLibsqlInbox(options: LibsqlInboxOptions): LibsqlInbox;
export function createLibsqlInbox(client: LibsqlInboxClient, options?: LibsqlClientInboxOptions): Inbox;
export function createLibsqlInbox(
  source: LibsqlInboxOptions | LibsqlInboxClient,
  clientOptions?: LibsqlClientInboxOptions,
): Inbox | LibsqlInbox {
  if (isLibsqlInboxClient(source)) return createLibsqlClientInbox(source, clientOptions);
  const path = toInboxFilePath(source.url);
  return path === null
    ? createLibsqlClientInbox(source)
    : createLibsqlFileInbox(path, { retainMs: source.retainMs });
}
