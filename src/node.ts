// `hookmesh/node`: run a mesh on Node.
export type { MeshContext, MeshDefinition } from './core/mesh-definition.ts';
export type { Logger } from './runtime/log.ts';
export type { MeshHandlerContext, MeshHandlers } from './runtime/mesh-handlers.ts';
export { serveMesh } from './runtime/node.ts';
export type { ServedMesh, ServeMeshOptions } from './runtime/serve-mesh-options.ts';
