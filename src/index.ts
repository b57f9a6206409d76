// `hookmesh`: what the platform team writes its mesh with — definitions, the error classes, the
// types. Running a mesh is `hookmesh/node`, `hookmesh/deno` or `hookmesh/worker`.

export type { ConverterDefinition, ConverterResult } from './core/converter.ts';
export { defineConverter } from './core/converter.ts';
export type { DomainEvent, DomainEventDefinition, DomainEventOf } from './core/domain-event.ts';
export { defineDomainEvent } from './core/domain-event.ts';
export type { ErrorCode, ProblemDetails, StoreUnavailableReason } from './core/errors.ts';
export {
  ConfigError,
  ConflictError,
  ConversionError,
  DefinitionError,
  HookmeshError,
  MeshApiError,
  MeshUnavailableError,
  NotFoundError,
  StoreError,
  StoreUnavailableError,
  TransportError,
} from './core/errors.ts';
export type {
  IntegrationEvent,
  IntegrationEventDefinition,
  IntegrationEventOf,
  IntegrationEventOptions,
} from './core/integration-event.ts';
export { defineIntegrationEvent, MAX_ORDERING_KEY_LENGTH } from './core/integration-event.ts';
export type { MeshContext, MeshDefinition } from './core/mesh-definition.ts';
export { defineMesh } from './core/mesh-definition.ts';
export type { MeshDefinitions } from './core/registry.ts';
export type { Subscription, SubscriptionOptions } from './core/subscription.ts';
export { DEFAULT_RETRIES, defineSubscription, MAX_RETRIES } from './core/subscription.ts';
