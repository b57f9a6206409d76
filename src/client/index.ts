// The producing side: what a service that publishes events installs (`hookmesh/client`). Only core
// types and web standards behind it — no store, no transport, no hono, no Node built-ins.
export type { DomainEventDefinition } from '../core/domain-event.ts';
export type { ProblemDetails } from '../core/errors.ts';
export { HookmeshError, MeshApiError, MeshUnavailableError } from '../core/errors.ts';
export type { Issue } from '../core/issues.ts';
export type {
  DomainEventInput,
  EventFields,
  MeshClient,
  MeshClientOptions,
  PublishItem,
  PublishManyResult,
  PublishOptions,
  PublishReceipt,
  PublishResult,
  RequestOptions,
} from './mesh-client.ts';
export { createMeshClient } from './mesh-client.ts';
export type { MeshAttempt, MeshDelivery, MeshEvent, MeshIntegrationEvent } from './mesh-event.ts';
export type { MeshFetch } from './send-with-retries.ts';
