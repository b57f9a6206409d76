import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { serve } from '@hono/node-server';
import { systemClock } from '../core/clock.ts';
import type { MeshDefinitions } from '../core/registry.ts';
import { createOrdersMesh } from '../example/orders.ts';
import type { HandlerDefinition } from '../handler/define-handler.ts';
import { createUndiciSender } from '../transports/undici-sender.ts';
import { type MeshConfig, readConfig } from './config.ts';
import { createLocalMesh } from './local-mesh.ts';
import { consoleLogger, type Logger } from './log.ts';
import type { MeshSecrets } from './secrets.ts';
import { exampleHandlers, loadSecrets, openMigratedDatabase, printDevBanner, redactUrl } from './startup.ts';

// Tests and benches import it from here; it lives apart so the Deno entry shares it.
export { readMigrations } from './migrations.ts';

export interface NodeMesh {
  readonly url: string;
  readonly config: MeshConfig;
  close(): Promise<void>;
}

export interface NodeMeshOptions {
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
 * Starts the mesh on Node: libSQL (a file by default) with migrations applied, the API, the local
 * dispatcher over undici and the example handlers, as `HOOKMESH_ROLE` says.
 * @example const mesh = await startNodeMesh(process.env);
 */
export async function startNodeMesh(
  env: Readonly<Record<string, string | undefined>>,
  options: NodeMeshOptions = {},
): Promise<NodeMesh> {
  const log = options.log ?? consoleLogger;
  const config = readConfig(env, { transport: 'local' });
  if (config.transport !== 'local') {
    log(
      'warn',
      'HOOKMESH_TRANSPORT=qstash runs on the Worker entry; Node delivers with the local dispatcher',
    );
  }
  const secrets = loadSecrets(config);
  const database = await openMigratedDatabase(config, log);

  // Listen first: with PORT=0 the public URL (which handlers and callbacks use) is known only then.
  let handle: (request: Request) => Response | Promise<Response> = () =>
    new Response('starting', { status: 503, headers: { 'retry-after': '1' } });
  const server = serve({ fetch: (request) => handle(request), port: config.port, hostname: config.host });
  await new Promise<void>((ok, fail) => {
    server.once('listening', ok);
    server.once('error', fail);
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  const publicUrl = env.HOOKMESH_PUBLIC_URL ? config.publicUrl : url;

  const send = createUndiciSender({ allowPrivateNetwork: config.allowPrivateNetwork });
  const mesh = await createLocalMesh({
    config,
    secrets,
    publicUrl,
    database,
    definitions: (options.definitions ?? ((_, base) => createOrdersMesh(base)))(config, publicUrl),
    handlers: (options.handlers ?? exampleHandlers)({ publicUrl, secrets, log }),
    send,
    clock: systemClock,
    log,
    owner: `${hostname()}-${process.pid}-${crypto.randomUUID().slice(0, 8)}`,
  });
  handle = mesh.fetch;

  log('info', 'hookmesh listening', {
    url,
    publicUrl,
    role: config.role,
    transport: 'local',
    database: redactUrl(config.databaseUrl),
  });
  if (!config.production) printDevBanner(url, secrets, 'Node');

  return {
    url,
    config,
    async close() {
      await new Promise<void>((ok) => server.close(() => ok()));
      await mesh.stop();
      await send.close();
      database.client.close();
    },
  };
}
