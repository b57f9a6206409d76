import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { systemClock } from '../core/clock.ts';
import type { QStashSigner } from '../core/delivery-request.ts';
import type { HttpSender } from '../core/http-sender.ts';
import { resolveMesh } from '../core/mesh-definition.ts';
import { createLibsqlInbox } from '../handler/libsql-inbox.ts';
import { DEFAULT_WAL_SYNC, type WalSync } from '../store/libsql-file-driver.ts';
import {
  DEFAULT_SQLITE_THREAD,
  type LibsqlDatabase,
  openLibsql,
  type SqliteThread,
} from '../store/libsql-store.ts';
import { applyMigrations } from '../store/migrate.ts';
import { createSqlStores } from '../store/sql-stores.ts';
import { type MeshConfig, readConfig } from './config.ts';
import { loadDevSecrets } from './dev-secrets.ts';
import { createLocalMesh } from './local-mesh.ts';
import { consoleLogger, type Logger } from './log.ts';
import { resolveHandlers } from './mesh-handlers.ts';
import { readMigrations } from './migrations.ts';
import { type MeshSecrets, resolveSecrets } from './secrets.ts';
import type { ServedMesh, ServeMeshOptions } from './serve-mesh-options.ts';

// What the Node and Deno entries share before they serve: both run on libSQL with the local
// transport; only the server and the outbound HTTP client differ.

/** The configured secrets; outside production, whatever is missing comes from data/dev-secrets.json. */
export function loadSecrets(config: MeshConfig, log: Logger): MeshSecrets {
  const complete = config.producerTokens && config.adminToken && config.qstash.currentSigningKey;
  const dev =
    config.production || complete
      ? null
      : loadDevSecrets(resolve('data/dev-secrets.json'), { warn: (m, f) => log('warn', m, f) });
  return resolveSecrets(config, dev);
}

/** Opens the libSQL database (creating a file's directory) and applies pending migrations. */
export async function openMigratedDatabase(config: MeshConfig, log: Logger): Promise<LibsqlDatabase> {
  if (isLocalFile(config.databaseUrl)) {
    mkdirSync(dirname(resolve(config.databaseUrl.slice('file:'.length))), { recursive: true });
  }
  const database = await openLibsql({
    url: config.databaseUrl,
    authToken: config.databaseAuthToken,
    sqliteThread: config.sqliteThread,
    walSync: config.sqliteSync,
  });
  const applied = await applyMigrations(database.driver, readMigrations());
  if (applied.length > 0) log('info', 'migrations applied', { applied });
  return database;
}

function sqliteSettings(config: MeshConfig): { sqliteThread: SqliteThread; sqliteSync: WalSync } {
  const sqliteThread = config.sqliteThread ?? DEFAULT_SQLITE_THREAD;
  return {
    sqliteThread,
    sqliteSync: sqliteThread === 'worker' ? 'full' : (config.sqliteSync ?? DEFAULT_WAL_SYNC),
  };
}

/** A `file:` URL naming a file (not SQLite's in-memory database). */
function isLocalFile(url: string): boolean {
  return url.startsWith('file:') && !url.startsWith('file::memory:');
}

/** A database URL fit for a log line: no credentials. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@').replace(/([?&](authToken|token)=)[^&]*/gi, '$1***');
}

/** Outside production only, the mesh prints the dev credentials it made up, so a newcomer can try it. */
export function printDevBanner(
  url: string,
  secrets: MeshSecrets,
  runtime: string,
  domainTypes: readonly string[],
) {
  const producer = secrets.generated.producer ? secrets.producers[0]!.token : null;
  const token = producer ?? '<a token from HOOKMESH_PRODUCER_TOKENS>';
  console.log(`
hookmesh (development, ${runtime}) on ${url}
  producer token: ${producer ?? '(from HOOKMESH_PRODUCER_TOKENS)'}
  admin token:    ${secrets.generated.admin ? secrets.adminToken : '(from HOOKMESH_ADMIN_TOKEN)'}
  signing key:    ${secrets.generated.signing ? secrets.signingKeys.current : '(from QSTASH_CURRENT_SIGNING_KEY)'}
  domain events:  ${domainTypes.join(', ') || '(none defined)'}
Post one:
  curl -s -X POST ${url}/v1/events -H 'authorization: Bearer ${token}' -H 'content-type: application/json' \\
    -d '{"type":"${domainTypes[0] ?? '<type>'}","data":{ … }}'
`);
}

/** What a runtime brings: a server, an outbound HTTP client and a name for its leases. */
export interface LocalRuntime {
  readonly name: 'Node' | 'Deno';
  /** Serves `handle` on host:port; resolves once bound, with the address it got. */
  listen(
    options: { port: number; hostname: string },
    handle: (request: Request) => Response | Promise<Response>,
  ): Promise<{ url: string; close(): Promise<void> }>;
  createSender(allowPrivateNetwork: boolean): HttpSender & { close?(): Promise<void> };
  /** A faster signer than WebCrypto's, where the runtime has one. */
  readonly sign?: QStashSigner;
  /** `host-pid`, to which a random part is added. */
  readonly processName: string;
}

/**
 * Serves a mesh with the local transport — the body of both `serveMesh`s: libSQL with migrations
 * applied, the API, the dispatcher and the given handlers, as `HOOKMESH_ROLE` says.
 */
export async function startLocalEntry(
  runtime: LocalRuntime,
  env: Readonly<Record<string, string | undefined>>,
  options: ServeMeshOptions,
): Promise<ServedMesh> {
  const log = options.log ?? consoleLogger;
  const config = readConfig(env, { transport: 'local' });
  if (config.transport !== 'local') {
    log(
      'warn',
      `HOOKMESH_TRANSPORT=qstash runs on the Worker entry; ${runtime.name} delivers with the local dispatcher`,
    );
  }
  const secrets = loadSecrets(config, log);
  const database = await openMigratedDatabase(config, log);

  // Listen first: with PORT=0 the public URL (which handlers and callbacks use) is known only then.
  let handle: (request: Request) => Response | Promise<Response> = () =>
    new Response('starting', { status: 503, headers: { 'retry-after': '1' } });
  const server = await runtime.listen({ port: config.port, hostname: config.host }, (request) =>
    handle(request),
  );
  const publicUrl = env.HOOKMESH_PUBLIC_URL ? config.publicUrl : server.url;
  const send = runtime.createSender(config.allowPrivateNetwork);
  const close = async () => {
    await server.close();
    await send.close?.();
    database.client.close();
  };

  try {
    const definitions = resolveMesh(options.mesh, { publicUrl });
    const handlers = resolveHandlers(options.handlers, {
      publicUrl,
      producerToken: secrets.producers[0]!.token,
      fetch: globalThis.fetch,
    });
    const mesh = await createLocalMesh({
      config,
      secrets,
      publicUrl,
      stores: createSqlStores(database),
      inbox: handlers.length > 0 ? createLibsqlInbox(database.client) : null,
      definitions,
      handlers,
      send,
      ...(runtime.sign ? { sign: runtime.sign } : {}),
      clock: systemClock,
      log,
      owner: `${runtime.processName}-${crypto.randomUUID().slice(0, 8)}`,
    });
    handle = mesh.fetch;

    log('info', 'hookmesh listening', {
      url: server.url,
      publicUrl,
      role: config.role,
      transport: 'local',
      runtime: runtime.name.toLowerCase(),
      database: redactUrl(config.databaseUrl),
      // Where a file's statements run and how its commits are synced (HOOKMESH_SQLITE_THREAD,
      // HOOKMESH_SQLITE_SYNC, or the store's defaults; a worker thread always syncs in COMMIT).
      ...(isLocalFile(config.databaseUrl) ? sqliteSettings(config) : {}),
    });
    if (!config.production) printDevBanner(server.url, secrets, runtime.name, [...mesh.domainTypes]);

    return {
      url: server.url,
      publicUrl,
      async close() {
        await server.close();
        await mesh.stop();
        await send.close?.();
        database.client.close();
      },
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** `http://host:port`, brackets around an IPv6 address. */
export function toOrigin(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
