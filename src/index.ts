// The public entry: definitions, the registry, the mesh's composition and its stores.

export type { ApiOptions } from './api/app.ts';
export { createApi } from './api/app.ts';
export type { Clock } from './core/clock.ts';
export { createManualClock, systemClock } from './core/clock.ts';
export type { ConverterDefinition, ConverterResult } from './core/converter.ts';
export { defineConverter } from './core/converter.ts';
export type { DomainEvent, DomainEventDefinition, DomainEventOf } from './core/domain-event.ts';
export { defineDomainEvent } from './core/domain-event.ts';
export type { ErrorCode } from './core/errors.ts';
export {
  ConflictError,
  ConversionError,
  DefinitionError,
  HookmeshError,
  NotFoundError,
  StoreError,
  TransportError,
} from './core/errors.ts';
export type {
  IntegrationEvent,
  IntegrationEventDefinition,
  IntegrationEventOf,
} from './core/integration-event.ts';
export { defineIntegrationEvent } from './core/integration-event.ts';
export type { OutboxStore } from './core/outbox-store.ts';
export type { MeshDefinitions, Registry } from './core/registry.ts';
export { createRegistry } from './core/registry.ts';
export type { Subscription, SubscriptionOptions } from './core/subscription.ts';
export { DEFAULT_RETRIES, defineSubscription, MAX_RETRIES } from './core/subscription.ts';
export { createMesh } from './runtime/mesh.ts';
