import type { MeshDefinitions } from './registry.ts';

/** What a runtime knows when it builds the app's definitions: where the mesh itself is reached. */
export interface MeshContext {
  /** The mesh's public base URL, no trailing slash (`HOOKMESH_PUBLIC_URL`, or where it listens). */
  readonly publicUrl: string;
}

/**
 * The app's definitions, or a function of the mesh's public URL returning them (for subscriptions
 * that point at handler routes the mesh serves itself).
 */
export type MeshDefinition = MeshDefinitions | ((context: MeshContext) => MeshDefinitions);

/**
 * Declares the app's mesh: its events, converters and subscriptions, in the one module every
 * runtime entry imports. Returns what it is given; the value is checked when a runtime starts.
 * @example
 * export const mesh = defineMesh({ converters: [orderCreatedToV1], subscriptions: [billing] });
 * export const selfMesh = defineMesh(({ publicUrl }) => ({ converters, subscriptions: [defineSubscription(OrderCreatedV1, `${publicUrl}/webhooks/order.created.v1`)] }));
 */
export function defineMesh<const TMesh extends MeshDefinition>(mesh: TMesh): TMesh {
  return mesh;
}

/** The definitions for a mesh reached at `publicUrl`. */
export function resolveMesh(mesh: MeshDefinition, context: MeshContext): MeshDefinitions {
  return typeof mesh === 'function' ? mesh(context) : mesh;
}
