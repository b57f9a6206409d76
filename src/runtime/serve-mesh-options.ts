import type { MeshDefinition } from '../core/mesh-definition.ts';
import type { Logger } from './log.ts';
import type { MeshHandlers } from './mesh-handlers.ts';

// The public shapes of `serveMesh`, apart from its implementation: the `.d.ts` of hookmesh/node
// and hookmesh/deno name only these, so a user's type check never walks into the store's types.

/** What `serveMesh` takes on Node and Deno. */
export interface ServeMeshOptions {
  /** The app's definitions (`defineMesh`), or a function of `{ publicUrl }` returning them. */
  readonly mesh: MeshDefinition;
  /** Handlers served under `/webhooks/<type>` beside the API, or a function of the mesh's context. */
  readonly handlers?: MeshHandlers | undefined;
  /** The configuration (DESIGN.md's names); `process.env` / `Deno.env` by default. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  /** One JSON line per record by default; never given secrets. */
  readonly log?: Logger | undefined;
}

/** A mesh being served. */
export interface ServedMesh {
  /** Where it listens (`http://127.0.0.1:8787`); with `PORT=0`, the port it got. */
  readonly url: string;
  /** Where handlers and callbacks reach it: `HOOKMESH_PUBLIC_URL`, or `url`. */
  readonly publicUrl: string;
  /** Stops accepting, lets requests in flight finish, waits for attempts in flight to be recorded. */
  close(): Promise<void>;
}
