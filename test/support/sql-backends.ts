import { afterAll, afterEach } from 'vitest';
import { createD1Driver } from '../../src/store/d1-driver.ts';
import type { SqlDriver } from '../../src/store/sql-driver.ts';
import { applyD1Migrations, createD1Miniflare, dropAllTables, getD1 } from './d1.ts';
import { createTempDb, type TempDb } from './temp-db.ts';

/** One of the databases the SQL stores run on; `open` gives it freshly migrated, for one test. */
export interface SqlBackend {
  readonly name: 'libSQL (file)' | 'D1 (miniflare)';
  open(): Promise<SqlDriver>;
}

/**
 * The databases the SQL stores run on, for a suite written once to run on each: a libSQL file in
 * a temp directory (the Node and Deno mesh) and D1 in Miniflare (the Worker). Each `open()` is a
 * database migrated from nothing: a new file, or D1's tables dropped and migrated again. Call it
 * at the top of a test file: it registers the cleanup there (the files after each test, the
 * Miniflare after the file).
 * @example for (const backend of sqlBackends()) describeListing(backend.name, backend.open);
 */
export function sqlBackends(): readonly SqlBackend[] {
  const temps: TempDb[] = [];
  afterEach(async () => {
    for (const temp of temps.splice(0)) await temp.dispose();
  });
  const mf = createD1Miniflare(['DB']);
  afterAll(async () => {
    await mf.dispose();
  });
  return [
    {
      name: 'libSQL (file)',
      async open() {
        const temp = await createTempDb();
        temps.push(temp);
        return temp.driver;
      },
    },
    {
      name: 'D1 (miniflare)',
      async open() {
        const d1 = await getD1(mf, 'DB');
        await dropAllTables(d1);
        await applyD1Migrations(d1);
        return createD1Driver(d1);
      },
    },
  ];
}
