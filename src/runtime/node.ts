import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { serve } from '@hono/node-server';
import { signQStashJwtNode } from '../transports/node-signer.ts';
import { createUndiciSender } from '../transports/undici-sender.ts';
import type { ServedMesh, ServeMeshOptions } from './serve-mesh-options.ts';
import { startLocalEntry, toOrigin } from './startup.ts';

/**
 * Serves a mesh on Node: libSQL (`DATABASE_URL`, a file under `./data` by default) with migrations
 * applied, the API, the local dispatcher over undici and the given handlers, as `HOOKMESH_ROLE`
 * says. Reads DESIGN.md's configuration from `env` (default `process.env`; `PORT=0` picks a port).
 * @example
 * const served = await serveMesh({ mesh, handlers: [onOrderCreated] });
 * process.once('SIGTERM', () => served.close());
 */
export function serveMesh(options: ServeMeshOptions): Promise<ServedMesh> {
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
    options.env ?? process.env,
    options,
  );
}
