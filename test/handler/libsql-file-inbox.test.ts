import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createClient } from '@libsql/client';
import { afterEach, describe, expect, it } from 'vitest';
import * as web from '../../src/handler/index.ts';
import { toInboxFilePath } from '../../src/handler/libsql-file-inbox.ts';
import { createLibsqlInbox } from '../../src/handler/node.ts';
import { describeInboxContract } from './inbox.contract.ts';
import { createTempDir, type TempDir } from './temp-dir.ts';
import { describeTwoInboxesOnOneFile } from './two-inboxes.contract.ts';
import { NOW } from './webhook-fixtures.ts';

// On Node, `createLibsqlInbox({ url: 'file:…' })` keeps its own connection with its statements
// prepared (src/handler/libsql-file-inbox.ts): the same tables and answers as the client inbox,
// which other processes of a service may still use on the same file.

const LEASE = 60_000;

describeInboxContract('libSQL file on Node (own connection, prepared statements)', async () => {
  const temp = createTempDir();
  const inbox = createLibsqlInbox({ url: temp.fileUrl() });
  return {
    inbox,
    async dispose() {
      await inbox.close();
      temp.dispose();
    },
  };
});

async function rowsOf(url: string, sql: string) {
  const client = createClient({ url });
  try {
    return (await client.execute(sql)).rows.map((r) => ({ ...r }));
  } finally {
    client.close();
  }
}

describe('libSQL file inbox on Node', () => {
  let temp: TempDir | undefined;
  const inboxes: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const inbox of inboxes.splice(0)) await inbox.close();
    temp?.dispose();
    temp = undefined;
  });
  const open = (url: string) => {
    const inbox = createLibsqlInbox({ url });
    inboxes.push(inbox);
    return inbox;
  };

  it('takes the path of a plain file URL; a URL only the client reads keeps the client', () => {
    expect(toInboxFilePath('file:./data/inbox.db')).toBe('./data/inbox.db');
    expect(toInboxFilePath('file:/srv/inbox.db')).toBe('/srv/inbox.db');
    expect(toInboxFilePath('file:///srv/inbox.db')).toBe('/srv/inbox.db');
    expect(toInboxFilePath('file://localhost/srv/inbox.db')).toBe('/srv/inbox.db');
    expect(toInboxFilePath('file:///C:/data/inbox.db')).toBe('C:/data/inbox.db');
    expect(toInboxFilePath('file:inbox.db?mode=ro')).toBeNull();
    expect(toInboxFilePath('file:my%20inbox.db')).toBeNull();
    expect(toInboxFilePath('file::memory:')).toBeNull();
    expect(toInboxFilePath('libsql://inbox.turso.io')).toBeNull();
  });

  it('puts the file in WAL mode and creates the tables the client inbox creates', async () => {
    temp = createTempDir();
    await open(temp.fileUrl('file.db')).complete({ handler: 'billing', eventId: 'ie_1', nowMs: NOW });
    await web.createLibsqlInbox({ url: temp.fileUrl('client.db') }).close();
    const clientInbox = web.createLibsqlInbox({ url: temp.fileUrl('client.db') });
    await clientInbox.complete({ handler: 'billing', eventId: 'ie_1', nowMs: NOW });
    await clientInbox.close();
    expect(await rowsOf(temp.fileUrl('file.db'), 'PRAGMA journal_mode')).toEqual([{ journal_mode: 'wal' }]);
    const schema = "SELECT type, name, sql FROM sqlite_master WHERE name LIKE 'inbox%' ORDER BY name";
    expect(await rowsOf(temp.fileUrl('file.db'), schema)).toEqual(
      await rowsOf(temp.fileUrl('client.db'), schema),
    );
    expect(await rowsOf(temp.fileUrl('file.db'), 'SELECT event_id, status FROM inbox')).toEqual([
      { event_id: 'ie_1', status: 'done' },
    ]);
  });

  it('a real constraint failure rolls back the group, and only its caller fails', async () => {
    temp = createTempDir();
    const inbox = open(temp.fileUrl());
    await inbox.release({ handler: 'billing', eventId: 'ie_warm', claimedAt: NOW });
    const results = await Promise.allSettled([
      inbox.claim({ handler: 'billing', eventId: 'ie_0', nowMs: NOW, leaseMs: LEASE }),
      // NOT NULL on inbox.event_id.
      inbox.claim({ handler: 'billing', eventId: null as unknown as string, nowMs: NOW, leaseMs: LEASE }),
      inbox.complete({ handler: 'billing', eventId: 'ie_1', nowMs: NOW }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(results[1]).toMatchObject({ reason: { code: expect.stringMatching(/^SQLITE_CONSTRAINT/) } });
    expect(await rowsOf(temp.fileUrl(), 'SELECT event_id, status FROM inbox ORDER BY event_id')).toEqual([
      { event_id: 'ie_0', status: 'running' },
      { event_id: 'ie_1', status: 'done' },
    ]);
  });

  it('close() ends its connection; later calls are refused; closing twice is harmless', async () => {
    temp = createTempDir();
    const inbox = createLibsqlInbox({ url: temp.fileUrl() });
    const key = { handler: 'billing', eventId: 'ie_1' };
    expect(await inbox.claim({ ...key, nowMs: NOW, leaseMs: LEASE })).toBe('claimed');
    await inbox.complete({ ...key, nowMs: NOW });
    await inbox.close();
    await inbox.close();
    await expect(inbox.claim({ ...key, nowMs: NOW, leaseMs: LEASE })).rejects.toThrow('the inbox is closed');
    const other = open(temp.fileUrl());
    expect(await other.claim({ ...key, nowMs: NOW, leaseMs: LEASE })).toBe('done');
  });

  it("waits out another connection's write lock with the event loop free", async () => {
    temp = createTempDir();
    const inbox = open(temp.fileUrl());
    expect(await inbox.claim({ handler: 'billing', eventId: 'ie_1', nowMs: NOW, leaseMs: LEASE })).toBe(
      'claimed',
    );
    const other = createClient({ url: temp.fileUrl() });
    try {
      const lock = await other.transaction('write');
      await lock.execute({
        sql: "INSERT INTO inbox (handler, event_id, status, started_at) VALUES ('billing', 'ie_other', 'running', ?)",
        args: [NOW],
      });
      // Released by a timer, which can fire only once the inbox waits on timers rather than inside
      // SQLite (whose own wait, blocking the loop, is a few ms): the claim meets the lock, backs
      // off, and gets it on a later try.
      setTimeout(() => void lock.commit(), 0);
      expect(await inbox.claim({ handler: 'billing', eventId: 'ie_2', nowMs: NOW, leaseMs: LEASE })).toBe(
        'claimed',
      );
    } finally {
      other.close();
    }
    expect(await rowsOf(temp.fileUrl(), 'SELECT event_id FROM inbox ORDER BY event_id')).toEqual([
      { event_id: 'ie_1' },
      { event_id: 'ie_2' },
      { event_id: 'ie_other' },
    ]);
  });

  it('a database that cannot be opened fails the call, and the next call tries to open it again', async () => {
    temp = createTempDir();
    const inbox = open(`file:${join(temp.dir, 'later', 'inbox.db')}`);
    const key = { handler: 'billing', eventId: 'ie_1' };
    await expect(inbox.claim({ ...key, nowMs: NOW, leaseMs: LEASE })).rejects.toThrow();
    mkdirSync(join(temp.dir, 'later'));
    expect(await inbox.claim({ ...key, nowMs: NOW, leaseMs: LEASE })).toBe('claimed');
  });

  it('a process that never closes its inbox still ends, and what it wrote is on the file', () => {
    temp = createTempDir();
    const url = temp.fileUrl();
    const node = join(process.cwd(), 'src/handler/node.ts');
    // Never closed: the process must end on its own once nothing is pending.
    const script = `const { createLibsqlInbox } = await import(${JSON.stringify(node)});
      const inbox = createLibsqlInbox({ url: ${JSON.stringify(url)} });
      await inbox.complete({ handler: 'billing', eventId: 'ie_1', nowMs: ${NOW} });`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect({ status: child.status, signal: child.signal, stderr: child.stderr }).toEqual({
      status: 0,
      signal: null,
      stderr: '',
    });
    return rowsOf(url, 'SELECT event_id, status FROM inbox').then((rows) =>
      expect(rows).toEqual([{ event_id: 'ie_1', status: 'done' }]),
    );
  });
});

describeTwoInboxesOnOneFile(
  'the Node file inbox beside the client inbox on one file (two processes of a service)',
  (url) => [createLibsqlInbox({ url }), web.createLibsqlInbox({ url })],
);

describeTwoInboxesOnOneFile('two Node file inboxes on one file (two processes of a service)', (url) => [
  createLibsqlInbox({ url }),
  createLibsqlInbox({ url }),
]);
