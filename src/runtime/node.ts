import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { drizzle } from 'drizzle-orm/libsql';
import { systemClock } from '../core/clock.ts';
import type { MeshDefinitions } from '../core/registry.ts';
import { createOrdersMesh } from '../example/orders.ts';
import { createLibsqlStore, openLibsql } from '../store/libsql-store.ts';
import { applyMigrations, type Migration } from '../store/migrate.ts';
import * as schema from '../store/schema.ts';
import { createSqlDeliveryAdminStore } from '../store/sql-delivery-admin-store.ts';
import { createSqlSubscriptionStore } from '../store/sql-subscription-store.ts';
import { type MeshConfig, readConfig } from './config.ts';
import { loadDevSecrets } from './dev-secrets.ts';
import { consoleLogger, type Logger } from './log.ts';
import { createMesh } from './mesh.ts';

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

/**
 * Starts the mesh on Node: libSQL (a file by default), migrations applied, the API served.
 * @example const mesh = await startNodeMesh(process.env);
 */
export async function startNodeMesh(
  env: Readonly<Record<string, string | undefined>>,
  options: { log?: Logger; definitions?: (config: MeshConfig) => MeshDefinitions } = {},
): Promise<NodeMesh> {
  const log = options.log ?? consoleLogger;
  const config = readConfig(env, { transport: 'local' });
  const dev = config.production ? null : loadDevSecrets(resolve('data/dev-secrets.json'));
  const producers = config.producerTokens ?? [{ name: 'dev', token: dev!.producerToken }];
  const adminToken = config.adminToken ?? dev!.adminToken;

  if (config.databaseUrl.startsWith('file:') && !config.databaseUrl.startsWith('file::memory:')) {
    mkdirSync(dirname(resolve(config.databaseUrl.slice('file:'.length))), { recursive: true });
  }
  const { client, driver } = await openLibsql({
    url: config.databaseUrl,
    authToken: config.databaseAuthToken,
  });
  const applied = await applyMigrations(driver, readMigrations());
  if (applied.length > 0) log('info', 'migrations applied', { applied });
  const store = createLibsqlStore(client, driver);
  const db = drizzle(client, { schema });

  const definitions = (options.definitions ?? ((c) => createOrdersMesh(c.publicUrl)))(config);
  const { app } = await createMesh({
    definitions,
    store,
    subscriptions: createSqlSubscriptionStore({ db, driver }),
    deliveries: createSqlDeliveryAdminStore({ db, driver }),
    urlRules: { requireHttps: config.production, allowPrivateNetwork: config.allowPrivateNetwork },
    tokens: { producers, admin: adminToken },
    clock: systemClock,
    log,
  });

  const server = serve({ fetch: app.fetch, port: config.port, hostname: config.host });
  await new Promise<void>((ok, fail) => {
    server.once('listening', ok);
    server.once('error', fail);
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  log('info', 'hookmesh listening', {
    url,
    role: config.role,
    transport: config.transport,
    database: redactUrl(config.databaseUrl),
  });
  if (dev) {
    printDevBanner(
      url,
      config.producerTokens ? null : producers[0]!.token,
      config.adminToken ? null : adminToken,
    );
  }

  return {
    url,
    config,
    async close() {
      await new Promise<void>((ok) => server.close(() => ok()));
      await store.close();
    },
  };
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@').replace(/([?&](authToken|token)=)[^&]*/gi, '$1***');
}

/** Outside production only, the mesh prints the dev credentials it made up, so a newcomer can try it. */
function printDevBanner(url: string, producer: string | null, admin: string | null) {
  const token = producer ?? '<a token from HOOKMESH_PRODUCER_TOKENS>';
  console.log(`
hookmesh (development) on ${url}
  producer token: ${producer ?? '(from HOOKMESH_PRODUCER_TOKENS)'}
  admin token:    ${admin ?? '(from HOOKMESH_ADMIN_TOKEN)'}
Try it:
  curl -s -X POST ${url}/v1/events -H 'authorization: Bearer ${token}' -H 'content-type: application/json' \\
    -d '{"type":"OrderCreated","data":{"order":{"id":"o-1","customerId":"c-1","total":42.5,"currency":"EUR"}}}'
`);
}
