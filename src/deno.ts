// `hookmesh/deno`: run a mesh on Deno (`npm:hookmesh/deno`).
export type { MeshContext, MeshDefinition } from './core/mesh-definition.ts';
export { serveMesh } from './runtime/deno.ts';
export type { Logger } from './runtime/log.ts';
export type { MeshHandlerContext, MeshHandlers } from './runtime/mesh-handlers.ts';
export type { ServedMesh, ServeMeshOptions } from './runtime/serve-mesh-options.ts';
