import Database from 'libsql';
import { toSqlArgs } from '../../src/store/libsql-args.ts';
import type { SqlDriver, SqlRow } from '../../src/store/sql-driver.ts';

/** Told each statement's SQL (`BEGIN IMMEDIATE` and `COMMIT` included) and its CPU time in µs. */
export type StatementTimer = (sql: string, cpuUs: number) => void;

/**
 * The file driver's way — WAL and `synchronous = FULL`, statements prepared once and kept, a
 * batch one `BEGIN IMMEDIATE … COMMIT` — on the calling thread, with each statement's CPU time
 * (`process.cpuUsage`) handed to `time`: what bench/dispatch-statements.ts and
 * bench/ingest-commit.ts split a cycle's or a commit's cost by.
 */
export function createTimedDriver(
  path: string,
  time: StatementTimer,
): SqlDriver & { close(): Promise<void> } {
  const db = new Database(path, { timeout: 1000 });
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = FULL');
  const cache = new Map<string, Database.Statement>();
  const prepare = (sql: string) => {
    let s = cache.get(sql);
    if (s === undefined) {
      s = db.prepare(sql);
      cache.set(sql, s);
    }
    return s;
  };
  const run = (sql: string, args: readonly (string | number | null)[]): SqlRow[] => {
    const st = prepare(sql);
    const bound = toSqlArgs(args);
    const t = process.cpuUsage();
    let rows: SqlRow[] = [];
    if (st.reader) rows = st.all(bound) as SqlRow[];
    else st.run(bound);
    const d = process.cpuUsage(t);
    time(sql, d.user + d.system);
    return rows;
  };
  return {
    maxParams: 30_000,
    async query(sql, args = []) {
      return run(sql, args);
    },
    async batch(statements) {
      run('BEGIN IMMEDIATE', []);
      try {
        for (const s of statements) run(s.sql, s.args);
      } catch (error) {
        db.exec('ROLLBACK');
        throw error;
      }
      run('COMMIT', []);
      return statements.map(() => 0);
    },
    // BENCH_QUERY_AFTER=0 leaves it out: a lease's rows are then read after its commit.
    ...(process.env.BENCH_QUERY_AFTER === '0'
      ? {}
      : {
          async queryAfter(statements, sql, args = []) {
            run('BEGIN IMMEDIATE', []);
            let rows: SqlRow[];
            try {
              for (const s of statements) run(s.sql, s.args);
              rows = run(sql, args);
            } catch (error) {
              db.exec('ROLLBACK');
              throw error;
            }
            run('COMMIT', []);
            return rows;
          },
        }),
    isConstraintError: () => false,
    async close() {
      db.close();
    },
  };
}
