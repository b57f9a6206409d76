import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@libsql/client';
import { readMigrations } from '../../src/runtime/migrations.ts';
import { openLibsql, type SqliteThread } from '../../src/store/libsql-store.ts';
import { applyMigrations } from '../../src/store/migrate.ts';
import type { SqlDriver } from '../../src/store/sql-driver.ts';

export interface TempDb {
  readonly url: string;
  readonly dir: string;
  readonly client: Client;
  readonly driver: SqlDriver;
  /** Counts rows of a table, for "nothing was written" assertions. */
  count(table: string): Promise<number>;
  dispose(): Promise<void>;
}

/**
 * A real libSQL file database in a temp directory, migrated, as the mesh opens it (its statements
 * on the runtime's default thread unless `sqliteThread` says).
 */
export async function createTempDb(options: { sqliteThread?: SqliteThread } = {}): Promise<TempDb> {
  const dir = mkdtempSync(join(tmpdir(), 'hookmesh-test-'));
  const url = `file:${join(dir, 'hookmesh.db')}`;
  const { client, driver } = await openLibsql({ url, sqliteThread: options.sqliteThread });
  await applyMigrations(driver, readMigrations());
  return {
    url,
    dir,
    client,
    driver,
    async count(table) {
      const rows = await driver.query(`SELECT count(*) AS n FROM ${table}`);
      return Number(rows[0]!.n);
    },
    async dispose() {
      client.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
