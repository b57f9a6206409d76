import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.ts';
import { libsqlOverHttp } from '../../src/worker.ts';

// The Worker's opt-in store on libSQL over HTTP (Turso, sqld). No sqld runs here: what is tested is
// what the adapter decides before any request (a reachable database is the deployment's job).
describe('libsqlOverHttp', () => {
  it('refuses a DATABASE_URL a Worker cannot reach (a file), naming the variable', () => {
    expect(() =>
      libsqlOverHttp({ databaseUrl: 'file:./data/hookmesh.db', databaseAuthToken: undefined }),
    ).toThrow(ConfigError);
    expect(() => libsqlOverHttp({ databaseUrl: 'file:x.db', databaseAuthToken: undefined })).toThrow(
      /DATABASE_URL/,
    );
  });

  it('opens libsql:// and https:// URLs without a round trip: stores, driver and inbox', () => {
    for (const databaseUrl of ['libsql://mesh-team.turso.io', 'https://sqld.internal.example:8080']) {
      const database = libsqlOverHttp({ databaseUrl, databaseAuthToken: 'a-token' });
      expect(typeof database.driver.batch).toBe('function');
      expect(typeof database.inbox.claim).toBe('function');
    }
  });
});
