import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { serve } from '@hono/node-server';
import { signQStashJwtNode } from '../transports/node-signer.ts';
import { createUndiciSender } from '../transports/undici-sender.ts';
import { type LocalEntryOptions, type RunningMesh, startLocalEntry, toOrigin } from './startup.ts';

export type NodeMesh = RunningMesh;
export type NodeMeshOptions = LocalEntryOptions;

/**
 * Starts the mesh on Node: libSQL (a file by default) with migrations applied, the API, the local
 * dispatcher over undici and the example handlers, as `HOOKMESH_ROLE` says.
 * @example const mesh = await startNodeMesh(process.env);
 */
export function startNodeMesh(
  env: Readonly<Record<string, string | undefined>>,
  options: NodeMeshOptions = {},
): Promise<NodeMesh> {
  return startLocalEntry(
    {
      name: 'Node',
      processName: `${hostname()}-${process.pid}`,
      async listen({ port, hostname: host }, handle) {
        const server = serve({ fetch: handle, port, hostname: host });
        await new Promise<void>((ok, fail) => {
          server.once('listening', ok);
          server.once('error', fail);
        });
        const address = server.address() as AddressInfo;
        return {
          url: toOrigin(address.address, address.port),
          close: () => new Promise<void>((ok) => server.close(() => ok())),
        };
      },
      createSender: (allowPrivateNetwork) => createUndiciSender({ allowPrivateNetwork }),
      sign: signQStashJwtNode,
    },
    env,
    options,
  );
}
