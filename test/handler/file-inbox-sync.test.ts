import { fdatasync, fstatSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient } from '@libsql/client';
import { afterEach, describe, expect, it } from 'vitest';
import { createLibsqlFileInbox, type SyncFile } from '../../src/handler/libsql-file-inbox.ts';
import type { LibsqlInbox } from '../../src/handler/libsql-inbox.ts';
import { createWebhookApp, defineHandler } from '../../src/handler/node.ts';
import { createTempDir, type TempDir } from './temp-dir.ts';
import { CURRENT, delivery, NOW, OrderCreatedV1, PUBLIC_URL, send } from './webhook-fixtures.ts';

// The Node file inbox commits at synchronous = NORMAL and flushes the WAL off the event loop
// (src/handler/libsql-file-inbox.ts, WalFlusher): these hold it to FULL's promises through the
// real route on a real file, with the flush itself stood in for — held back, or failing as a
// disk does — and then done for real, so what is answered is on disk.

/**
 * A flush the test decides: each waits in `held` until released (then really synced) or failed;
 * `log` has what happened in order (the handler's runs go in it too).
 */
function heldSyncs() {
  const held: { fd: number; release(): void; fail(error: Error): void }[] = [];
  const log: string[] = [];
  let arrived: () => void = () => {};
  let holding = false;
  const syncFile: SyncFile = (fd) =>
    new Promise<void>((resolve, reject) => {
      if (!holding) {
        fdatasync(fd, (error) => (error ? reject(error) : resolve()));
        return;
      }
      held.push({
        fd,
        release: () =>
          fdatasync(fd, (error) => {
            log.push('synced');
            if (error) reject(error);
            else resolve();
          }),
        fail: (error) => {
          log.push('failed');
          reject(error);
        },
      });
      arrived();
    });
  /** Resolves once a flush is held (at once if one is). */
  const nextHeld = () =>
    held.length > 0
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          arrived = resolve;
        });
  /** From now on each flush waits for the test. */
  const hold = () => {
    holding = true;
  };
  /** Back to flushing at once, the held ones too (a failing test must not leave close() waiting). */
  const releaseAll = () => {
    holding = false;
    for (const h of held.splice(0)) h.release();
  };
  return { syncFile, held, log, nextHeld, hold, releaseAll };
}

/** A few turns of the event loop: what does not wait for a held flush gets to run meanwhile. */
async function turns(count = 20): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve));
}

const eio = () => Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });

describe('the file inbox flushes its WAL off the event loop, as durable as FULL', () => {
  let temp: TempDir;
  let inbox: LibsqlInbox;
  let syncs: ReturnType<typeof heldSyncs> | undefined;
  afterEach(async () => {
    syncs?.releaseAll();
    syncs = undefined;
    await inbox.close();
    temp.dispose();
  });

  const setUp = (syncFile: SyncFile, path?: string, log: string[] = []) => {
    temp = createTempDir();
    inbox = createLibsqlFileInbox(path?.replace('<dir>', temp.dir) ?? join(temp.dir, 'inbox.db'), {
      syncFile,
    });
    const handler = defineHandler(OrderCreatedV1, () => {
      log.push('handler');
    });
    const app = createWebhookApp({
      handlers: [handler],
      signingKeys: { current: CURRENT },
      inbox,
      publicUrl: PUBLIC_URL,
      clock: { now: () => NOW + 1000 },
    });
    return { app, log };
  };

  /** The tables created and the hourly purge done: each request then commits only its own rows. */
  const warmUp = () => inbox.complete({ handler: 'warm-up', eventId: 'ie_0', nowMs: NOW });

  /** Sends `req`, releasing held flushes one at a time after the loop had turns to answer early. */
  const answerReleasing = async (
    app: ReturnType<typeof createWebhookApp>,
    sync: ReturnType<typeof heldSyncs>,
    req: Parameters<typeof send>[1],
  ) => {
    let answered = false;
    const answer = send(app, req).then((response) => {
      answered = true;
      sync.log.push(`answered ${response.status}`);
      return response;
    });
    while (!answered) {
      const next = await Promise.race([answer.then(() => 'answered'), sync.nextHeld().then(() => 'held')]);
      if (next === 'answered') break;
      await turns();
      sync.held.shift()?.release();
    }
    return answer;
  };

  const statuses = async (url: string) => {
    const client = createClient({ url });
    try {
      return (await client.execute('SELECT event_id, status FROM inbox ORDER BY event_id')).rows.map((r) => ({
        ...r,
      }));
    } finally {
      client.close();
    }
  };

  it('a 2xx is never sent before the flush of its commits completed, nor a handler run before its claim is flushed', async () => {
    const sync = heldSyncs();
    syncs = sync;
    const { app } = setUp(sync.syncFile, undefined, sync.log);
    await warmUp();
    sync.hold();
    const response = await answerReleasing(app, sync, await delivery());
    expect(response.status).toBe(200);
    // Each flush completes before what rests on it: the claim's before the run, the done's before the 2xx.
    expect(sync.log).toEqual(['synced', 'handler', 'synced', 'answered 200']);
  });

  it('a duplicate is answered only after a flush that started after its read', async () => {
    const sync = heldSyncs();
    syncs = sync;
    const { app } = setUp(sync.syncFile, undefined, sync.log);
    await warmUp();
    sync.hold();
    expect((await answerReleasing(app, sync, await delivery())).status).toBe(200);
    sync.log.length = 0;
    // A copy with a fresh token: its token is recorded (a commit) and its claim refused, read back
    // as done — an answer resting on a row a neighbour may have committed and not yet flushed.
    const copy = await answerReleasing(app, sync, await delivery({ retried: 1, messageId: 'msg_2' }));
    expect(copy.status).toBe(200);
    expect(await copy.json()).toEqual({ status: 'duplicate' });
    expect(sync.log).toEqual(['synced', 'synced', 'answered 200']);
  });

  it('a failed flush of the claim: no 2xx, the handler never runs, nothing is marked done, and the inbox answers no 2xx after it', async () => {
    const sync = heldSyncs();
    syncs = sync;
    const { app, log } = setUp(sync.syncFile);
    await warmUp();
    sync.hold();
    let answered = false;
    const answer = send(app, await delivery()).then((r) => {
      answered = true;
      return r;
    });
    await sync.nextHeld();
    await turns();
    expect(answered).toBe(false);
    sync.held.shift()?.fail(eio());
    const response = await answer;
    expect(response.status).toBe(503);
    expect(log).toEqual([]);
    // The disk may have dropped what it could not write, and report the next flush clean: nothing
    // more is committed or answered 2xx by this inbox, whatever comes next.
    const later = await send(app, await delivery({ id: 'ie_02', messageId: 'msg_2' }));
    expect(later.status).toBe(503);
    expect(sync.held).toEqual([]);
    expect(log).toEqual([]);
    // Its claim was committed before the failed flush: left running, never done (its lease lets a
    // healthy process take it over).
    expect(await statuses(temp.fileUrl())).toEqual([
      { event_id: 'ie_0', status: 'done' },
      { event_id: 'ie_01', status: 'running' },
    ]);
  });

  it('flushes the WAL SQLite writes — through a symbolic link, after a neighbour came and went, and after a truncating checkpoint', async () => {
    const synced: number[] = [];
    const syncFile: SyncFile = (fd) => {
      synced.push(fstatSync(fd).ino);
      return new Promise((resolve, reject) => fdatasync(fd, (e) => (e ? reject(e) : resolve())));
    };
    const { app } = setUp(syncFile, '<dir>/link.db');
    const real = join(temp.dir, 'real.db');
    writeFileSync(real, '');
    symlinkSync(real, join(temp.dir, 'link.db'));
    expect((await send(app, await delivery())).status).toBe(200);
    const wal = () => statSync(`${real}-wal`).ino;
    expect(new Set(synced)).toEqual(new Set([wal()]));

    const neighbour = createClient({ url: `file:${real}` });
    await neighbour.execute("INSERT INTO inbox VALUES ('other', 'ie_n', 'done', NULL, 0, 0)");
    await neighbour.execute('PRAGMA wal_checkpoint(TRUNCATE)');
    neighbour.close();
    synced.length = 0;
    expect((await send(app, await delivery({ id: 'ie_02', messageId: 'msg_2' }))).status).toBe(200);
    expect(synced.length).toBeGreaterThan(0);
    expect(new Set(synced)).toEqual(new Set([wal()]));
    expect(await statuses(`file:${real}`)).toEqual([
      { event_id: 'ie_01', status: 'done' },
      { event_id: 'ie_02', status: 'done' },
      { event_id: 'ie_n', status: 'done' },
    ]);
  });
});
