import { Miniflare } from 'miniflare';
import { readMigrations } from '../../src/runtime/migrations.ts';
import {
  createD1Driver,
  type D1Database,
  type D1PreparedStatement,
  type D1Result,
} from '../../src/store/d1-driver.ts';
import { applyMigrations, type Migration } from '../../src/store/migrate.ts';

/** What the installed workerd supports (miniflare's `supportedCompatibilityDate`), as in wrangler.toml. */
export const COMPATIBILITY_DATE = '2026-04-26';

/**
 * Applies `migrations/` to a D1 database as `wrangler d1 migrations apply` does: the same
 * `d1_migrations` table (id, name, applied_at), pending files in name order, each file and its
 * record in one atomic batch. hookmesh's own `applyMigrations` is that procedure; the one
 * difference is where statements are cut — wrangler cuts a file at its `;`s, hookmesh at
 * drizzle-kit's `--> statement-breakpoint` markers, which sit right after those `;`s in every
 * generated file (d1-store.test.ts checks both give the same database).
 * @example await applyD1Migrations(await mf.getD1Database('DB'));
 */
export async function applyD1Migrations(
  d1: D1Database,
  migrations: readonly Migration[] = readMigrations(),
): Promise<string[]> {
  return applyMigrations(createD1Driver(d1), migrations);
}

/**
 * Every table and view a test may have created, `d1_migrations` included; D1's own `_cf_*` tables
 * stay. Views first: a view left behind is checked by the next migrations' `ALTER TABLE`s, against
 * tables that do not have its columns yet.
 */
export async function dropAllTables(d1: D1Database): Promise<void> {
  const rows = await createD1Driver(d1).query(
    "SELECT type, name FROM sqlite_master WHERE type IN ('view', 'table') AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' ORDER BY type = 'table'",
  );
  if (rows.length === 0) return;
  // D1 enforces foreign keys (libSQL does not by default): defer them so drop order does not matter.
  await d1.batch([
    d1.prepare('PRAGMA defer_foreign_keys = ON'),
    ...rows.map((r) => d1.prepare(`DROP ${r.type === 'view' ? 'VIEW' : 'TABLE'} "${String(r.name)}"`)),
  ]);
}

/** Rows in a table, for "nothing was written" assertions. */
export async function countRows(d1: D1Database, table: string): Promise<number> {
  const rows = await createD1Driver(d1).query(`SELECT count(*) AS n FROM ${table}`);
  return Number(rows[0]!.n);
}

/**
 * The Worker of `createD1Miniflare`: runs the statements it is sent on the named D1 binding — one
 * `all()`, or one `batch()` — and answers the results, or D1's error message (and its cause's).
 */
const SQL_WORKER = `export default {
  async fetch(request, env) {
    const { db, batch, statements } = await request.json();
    const d1 = env[db];
    try {
      const prepared = statements.map((s) => d1.prepare(s.sql).bind(...s.args));
      const results = batch ? await d1.batch(prepared) : [await prepared[0].all()];
      return Response.json({ results });
    } catch (error) {
      return Response.json({ error: String(error?.message ?? error), cause: error?.cause?.message ?? null });
    }
  },
};`;

/** The Miniflare instances made by `createD1Miniflare`, whose D1 `getD1` reaches by `dispatchFetch`. */
const sqlOverFetch = new WeakSet<Miniflare>();

/**
 * A Miniflare instance whose only purpose is to hold D1 databases reachable from Node; its Worker
 * runs the SQL it is sent (`getD1` gives a `D1Database` over it).
 * @example const mf = createD1Miniflare(['DB']); const d1 = await getD1(mf, 'DB');
 */
export function createD1Miniflare(names: readonly string[] = ['DB']): Miniflare {
  const mf = new Miniflare({
    modules: true,
    script: SQL_WORKER,
    compatibilityDate: COMPATIBILITY_DATE,
    d1Databases: [...names],
  });
  sqlOverFetch.add(mf);
  return mf;
}

/**
 * A D1 database reachable from Node. On an instance of `createD1Miniflare`, statements go by
 * `dispatchFetch` to its Worker; elsewhere through miniflare's binding proxy. Why not always the
 * proxy: its synchronous calls (`prepare`, `bind`) cross a worker thread with a handshake that
 * desynchronises when that thread is preempted between its `Atomics.store` and `Atomics.notify`
 * (an `AssertionError: false == true` in fetch-sync.ts, then every later call of the instance
 * fails) — seen under heavy load on the store contract suites, which make thousands of those
 * calls. Fixed upstream (cloudflare/workers-sdk#15552) in miniflare releases that need Node 22.
 */
export async function getD1(mf: Miniflare, name = 'DB'): Promise<D1Database> {
  if (sqlOverFetch.has(mf)) return d1OverFetch(mf, name);
  // miniflare types its D1 proxy with @cloudflare/workers-types, which is not installed here.
  return (await mf.getD1Database(name)) as D1Database;
}

interface FetchedStatement extends D1PreparedStatement {
  readonly sql: string;
  readonly args: readonly unknown[];
}

function d1OverFetch(mf: Miniflare, db: string): D1Database {
  const run = async (batch: boolean, statements: readonly FetchedStatement[]): Promise<D1Result[]> => {
    const response = await mf.dispatchFetch('http://d1.local/', {
      method: 'POST',
      body: JSON.stringify({ db, batch, statements: statements.map(({ sql, args }) => ({ sql, args })) }),
    });
    const answer = (await response.json()) as { results?: D1Result[]; error?: string; cause?: string | null };
    if (answer.error !== undefined) {
      throw new Error(answer.error, answer.cause ? { cause: new Error(answer.cause) } : undefined);
    }
    return answer.results!;
  };
  const statement = (sql: string, args: readonly unknown[]): FetchedStatement => ({
    sql,
    args,
    bind: (...values: unknown[]) => statement(sql, values),
    all: async <T>() => (await run(false, [statement(sql, args)]))[0] as D1Result<T>,
  });
  return {
    prepare: (sql) => statement(sql, []),
    batch: (statements) => run(true, statements as FetchedStatement[]),
    exec: async (sql) => run(true, [statement(sql, [])]),
  };
}

/**
 * Migrates the persisted D1 database a Worker under test will open (binding `DB`, database
 * `hookmesh`, files under `persist`) as `wrangler d1 migrations apply` would before a deploy: in a
 * Miniflare of its own, disposed after. `then` may prepare more on the migrated database.
 * @example await migratePersistedD1(join(dir, 'd1')); const mf = new Miniflare({ …, d1Persist: join(dir, 'd1') });
 */
export async function migratePersistedD1(
  persist: string,
  then?: (d1: D1Database) => Promise<void>,
): Promise<void> {
  const migrator = new Miniflare({
    modules: true,
    script: SQL_WORKER,
    compatibilityDate: COMPATIBILITY_DATE,
    d1Databases: { DB: 'hookmesh' },
    d1Persist: persist,
  });
  sqlOverFetch.add(migrator);
  try {
    const d1 = await getD1(migrator);
    await applyD1Migrations(d1);
    await then?.(d1);
  } finally {
    await migrator.dispose();
  }
}
