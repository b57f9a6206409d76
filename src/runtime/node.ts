import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { systemClock } from '../core/clock.ts';
import type { MeshDefinitions } from '../core/registry.ts';
import { createExampleHandlers } from '../example/handlers.ts';
import { createOrdersMesh } from '../example/orders.ts';
import type { HandlerDefinition } from '../handler/define-handler.ts';
import { openLibsql } from '../store/libsql-store.ts';
import { applyMigrations, type Migration } from '../store/migrate.ts';
import { createUndiciSender } from '../transports/undici-sender.ts';
import { type MeshConfig, readConfig } from './config.ts';
import { loadDevSecrets } from './dev-secrets.ts';
import { createLocalMesh } from './local-mesh.ts';
import { consoleLogger, type Logger } from './log.ts';
import { type MeshSecrets, resolveSecrets } from './secrets.ts';

const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

/** Reads `migrations/NNNN_name.sql` from the package. */
export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((name) => /^\d{4}_.*\.sql$/.test(name))
    .sort()
    .map((name) => ({ name, sql: readFileSync(resolve(dir, name), 'utf8') }));
}

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
  const secrets = resolveSecrets(
    config,
    config.production ? null : loadDevSecrets(resolve('data/dev-secrets.json')),
  );

  if (config.databaseUrl.startsWith('file:') && !config.databaseUrl.startsWith('file::memory:')) {
    mkdirSync(dirname(resolve(config.databaseUrl.slice('file:'.length))), { recursive: true });
  }
  const database = await openLibsql({ url: config.databaseUrl, authToken: config.databaseAuthToken });
  const applied = await applyMigrations(database.driver, readMigrations());
  if (applied.length > 0) log('info', 'migrations applied', { applied });

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
  if (!config.production) printDevBanner(url, secrets);

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

function exampleHandlers(deps: { publicUrl: string; secrets: MeshSecrets; log: Logger }) {
  return createExampleHandlers({
    meshUrl: deps.publicUrl,
    producerToken: deps.secrets.producers[0]!.token,
    fetch,
    log: (message, fields) => deps.log('info', message, fields),
  });
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@').replace(/([?&](authToken|token)=)[^&]*/gi, '$1***');
}

/** Outside production only, the mesh prints the dev credentials it made up, so a newcomer can try it. */
function printDevBanner(url: string, secrets: MeshSecrets) {
  const producer = secrets.generated.producer ? secrets.producers[0]!.token : null;
  const token = producer ?? '<a token from HOOKMESH_PRODUCER_TOKENS>';
  console.log(`
hookmesh (development) on ${url}
  producer token: ${producer ?? '(from HOOKMESH_PRODUCER_TOKENS)'}
  admin token:    ${secrets.generated.admin ? secrets.adminToken : '(from HOOKMESH_ADMIN_TOKEN)'}
  signing key:    ${secrets.generated.signing ? secrets.signingKeys.current : '(from QSTASH_CURRENT_SIGNING_KEY)'}
Try it:
  curl -s -X POST ${url}/v1/events -H 'authorization: Bearer ${token}' -H 'content-type: application/json' \\
    -d '{"type":"OrderCreated","data":{"order":{"id":"o-1","customerId":"c-1","total":42.5,"currency":"EUR"}}}'
`);
}
