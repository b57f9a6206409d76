import { systemClock } from '../core/clock.ts';
import type { MeshDefinitions } from '../core/registry.ts';
import { createOrdersMesh } from '../example/orders.ts';
import type { HandlerDefinition } from '../handler/define-handler.ts';
import { createFetchSender } from '../transports/fetch-sender.ts';
import { type MeshConfig, readConfig } from './config.ts';
import { createLocalMesh } from './local-mesh.ts';
import { consoleLogger, describeError, type Logger } from './log.ts';
import type { MeshSecrets } from './secrets.ts';
import { exampleHandlers, loadSecrets, openMigratedDatabase, printDevBanner, redactUrl } from './startup.ts';

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

export interface DenoMesh {
  readonly url: string;
  readonly config: MeshConfig;
  close(): Promise<void>;
}

export interface DenoMeshOptions {
  readonly log?: Logger;
  /** The app's definitions; the example orders app by default. */
  readonly definitions?: (config: MeshConfig, publicUrl: string) => MeshDefinitions;
  /** Handlers served by this process; the example's billing and notifications by default. */
  readonly handlers?: (deps: {
    publicUrl: string;
    secrets: MeshSecrets;
    log: Logger;
  }) => readonly HandlerDefinition[];
}

/**
 * Starts the mesh on Deno — what `startNodeMesh` does on Node: libSQL (a file by default) with
 * migrations applied, the API, the local dispatcher over the platform's `fetch` and the example
 * handlers, as `HOOKMESH_ROLE` says.
 * @example const mesh = await startDenoMesh(Deno.env.toObject());
 */
export async function startDenoMesh(
  env: Readonly<Record<string, string | undefined>>,
  options: DenoMeshOptions = {},
): Promise<DenoMesh> {
  const log = options.log ?? consoleLogger;
  const config = readConfig(env, { transport: 'local' });
  if (config.transport !== 'local') {
    log(
      'warn',
      'HOOKMESH_TRANSPORT=qstash runs on the Worker entry; Deno delivers with the local dispatcher',
    );
  }
  const secrets = loadSecrets(config);
  const database = await openMigratedDatabase(config, log);

  // Listen first: with PORT=0 the public URL (which handlers and callbacks use) is known only then.
  let handle: (request: Request) => Response | Promise<Response> = () =>
    new Response('starting', { status: 503, headers: { 'retry-after': '1' } });
  let address: { hostname: string; port: number } | undefined;
  // Deno.serve binds before it returns (and throws if it cannot); onListen reports the address.
  const server = Deno.serve(
    {
      port: config.port,
      hostname: config.host,
      onListen: (addr) => {
        address = addr;
      },
      onError: (error) => {
        log('error', 'request failed', describeError(error));
        return new Response('internal error', { status: 500 });
      },
    },
    (request) => handle(request),
  );
  if (!address) throw new Error('Deno.serve returned without reporting its address');
  const url = `http://${address.hostname.includes(':') ? `[${address.hostname}]` : address.hostname}:${address.port}`;
  const publicUrl = env.HOOKMESH_PUBLIC_URL ? config.publicUrl : url;

  const mesh = await createLocalMesh({
    config,
    secrets,
    publicUrl,
    database,
    definitions: (options.definitions ?? ((_, base) => createOrdersMesh(base)))(config, publicUrl),
    handlers: (options.handlers ?? exampleHandlers)({ publicUrl, secrets, log }),
    send: createFetchSender({ allowPrivateNetwork: config.allowPrivateNetwork }),
    clock: systemClock,
    log,
    owner: `${Deno.hostname()}-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`,
  });
  handle = mesh.fetch;

  log('info', 'hookmesh listening', {
    url,
    publicUrl,
    role: config.role,
    transport: 'local',
    runtime: 'deno',
    database: redactUrl(config.databaseUrl),
  });
  if (!config.production) printDevBanner(url, secrets, 'Deno');

  return {
    url,
    config,
    async close() {
      // Stops accepting, lets requests in flight finish, then the dispatcher records its attempts.
      await server.shutdown();
      await mesh.stop();
      database.client.close();
    },
  };
}
