import { createClient } from '@libsql/client';

export interface DbCheck {
  domainEvents: number | null;
  journalMode: string | null;
  synchronous: string | null;
  errors: string[];
}

const SYNCHRONOUS: Record<string, string> = { '0': 'OFF', '1': 'NORMAL', '2': 'FULL', '3': 'EXTRA' };

/**
 * Reads the mesh's database after the run. Never throws: a failed query is reported in `errors`
 * so the figures measured so far still get printed.
 */
export async function checkDatabase(url: string): Promise<DbCheck> {
  const result: DbCheck = { domainEvents: null, journalMode: null, synchronous: null, errors: [] };
  let client: ReturnType<typeof createClient>;
  try {
    client = createClient({ url });
  } catch (error) {
    result.errors.push(`open ${url}: ${String(error)}`);
    return result;
  }
  const first = async (sql: string): Promise<string | null> => {
    try {
      const row = (await client.execute(sql)).rows[0];
      return row === undefined ? null : String(row[0]);
    } catch (error) {
      result.errors.push(`${sql}: ${error instanceof Error ? error.message : String(error)}`);
      return null;
    }
  };
  const count = await first('SELECT count(*) FROM domain_events');
  result.domainEvents = count === null ? null : Number(count);
  result.journalMode = await first('PRAGMA journal_mode');
  const synchronous = await first('PRAGMA synchronous');
  result.synchronous = synchronous === null ? null : (SYNCHRONOUS[synchronous] ?? synchronous);
  client.close();
  return result;
}
