import { Miniflare } from 'miniflare';
import { readMigrations } from '../../src/runtime/migrations.ts';
import { createD1Driver, type D1Database } from '../../src/store/d1-driver.ts';
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

/** Every table a test may have created, `d1_migrations` included; D1's own `_cf_*` tables stay. */
export async function dropAllTables(d1: D1Database): Promise<void> {
  const rows = await createD1Driver(d1).query(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'",
  );
  if (rows.length === 0) return;
  // D1 enforces foreign keys (libSQL does not by default): defer them so drop order does not matter.
  await d1.batch([
    d1.prepare('PRAGMA defer_foreign_keys = ON'),
    ...rows.map((r) => d1.prepare(`DROP TABLE "${String(r.name)}"`)),
  ]);
}

/** Rows in a table, for "nothing was written" assertions. */
export async function countRows(d1: D1Database, table: string): Promise<number> {
  const rows = await createD1Driver(d1).query(`SELECT count(*) AS n FROM ${table}`);
  return Number(rows[0]!.n);
}

/**
 * A Miniflare instance whose only purpose is to hold D1 databases reachable from Node
 * (`mf.getD1Database(name)`); its Worker answers nothing useful.
 * @example const mf = createD1Miniflare(['DB']); const d1 = await getD1(mf, 'DB');
 */
export function createD1Miniflare(names: readonly string[] = ['DB']): Miniflare {
  return new Miniflare({
    modules: true,
    script: 'export default { fetch() { return new Response(null) } }',
    compatibilityDate: COMPATIBILITY_DATE,
    d1Databases: [...names],
  });
}

/** miniflare types its D1 proxy with @cloudflare/workers-types, which is not installed here. */
export async function getD1(mf: Miniflare, name = 'DB'): Promise<D1Database> {
  return (await mf.getD1Database(name)) as D1Database;
}
