import { createHash } from 'node:crypto';
import { readMigrations } from '../../src/runtime/migrations.ts';

/**
 * The key of a bench's cached filled store: what it was filled with (`parts`) and the migrations
 * by content, not by name — a migration regenerated under its own name before its release (0011
 * in the thirteenth session) must not reuse a store filled with the old one.
 * @example const key = storeCacheKey([delivered, dead]); // 12 hex digits
 */
export function storeCacheKey(parts: readonly unknown[]): string {
  const migrations = readMigrations().map((m) => [m.name, m.sql]);
  return createHash('sha256')
    .update(JSON.stringify([...parts, migrations]))
    .digest('hex')
    .slice(0, 12);
}
