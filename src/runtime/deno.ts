import { createFetchSender } from '../transports/fetch-sender.ts';
import { consoleLogger, describeError } from './log.ts';
import type { ServedMesh, ServeMeshOptions } from './serve-mesh-options.ts';
import { startLocalEntry, toOrigin } from './startup.ts';

/**
 * The few Deno APIs the Deno entry uses. Declared here rather than through `@types/deno` so the
 * repository's tsc (Node types) checks this file; under `deno check` it shadows the real global.
 */
export interface DenoApi {
  readonly pid: number;
  readonly env: { toObject(): Record<string, string> };
  hostname(): string;
  serve(
    options: {
      port: number;
      hostname: string;
      onListen: (addr: { hostname: string; port: number }) => void;
      onError: (error: unknown) => Response;
    },
    handler: (request: Request) => Response | Promise<Response>,
  ): { shutdown(): Promise<void> };
  addSignalListener(signal: 'SIGINT' | 'SIGTERM', handler: () => void): void;
  exit(code: number): never;
}

declare const Deno: DenoApi;

/**
 * Serves a mesh on Deno — what `serveMesh` does on Node: libSQL (a file by default) with
 * migrations applied, the API, the local dispatcher over the platform's `fetch` (addresses checked
 * before connecting) and the given handlers, as `HOOKMESH_ROLE` says. `env` defaults to
 * `Deno.env.toObject()`.
 * @example
 * const served = await serveMesh({ mesh, handlers: [onOrderCreated] });
 * Deno.addSignalListener('SIGTERM', () => served.close());
 */
export function serveMesh(options: ServeMeshOptions): Promise<ServedMesh> {
  const log = options.log ?? consoleLogger;
  return startLocalEntry(
    {
      name: 'Deno',
      processName: `${Deno.hostname()}-${Deno.pid}`,
      async listen({ port, hostname }, handle) {
        let address: { hostname: string; port: number } | undefined;
        // Deno.serve binds before it returns (and throws if it cannot); onListen reports the address.
        const server = Deno.serve(
          {
            port,
            hostname,
            onListen: (addr) => {
              address = addr;
            },
            onError: (error) => {
              log('error', 'request failed', describeError(error));
              return new Response('internal error', { status: 500 });
            },
          },
          handle,
        );
        if (!address) throw new Error('Deno.serve returned without reporting its address');
        // shutdown: stops accepting and lets requests in flight finish.
        return { url: toOrigin(address.hostname, address.port), close: () => server.shutdown() };
      },
      createSender: (allowPrivateNetwork) => createFetchSender({ allowPrivateNetwork }),
    },
    options.env ?? Deno.env.toObject(),
    { ...options, log },
  );
}
