import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@libsql/client';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run.ts';
import { MIGRATION_NAMES } from '../../src/store/migration-names.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function run(args: string[], env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { env, out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('hookmesh (the command line)', () => {
  it('--help names every command and exits 0; no command prints it and exits 2', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/hookmesh migrate/);
    expect((await run([])).code).toBe(2);
  });

  it('migrate applies every migration to a new file database, then finds it up to date', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hookmesh-cli-'));
    dirs.push(dir);
    const url = `file:${join(dir, 'nested', 'mesh.db')}`;
    const first = await run(['migrate'], { DATABASE_URL: url });
    expect(first).toMatchObject({ code: 0, err: '' });
    expect(first.out).toContain(MIGRATION_NAMES[0]);
    const client = createClient({ url });
    const rows = await client.execute('SELECT name FROM d1_migrations ORDER BY id');
    expect(rows.rows.map((r) => r.name)).toEqual([...MIGRATION_NAMES]);
    const tables = await client.execute("SELECT name FROM sqlite_master WHERE type = 'table'");
    expect(tables.rows.map((r) => r.name)).toEqual(expect.arrayContaining(['deliveries', 'domain_events']));
    client.close();
    const again = await run(['migrate'], { DATABASE_URL: url });
    expect(again).toMatchObject({ code: 0 });
    expect(again.out).toMatch(/up to date/);
  });

  it('a URL of another scheme is a one-line error and exit 2; the token never shows', async () => {
    const result = await run(['migrate'], { DATABASE_URL: 'ftp://user:secret@example.com/db' });
    expect(result.code).toBe(2);
    expect(result.err.split('\n')).toHaveLength(1);
    expect(result.err).not.toContain('secret');
  });

  it('an unreachable database is a one-line error and exit 1, never a stack trace', async () => {
    // A port that refuses connections: bound, then closed.
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const result = await run(['migrate'], {
      DATABASE_URL: `http://127.0.0.1:${port}`,
      DATABASE_AUTH_TOKEN: 'a-secret-token-0123456789',
    });
    expect(result.code).toBe(1);
    expect(result.err.split('\n')).toHaveLength(1);
    expect(result.err).toMatch(/^hookmesh: cannot migrate http:\/\/127\.0\.0\.1:\d+: /);
    expect(result.err).not.toMatch(/\bat \S+ \(/);
    expect(result.err).not.toContain('a-secret-token');
  });

  it('an unknown command is exit 2', async () => {
    expect((await run(['bogus'])).code).toBe(2);
  });
});
