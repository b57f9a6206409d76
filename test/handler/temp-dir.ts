import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TempDir {
  readonly dir: string;
  /** A `file:` URL for a database file in the directory, not yet created. */
  fileUrl(name?: string): string;
  dispose(): void;
}

/** An empty temp directory for database files: no client, no migrations (unlike test/support/temp-db.ts). */
export function createTempDir(): TempDir {
  const dir = mkdtempSync(join(tmpdir(), 'hookmesh-inbox-'));
  return {
    dir,
    fileUrl: (name = 'inbox.db') => `file:${join(dir, name)}`,
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
