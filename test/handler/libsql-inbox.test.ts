import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Client, createClient, type InStatement } from '@libsql/client';
import { afterEach, describe, expect, it } from 'vitest';
import { createLibsqlInbox } from '../../src/handler/index.ts';
import { createTempDb, type TempDb } from '../support/temp-db.ts';
import { describeInboxContract } from './inbox.contract.ts';
import { createTempDir, type TempDir } from './temp-dir.ts';
import { describeTwoInboxesOnOneFile } from './two-inboxes.contract.ts';
import { NOW } from './webhook-fixtures.ts';

const LEASE = 60_000;

describeInboxContract('libSQL file, opened from { url } on an empty database', async () => {
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

describeInboxContract("libSQL file, given the client of a database the mesh's migrations made", async () => {
  const db = await createTempDb();
  return { inbox: createLibsqlInbox(db.client), dispose: () => db.dispose() };
});

/** The client's statements as one write batch each, recorded. */
function spyClient(client: Client) {
  const batches: InStatement[][] = [];
  const spy = {
    batch(statements: InStatement[], mode: 'write') {
      batches.push(statements);
      return client.batch(statements, mode);
    },
    execute: (statement: InStatement) => client.execute(statement),
  } as unknown as Client;
  return { client: spy, batches };
}

/** What SQLite knows of a table's shape: columns (name, type, NOT NULL, default, key order) and indexes. */
async function shapeOf(client: Client, table: string) {
  const columns = (await client.execute(`PRAGMA table_xinfo(${table})`)).rows.map((r) => ({ ...r }));
  const indexes = await Promise.all(
    (await client.execute(`PRAGMA index_list(${table})`)).rows.map(async (index) => ({
      unique: index.unique,
      origin: index.origin,
      columns: (await client.execute(`PRAGMA index_info(${String(index.name)})`)).rows.map((c) => c.name),
    })),
  );
  return { columns, indexes };
}

describe('libSQL inbox', () => {
  let temp: TempDir | undefined;
  let db: TempDb | undefined;
  const clients: Client[] = [];
  const inboxes: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const inbox of inboxes.splice(0)) await inbox.close();
    for (const client of clients.splice(0)) client.close();
    await db?.dispose();
    temp?.dispose();
    db = undefined;
    temp = undefined;
  });

  /** An inbox that opens its own client, as a consuming service would: closed after the test. */
  const openInbox = (url: string) => {
    const inbox = createLibsqlInbox({ url });
    inboxes.push(inbox);
    return inbox;
  };
  const openClient = (url: string) => {
    const client = createClient({ url });
    clients.push(client);
    return client;
  };

  it('creates its table on an empty database, and beside the tables the mesh migrations made', async () => {
    temp = createTempDir();
    await openInbox(temp.fileUrl()).complete({ handler: 'billing', eventId: 'ie_1', nowMs: NOW });
    db = await createTempDb();
    expect((await shapeOf(db.client, 'inbox')).columns).toEqual([]);
    await createLibsqlInbox(db.client).complete({ handler: 'billing', eventId: 'ie_1', nowMs: NOW });
    const created = await shapeOf(openClient(temp.fileUrl()), 'inbox');
    expect(created.columns.map((c) => c.name)).toEqual([
      'handler',
      'event_id',
      'status',
      'lease_expires_at',
      'started_at',
      'finished_at',
    ]);
    expect(created).toEqual(await shapeOf(db.client, 'inbox'));
  });

  it("keeps the rows of the inbox table an earlier release's migration made", async () => {
    db = await createTempDb();
    // migrations/0000_init.sql of releases before the inbox moved to the SDK, verbatim.
    await db.driver.batch([
      {
        sql: `CREATE TABLE \`inbox\` (
\t\`handler\` text NOT NULL,
\t\`event_id\` text NOT NULL,
\t\`status\` text NOT NULL,
\t\`lease_expires_at\` integer,
\t\`started_at\` integer NOT NULL,
\t\`finished_at\` integer,
\tPRIMARY KEY(\`handler\`, \`event_id\`)
);`,
        args: [],
      },
      {
        sql: "INSERT INTO inbox (handler, event_id, status, lease_expires_at, started_at, finished_at) VALUES ('billing', 'ie_1', 'done', NULL, ?, ?)",
        args: [NOW, NOW],
      },
    ]);
    const inbox = createLibsqlInbox(db.client);
    expect(await inbox.claim({ handler: 'billing', eventId: 'ie_1', nowMs: NOW, leaseMs: LEASE })).toBe(
      'done',
    );
  });

  it('takes over the live tokens an earlier release recorded in inbox_tokens: still replays here', async () => {
    db = await createTempDb();
    // src/handler/sql-inbox.ts of releases before issue 12's token table, verbatim.
    const wallNow = Date.now();
    await db.driver.batch([
      {
        sql: `CREATE TABLE IF NOT EXISTS \`inbox_tokens\` (
  \`jti\` text PRIMARY KEY NOT NULL,
  \`handler\` text NOT NULL,
  \`event_id\` text NOT NULL,
  \`expires_at\` integer NOT NULL
)`,
        args: [],
      },
      {
        sql: 'CREATE INDEX IF NOT EXISTS `inbox_tokens_expires_at` ON `inbox_tokens` (`expires_at`)',
        args: [],
      },
      {
        sql: 'INSERT INTO inbox_tokens (jti, handler, event_id, expires_at) VALUES (?, ?, ?, ?), (?, ?, ?, ?)',
        args: ['jwt_live', 'billing', 'ie_1', wallNow + 305_000, 'jwt_gone', 'billing', 'ie_2', wallNow - 1],
      },
    ]);
    const inbox = createLibsqlInbox(db.client);
    // Presented again after the upgrade, under another ce-id: a replay of the key it first came with.
    expect(
      await inbox.recordToken({
        jti: 'jwt_live',
        handler: 'billing',
        eventId: 'ie_forged',
        expiresAtMs: wallNow + 305_000,
        nowMs: wallNow,
      }),
    ).toEqual({ status: 'replay', key: { handler: 'billing', eventId: 'ie_1' }, handled: false });
    // Only the live record came over; the old table is left to the release that drops it.
    const rows = await db.client.execute('SELECT jti FROM inbox_jtis');
    expect(rows.rows.map((r) => r.jti)).toEqual(['jwt_live']);
    expect((await db.client.execute('SELECT count(*) AS n FROM inbox_tokens')).rows[0]?.n).toBe(2);
  });

  it('keeps its tokens in one B-tree, by deadline then jti (WITHOUT ROWID, no other index)', async () => {
    temp = createTempDir();
    await openInbox(temp.fileUrl()).recordToken({
      jti: 'jwt_1',
      handler: 'billing',
      eventId: 'ie_1',
      expiresAtMs: NOW + 305_000,
      nowMs: NOW,
    });
    const client = openClient(temp.fileUrl());
    const shape = await shapeOf(client, 'inbox_jtis');
    expect(shape.columns.map((c) => [c.name, c.pk])).toEqual([
      ['expires_at', 1],
      ['jti', 2],
      ['handler', 0],
      ['event_id', 0],
    ]);
    // The primary key's own index is the table itself: no second B-tree.
    expect(shape.indexes).toEqual([{ unique: 1, origin: 'pk', columns: ['expires_at', 'jti'] }]);
    const withoutRowid = await client.execute("SELECT sql FROM sqlite_master WHERE name = 'inbox_jtis'");
    expect(String(withoutRowid.rows[0]?.sql)).toMatch(/WITHOUT ROWID$/);
  });

  it('puts a file database in WAL mode', async () => {
    temp = createTempDir();
    await openInbox(temp.fileUrl()).claim({
      handler: 'billing',
      eventId: 'ie_1',
      nowMs: NOW,
      leaseMs: LEASE,
    });
    const rows = (await openClient(temp.fileUrl()).execute('PRAGMA journal_mode')).rows;
    expect(rows[0]?.journal_mode).toBe('wal');
  });

  it('groups concurrent writes on a given client into one batch, after one CREATE TABLE', async () => {
    temp = createTempDir();
    const spy = spyClient(openClient(temp.fileUrl()));
    const inbox = createLibsqlInbox(spy.client);
    const keys = Array.from({ length: 20 }, (_, i) => ({ handler: 'billing', eventId: `ie_${i}` }));
    const results = await Promise.all(keys.map((key) => inbox.claim({ ...key, nowMs: NOW, leaseMs: LEASE })));
    expect(results).toEqual(keys.map(() => 'claimed'));
    // The first batch creates the inbox's tables (inbox, inbox_jtis, and an earlier release's
    // inbox_tokens if missing) and copies that one's live tokens over, nothing else.
    expect(spy.batches.map((b) => b.length)).toEqual([4, 20]);
    expect(spy.batches[0]).toEqual([
      ...Array.from({ length: 3 }, () =>
        expect.objectContaining({ sql: expect.stringMatching(/^CREATE \w+ IF NOT EXISTS/) }),
      ),
      expect.objectContaining({
        sql: expect.stringMatching(/^INSERT INTO inbox_jtis .* FROM inbox_tokens/s),
      }),
    ]);
  });

  it('a real constraint failure rolls back the group, and only its caller fails', async () => {
    temp = createTempDir();
    const inbox = openInbox(temp.fileUrl());
    await inbox.release({ handler: 'billing', eventId: 'ie_warm', claimedAt: NOW });
    const results = await Promise.allSettled([
      inbox.claim({ handler: 'billing', eventId: 'ie_0', nowMs: NOW, leaseMs: LEASE }),
      // NOT NULL on inbox.event_id.
      inbox.claim({ handler: 'billing', eventId: null as unknown as string, nowMs: NOW, leaseMs: LEASE }),
      inbox.complete({ handler: 'billing', eventId: 'ie_1', nowMs: NOW }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const rows = await openClient(temp.fileUrl()).execute(
      'SELECT event_id, status FROM inbox ORDER BY event_id',
    );
    expect(rows.rows.map((r) => ({ ...r }))).toEqual([
      { event_id: 'ie_0', status: 'running' },
      { event_id: 'ie_1', status: 'done' },
    ]);
  });

  it('close() closes the client it opened; later calls are refused; closing twice is harmless', async () => {
    temp = createTempDir();
    const inbox = createLibsqlInbox({ url: temp.fileUrl() });
    expect(await inbox.claim({ handler: 'billing', eventId: 'ie_1', nowMs: NOW, leaseMs: LEASE })).toBe(
      'claimed',
    );
    await inbox.close();
    await inbox.close();
    await expect(
      inbox.claim({ handler: 'billing', eventId: 'ie_2', nowMs: NOW, leaseMs: LEASE }),
    ).rejects.toThrow('the inbox is closed');
    // The file is free: another client writes to it at once.
    const other = createLibsqlInbox({ url: temp.fileUrl() });
    inboxes.push(other);
    expect(await other.claim({ handler: 'billing', eventId: 'ie_1', nowMs: NOW, leaseMs: LEASE })).toBe(
      'running',
    );
  });

  it('a database that cannot be opened fails the call, and the next call tries to open it again', async () => {
    temp = createTempDir();
    const url = `file:${join(temp.dir, 'later', 'inbox.db')}`;
    const inbox = openInbox(url);
    const key = { handler: 'billing', eventId: 'ie_1' };
    await expect(inbox.claim({ ...key, nowMs: NOW, leaseMs: LEASE })).rejects.toThrow();
    mkdirSync(join(temp.dir, 'later'));
    expect(await inbox.claim({ ...key, nowMs: NOW, leaseMs: LEASE })).toBe('claimed');
  });
});

describeTwoInboxesOnOneFile('libSQL inbox across processes (two clients on one file)', (url) => [
  createLibsqlInbox({ url }),
  createLibsqlInbox({ url }),
]);
