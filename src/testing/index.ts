// The testing kit (`hookmesh/testing`): a whole mesh inside the user's own test — the real API,
// dispatcher and webhook apps — on an in-memory database and a manual clock.
export type {
  DomainEventInput,
  PublishItem,
  PublishManyResult,
  PublishOptions,
  PublishResult,
} from '../client/mesh-client.ts';
export type { MeshAttempt, MeshDelivery, MeshEvent, MeshIntegrationEvent } from '../client/mesh-event.ts';
export type { ProblemDetails } from '../core/errors.ts';
export { MeshApiError } from '../core/errors.ts';
export type { DeliverOptions, DrainOptions } from './delivery-runner.ts';
export type { Duration } from './duration.ts';
export type { HandlerRun } from './handler-runs.ts';
export type { Interceptor } from './in-process-network.ts';
export type { ReplayFilter, TestMesh, TestMeshOptions } from './test-mesh.ts';
export { createTestMesh } from './test-mesh.ts';
export type { TestAttempt, TestDelivery, TestDeliveryAttempt, TestDeliveryFilter } from './test-views.ts';
