import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Migration } from '../store/migrate.ts';

const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

/**
 * Reads `migrations/NNNN_name.sql` from the package. `node:fs` alone, so the Node and Deno entries
 * share it without pulling in either one's server or HTTP client.
 * @example await applyMigrations(driver, readMigrations());
 */
export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((name) => /^\d{4}_.*\.sql$/.test(name))
    .sort()
    .map((name) => ({ name, sql: readFileSync(resolve(dir, name), 'utf8') }));
}
