import { createClient } from '@libsql/client/web';
import { ConfigError } from '../core/errors.ts';
import { createLibsqlInbox } from '../handler/libsql-inbox.ts';
import { createLibsqlDriver } from '../store/libsql-driver.ts';
import type { WorkerDatabase, WorkerDatabaseOpener } from './worker-database.ts';

/**
 * The Worker's store on libSQL over HTTP (Turso, sqld) instead of D1: `DATABASE_URL`
 * (`libsql://…` or `https://…`) and `DATABASE_AUTH_TOKEN`. Opt in, so a Worker on D1 does not carry
 * the libSQL client in its bundle.
 * @example export default createWorker({ mesh, handlers, database: libsqlOverHttp });
 */
export const libsqlOverHttp: WorkerDatabaseOpener = ({ databaseUrl, databaseAuthToken }) => {
  if (!/^(libsql|https?):\/\//.test(databaseUrl)) {
    throw new ConfigError('libsqlOverHttp needs DATABASE_URL set to a libsql:// or https:// URL');
  }
  const client = createClient({
    url: databaseUrl,
    ...(databaseAuthToken ? { authToken: databaseAuthToken } : {}),
  });
  const database: WorkerDatabase = {
    driver: createLibsqlDriver(client),
    // No group commit in workerd: one request's promise settled by another request's I/O hangs.
    inbox: createLibsqlInbox(client, { groupCommit: false }),
  };
  return database;
};
