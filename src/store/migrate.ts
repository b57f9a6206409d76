import type { SqlDriver } from './sql-driver.ts';

export interface Migration {
  /** File name, e.g. `0000_init.sql`. */
  readonly name: string;
  readonly sql: string;
}

/**
 * Applies pending migrations, recording them in `d1_migrations` exactly as
 * `wrangler d1 migrations apply` does — so a database migrated by hookmesh and one migrated by
 * wrangler look the same. Each migration and its record commit together. Safe when several
 * processes start at once: the loser's batch fails and it finds the migration applied.
 */
export async function applyMigrations(
  driver: SqlDriver,
  migrations: readonly Migration[],
): Promise<string[]> {
  await driver.batch([
    {
      sql: `CREATE TABLE IF NOT EXISTS d1_migrations(
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        name       TEXT UNIQUE,
        applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
      )`,
      args: [],
    },
  ]);
  const applied: string[] = [];
  for (const migration of [...migrations].sort((a, b) => a.name.localeCompare(b.name))) {
    if (await isApplied(driver, migration.name)) continue;
    const statements = splitStatements(migration.sql).map((sql) => ({ sql, args: [] }));
    statements.push({
      sql: 'INSERT INTO d1_migrations (name) VALUES (?)',
      args: [migration.name] as never[],
    });
    try {
      await driver.batch(statements);
      applied.push(migration.name);
    } catch (error) {
      if (await isApplied(driver, migration.name)) continue;
      throw error;
    }
  }
  return applied;
}

/** Lists the migrations that are applied (for /healthz: ready once all are). */
export async function pendingMigrations(
  driver: SqlDriver,
  migrations: readonly Migration[],
): Promise<string[]> {
  const rows = await driver.query(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'd1_migrations'",
  );
  if (rows.length === 0) return migrations.map((m) => m.name);
  const done = new Set((await driver.query('SELECT name FROM d1_migrations')).map((r) => String(r.name)));
  return migrations.map((m) => m.name).filter((name) => !done.has(name));
}

async function isApplied(driver: SqlDriver, name: string): Promise<boolean> {
  return (await driver.query('SELECT 1 FROM d1_migrations WHERE name = ?', [name])).length > 0;
}

/** drizzle-kit separates statements with `--> statement-breakpoint`. */
function splitStatements(sql: string): string[] {
  return sql
    .split('--> statement-breakpoint')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
