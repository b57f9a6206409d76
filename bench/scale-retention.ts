// bench:scale's purge: the mesh's own retention job (runRetentionPass over the SQL retention
// store, as `serveMesh` runs it every hour) in a process of its own on the same file, pass after
// pass until nothing older than RETENTION_BEFORE (epoch ms) is left, pausing between batches as
// the local mesh does. One JSON line per pass. A
// pass that fails (the write lock busy past the driver's wait, under heavy ingest) is reported
// and tried again, as the mesh's job would try again an hour later.
import { pauseAsLongAsHeld, runRetentionPass } from '../src/core/retention.ts';
import { type LibsqlDatabase, openLibsql } from '../src/store/libsql-store.ts';
import { createSqlRetention } from '../src/store/sql-retention.ts';

const MAX_FAILURES = 100;
const url = process.env.DATABASE_URL ?? '';
const before = Number(process.env.RETENTION_BEFORE);
const started = performance.now();
let failures = 0;

async function retrying<T>(what: string, work: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await work();
    } catch (error) {
      if (++failures > MAX_FAILURES) throw error;
      console.log(
        `failed ${JSON.stringify({ what, error: error instanceof Error ? error.message : String(error) })}`,
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

const database: LibsqlDatabase = await retrying('open', () => openLibsql({ url }));
const retention = createSqlRetention(database.driver);
let events = 0;
for (let pass = 1; ; pass++) {
  const at = performance.now();
  const removed = await retrying('pass', () =>
    runRetentionPass(retention, { before, between: pauseAsLongAsHeld }),
  );
  events += removed.events;
  console.log(`pass ${JSON.stringify({ pass, ...removed, seconds: (performance.now() - at) / 1000 })}`);
  if (removed.done) break;
}
console.log(`result ${JSON.stringify({ events, failures, seconds: (performance.now() - started) / 1000 })}`);
database.client.close();
