import type { HandlerDefinition } from '../handler/define-handler.ts';

/**
 * What a runtime gives the handlers it serves beside the mesh: where the mesh is, a producer token
 * to post follow-up domain events with, and a `fetch` that reaches the mesh (on a Worker, requests
 * to its own URL are answered in the isolate: a Worker's subrequest to itself does not reach it).
 */
export interface MeshHandlerContext {
  /** The mesh's public base URL, no trailing slash. */
  readonly publicUrl: string;
  /** The first configured producer token (or the development one). */
  readonly producerToken: string;
  readonly fetch: typeof fetch;
}

/** Handlers served under `/webhooks/<type>` next to the API, or a function of the mesh's context. */
export type MeshHandlers =
  | readonly HandlerDefinition[]
  | ((context: MeshHandlerContext) => readonly HandlerDefinition[]);

/** The handlers for a running mesh. */
export function resolveHandlers(
  handlers: MeshHandlers | undefined,
  context: MeshHandlerContext,
): readonly HandlerDefinition[] {
  if (handlers === undefined) return [];
  return typeof handlers === 'function' ? handlers(context) : handlers;
}
