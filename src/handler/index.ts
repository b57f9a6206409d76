// The handler side: what a consuming service installs (`hookmesh/handler`). Only core, valibot and
// hono behind it — no store, no transport, no Node built-ins; libSQL is loaded only when a libSQL
// inbox opens its own client.
export type {
  IntegrationEvent,
  IntegrationEventDefinition,
  IntegrationEventOf,
} from '../core/integration-event.ts';
export { defineIntegrationEvent } from '../core/integration-event.ts';
export type { D1InboxDatabase } from './d1-inbox.ts';
export { createD1Inbox } from './d1-inbox.ts';
export type { DefineHandlerOptions, HandlerContext, HandlerDefinition } from './define-handler.ts';
export { defineHandler } from './define-handler.ts';
export type {
  Inbox,
  InboxAdmission,
  InboxClaimResult,
  InboxKey,
  InboxRetentionOptions,
  InboxToken,
  InboxTokenResult,
} from './inbox.ts';
export { DEFAULT_INBOX_RETENTION_MS } from './inbox.ts';
export type { LibsqlClientInboxOptions, LibsqlInbox, LibsqlInboxOptions } from './libsql-inbox.ts';
export { createLibsqlInbox } from './libsql-inbox.ts';
export { createMemoryInbox } from './memory-inbox.ts';
export type { RetryLaterAfter, RetryLaterSignal } from './retry-later.ts';
export { isRetryLaterSignal } from './retry-later.ts';
export { createWebhookApp } from './webhook-app.ts';
export type { WebhookAppOptions, WebhookErrorContext } from './webhook-options.ts';
