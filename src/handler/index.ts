// The handler side: what a consuming service installs (`hookmesh/handler`). Only core, valibot and
// hono behind it — no store, no transport, no Node built-ins.
export type {
  IntegrationEvent,
  IntegrationEventDefinition,
  IntegrationEventOf,
} from '../core/integration-event.ts';
export { defineIntegrationEvent } from '../core/integration-event.ts';
export type { DefineHandlerOptions, HandlerContext, HandlerDefinition } from './define-handler.ts';
export { defineHandler } from './define-handler.ts';
export type { Inbox, InboxClaimResult, InboxKey } from './inbox.ts';
export { createMemoryInbox } from './memory-inbox.ts';
export type { RetryLaterAfter, RetryLaterSignal } from './retry-later.ts';
export { isRetryLaterSignal } from './retry-later.ts';
export { createWebhookApp } from './webhook-app.ts';
export type { WebhookAppOptions, WebhookErrorContext } from './webhook-options.ts';
