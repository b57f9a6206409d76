import type Database from 'libsql';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLibsqlInbox } from '../../src/handler/node.ts';
import { createTempDir, type TempDir } from './temp-dir.ts';
import { NOW } from './webhook-fixtures.ts';

// The file inbox's durability rests on its own connection committing at `synchronous = FULL` (an
// entry synced before the route answers, a token synced before its handler runs). SQLite applies
// that pragma when a statement naming it is compiled, not when it runs: preparing a
// `PRAGMA synchronous = NORMAL` to run later would quietly switch every commit after it. Issue 12
// (session 25) met exactly that in an experiment. The level is per connection and invisible from
// another one, so this reads it on the inbox's own connection, captured as `libsql` opens it.

const opened = vi.hoisted(() => [] as Database.Database[]);

vi.mock('libsql', async (importOriginal) => {
  const { default: Original, ...rest } = await importOriginal<{ default: typeof Database }>();
  class Captured extends Original {
    constructor(...args: ConstructorParameters<typeof Database>) {
      super(...args);
      opened.push(this);
    }
  }
  return { ...rest, default: Captured };
});

const LEASE = 60_000;

describe('libSQL file inbox on Node: its connection', () => {
  let temp: TempDir | undefined;
  afterEach(() => {
    opened.length = 0;
    temp?.dispose();
    temp = undefined;
  });

  it('commits at synchronous = FULL in WAL mode after tokens, claims, extends, releases and completes', async () => {
    temp = createTempDir();
    const inbox = createLibsqlInbox({ url: temp.fileUrl() });
    const admitted = await Promise.all(
      ['ie_1', 'ie_2'].map((eventId, i) =>
        inbox.recordTokenAndClaim!({
          jti: `jti_${i}`,
          handler: 'billing',
          eventId,
          expiresAtMs: NOW + 300_000,
          nowMs: NOW,
          leaseMs: LEASE,
        }),
      ),
    );
    expect(admitted.map((a) => a.claim)).toEqual(['claimed', 'claimed']);
    expect(
      await inbox.extend({ handler: 'billing', eventId: 'ie_1', claimedAt: NOW, nowMs: NOW, leaseMs: LEASE }),
    ).toBe(true);
    await Promise.all([
      inbox.complete({ handler: 'billing', eventId: 'ie_1', nowMs: NOW }),
      inbox.release({ handler: 'billing', eventId: 'ie_2', claimedAt: NOW }),
    ]);
    expect(opened).toHaveLength(1);
    const [connection] = opened;
    expect(connection!.prepare('PRAGMA journal_mode').get([])).toMatchObject({ journal_mode: 'wal' });
    expect(connection!.prepare('PRAGMA synchronous').get([])).toMatchObject({ synchronous: 2 });
    await inbox.close();
  });

  it('copies its write-ahead log into the database every 4,000 pages, not every 1,000', async () => {
    temp = createTempDir();
    const inbox = createLibsqlInbox({ url: temp.fileUrl() });
    await inbox.complete({ handler: 'billing', eventId: 'ie_1', nowMs: NOW });
    expect(opened).toHaveLength(1);
    expect(opened[0]!.prepare('PRAGMA wal_autocheckpoint').get([])).toMatchObject({
      wal_autocheckpoint: 4000,
    });
    await inbox.close();
  });
});
