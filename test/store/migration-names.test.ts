import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MIGRATION_NAMES } from '../../src/store/migration-names.ts';

describe('the migration list the Worker is built with', () => {
  it('names every migrations/*.sql, in order', () => {
    const files = readdirSync(new URL('../../migrations/', import.meta.url))
      .filter((name) => /^\d{4}_.*\.sql$/.test(name))
      .sort();
    expect(MIGRATION_NAMES).toEqual(files);
  });
});
