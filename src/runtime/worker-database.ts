import type { Inbox } from '../handler/inbox.ts';
import type { SqlDatabase } from '../store/sql-database.ts';

/** The Worker's database: what the SQL stores take, and the handlers' inbox beside them. */
export interface WorkerDatabase extends SqlDatabase {
  readonly inbox: Inbox;
}

/** Opens the Worker's database when no D1 is bound as `DB` (see `libsqlOverHttp`). */
export type WorkerDatabaseOpener = (config: {
  readonly databaseUrl: string;
  readonly databaseAuthToken: string | undefined;
}) => WorkerDatabase;
