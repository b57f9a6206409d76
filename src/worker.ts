// `hookmesh/worker`: deploy a mesh as a Cloudflare Worker (`export default createWorker(...)`).
export type { MeshContext, MeshDefinition } from './core/mesh-definition.ts';
export type { Logger } from './runtime/log.ts';
export type { MeshHandlerContext, MeshHandlers } from './runtime/mesh-handlers.ts';
export type {
  CreateWorkerOptions,
  MeshWorker,
  WorkerContext,
  WorkerEnv,
  WorkerScheduledEvent,
} from './runtime/worker.ts';
export { createWorker } from './runtime/worker.ts';
export type { WorkerDatabase, WorkerDatabaseOpener } from './runtime/worker-database.ts';
export { libsqlOverHttp } from './runtime/worker-libsql.ts';
