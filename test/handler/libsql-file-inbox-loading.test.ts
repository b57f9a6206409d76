import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTempDir, type TempDir } from './temp-dir.ts';

// The Node entry of `hookmesh/handler` loads no libSQL until an inbox on it is used, and a file
// inbox then loads the `libsql` binding itself, never `@libsql/client`. Both packages are wrapped
// to count their loads (their factories run on first import); nothing here imports them up front.

const loads = vi.hoisted(() => ({ client: 0, binding: 0 }));

vi.mock('@libsql/client', async (importOriginal) => {
  loads.client++;
  return importOriginal();
});

vi.mock('libsql', async (importOriginal) => {
  loads.binding++;
  return importOriginal();
});

const NOW = 1_800_000_000_000;

describe('hookmesh/handler on Node and libSQL', () => {
  let temp: TempDir | undefined;
  afterEach(() => {
    temp?.dispose();
  });

  it('a file inbox loads the libsql binding on first use, and never @libsql/client', async () => {
    const handler = await import('../../src/handler/node.ts');
    temp = createTempDir();
    const inbox = handler.createLibsqlInbox({ url: temp.fileUrl() });
    expect(loads).toEqual({ client: 0, binding: 0 });
    expect(await inbox.claim({ handler: 'billing', eventId: 'ie_1', nowMs: NOW, leaseMs: 1000 })).toBe(
      'claimed',
    );
    expect(loads).toEqual({ client: 0, binding: 1 });
    await inbox.close();

    // A URL with escapes is the client's to read (`%62` is `b`): that inbox goes through it.
    const viaClient = handler.createLibsqlInbox({ url: temp.fileUrl('in%62ox.db') });
    expect(await viaClient.claim({ handler: 'billing', eventId: 'ie_1', nowMs: NOW, leaseMs: 1000 })).toBe(
      'running',
    );
    expect(loads.client).toBe(1);
    await viaClient.close();
  });
});
