import type { Client, Config, InStatement } from '@libsql/client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTempDir, type TempDir } from './temp-dir.ts';

// `hookmesh/handler` must not load libSQL (its native binding) for users of the memory or D1
// inbox: @libsql/client is replaced by a recording wrapper, whose factory runs on first import.
// Nothing in this file imports it (or test/support/temp-db.ts, which does) up front.

const libsql = vi.hoisted(() => ({
  loads: 0,
  configs: [] as Config[],
  executed: [] as string[],
}));

vi.mock('@libsql/client', async (importOriginal) => {
  libsql.loads++;
  const real = await importOriginal<typeof import('@libsql/client')>();
  return {
    ...real,
    createClient(config: Config): Client {
      libsql.configs.push(config);
      const client = real.createClient(config);
      const execute = client.execute.bind(client);
      client.execute = ((statement: InStatement) => {
        libsql.executed.push(typeof statement === 'string' ? statement : statement.sql);
        return execute(statement);
      }) as Client['execute'];
      return client;
    },
  };
});

const NOW = 1_800_000_000_000;

describe('hookmesh/handler and libSQL', () => {
  let temp: TempDir | undefined;
  afterEach(() => {
    temp?.dispose();
  });

  it('loads @libsql/client only once a libSQL inbox opens a client, and opens a file durably', async () => {
    const handler = await import('../../src/handler/index.ts');
    const memory = handler.createMemoryInbox();
    await memory.claim({ handler: 'billing', eventId: 'ie_1', nowMs: NOW, leaseMs: 1000 });
    temp = createTempDir();
    const inbox = handler.createLibsqlInbox({ url: temp.fileUrl() });
    expect(libsql.loads).toBe(0);

    expect(await inbox.claim({ handler: 'billing', eventId: 'ie_1', nowMs: NOW, leaseMs: 1000 })).toBe(
      'claimed',
    );
    expect(libsql.loads).toBe(1);
    expect(libsql.configs).toEqual([{ url: temp.fileUrl(), timeout: expect.any(Number) }]);
    expect(libsql.configs[0]?.timeout).toBeGreaterThanOrEqual(1000);
    expect(libsql.executed.slice(0, 2)).toEqual(['PRAGMA journal_mode = WAL', 'PRAGMA synchronous = FULL']);
    await inbox.close();
  });

  it('opens a remote database with its token and without file PRAGMAs, only when first used', async () => {
    const { createLibsqlInbox } = await import('../../src/handler/index.ts');
    libsql.configs.length = 0;
    libsql.executed.length = 0;
    // Nothing listens there: the claim fails, but the client was opened as asked.
    const inbox = createLibsqlInbox({ url: 'http://127.0.0.1:9', authToken: 'token' });
    expect(libsql.configs).toEqual([]);
    await expect(
      inbox.claim({ handler: 'billing', eventId: 'ie_1', nowMs: NOW, leaseMs: 1000 }),
    ).rejects.toThrow();
    expect(libsql.configs).toEqual([
      { url: 'http://127.0.0.1:9', authToken: 'token', timeout: expect.any(Number) },
    ]);
    expect(libsql.executed).toEqual([]);
    await inbox.close();
  });
});
