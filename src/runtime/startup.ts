import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createExampleHandlers } from '../example/handlers.ts';
import { openLibsql } from '../store/libsql-store.ts';
import { applyMigrations } from '../store/migrate.ts';
import type { MeshConfig } from './config.ts';
import { loadDevSecrets } from './dev-secrets.ts';
import type { Logger } from './log.ts';
import { readMigrations } from './migrations.ts';
import { type MeshSecrets, resolveSecrets } from './secrets.ts';

// What the Node and Deno entries share before they serve: both run on libSQL files with the local
// transport; only the server and the outbound HTTP client differ.

/** The configured secrets; outside production, whatever is missing comes from data/dev-secrets.json. */
export function loadSecrets(config: MeshConfig): MeshSecrets {
  const complete = config.producerTokens && config.adminToken && config.qstash.currentSigningKey;
  const dev = config.production || complete ? null : loadDevSecrets(resolve('data/dev-secrets.json'));
  return resolveSecrets(config, dev);
}

/** Opens the libSQL database (creating a file's directory) and applies pending migrations. */
export async function openMigratedDatabase(config: MeshConfig, log: Logger) {
  if (config.databaseUrl.startsWith('file:') && !config.databaseUrl.startsWith('file::memory:')) {
    mkdirSync(dirname(resolve(config.databaseUrl.slice('file:'.length))), { recursive: true });
  }
  const database = await openLibsql({ url: config.databaseUrl, authToken: config.databaseAuthToken });
  const applied = await applyMigrations(database.driver, readMigrations());
  if (applied.length > 0) log('info', 'migrations applied', { applied });
  return database;
}

/** The example's billing and notifications handlers, posting back to this mesh. */
export function exampleHandlers(deps: { publicUrl: string; secrets: MeshSecrets; log: Logger }) {
  return createExampleHandlers({
    meshUrl: deps.publicUrl,
    producerToken: deps.secrets.producers[0]!.token,
    fetch,
    log: (message, fields) => deps.log('info', message, fields),
  });
}

/** A database URL fit for a log line: no credentials. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@').replace(/([?&](authToken|token)=)[^&]*/gi, '$1***');
}

/** Outside production only, the mesh prints the dev credentials it made up, so a newcomer can try it. */
export function printDevBanner(url: string, secrets: MeshSecrets, runtime: string) {
  const producer = secrets.generated.producer ? secrets.producers[0]!.token : null;
  const token = producer ?? '<a token from HOOKMESH_PRODUCER_TOKENS>';
  console.log(`
hookmesh (development, ${runtime}) on ${url}
  producer token: ${producer ?? '(from HOOKMESH_PRODUCER_TOKENS)'}
  admin token:    ${secrets.generated.admin ? secrets.adminToken : '(from HOOKMESH_ADMIN_TOKEN)'}
  signing key:    ${secrets.generated.signing ? secrets.signingKeys.current : '(from QSTASH_CURRENT_SIGNING_KEY)'}
Try it:
  curl -s -X POST ${url}/v1/events -H 'authorization: Bearer ${token}' -H 'content-type: application/json' \\
    -d '{"type":"OrderCreated","data":{"order":{"id":"o-1","customerId":"c-1","total":42.5,"currency":"EUR"}}}'
`);
}
