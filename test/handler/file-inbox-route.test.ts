import { createClient } from '@libsql/client';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createLibsqlInbox,
  createWebhookApp,
  defineHandler,
  type Inbox,
  type LibsqlInbox,
} from '../../src/handler/node.ts';
import { createTempDir, type TempDir } from './temp-dir.ts';
import { CURRENT, delivery, NOW, OrderCreatedV1, PUBLIC_URL, send, TYPE } from './webhook-fixtures.ts';

// What "handled" means on the route a Node service runs: the Node webhook app over the durable
// file inbox (`createLibsqlInbox({ url: 'file:…' })`, its own connection), each answer checked
// against the file as another connection reads it — what a restarted process would find.

describe('the Node webhook app over the libSQL file inbox', () => {
  let temp: TempDir;
  let inbox: LibsqlInbox;
  afterEach(async () => {
    await inbox.close();
    temp.dispose();
  });

  /** The app on a fresh file, a clock stopped at NOW, and a handler that counts (or fails) its runs. */
  const setUp = (handle: () => void | Promise<void> = () => {}, wrap: (inbox: Inbox) => Inbox = (i) => i) => {
    temp = createTempDir();
    inbox = createLibsqlInbox({ url: temp.fileUrl() });
    let runs = 0;
    const handler = defineHandler(OrderCreatedV1, async () => {
      runs++;
      await handle();
    });
    const app = createWebhookApp({
      handlers: [handler],
      signingKeys: { current: CURRENT },
      inbox: wrap(inbox),
      publicUrl: PUBLIC_URL,
      clock: { now: () => NOW + 1000 },
    });
    return { app, runs: () => runs };
  };

  /** The inbox rows as a second connection to the file sees them: what is committed. */
  const committed = async () => {
    const client = createClient({ url: temp.fileUrl() });
    try {
      const rows = await client.execute('SELECT handler, event_id, status FROM inbox ORDER BY event_id');
      return rows.rows.map((r) => ({ ...r }));
    } finally {
      client.close();
    }
  };

  it('the done entry is committed by the time the 2xx is answered', async () => {
    const { app, runs } = setUp();
    const response = await send(app, await delivery());
    expect(response.status).toBe(200);
    expect(await committed()).toEqual([{ handler: TYPE, event_id: 'ie_01', status: 'done' }]);
    expect(runs()).toBe(1);
  });

  it('a copy of a handled event (same ce-id, a fresh token) gets 2xx and does not run the handler', async () => {
    const { app, runs } = setUp();
    expect((await send(app, await delivery())).status).toBe(200);
    const copy = await send(app, await delivery({ retried: 1, messageId: 'msg_2' }));
    expect(copy.status).toBe(200);
    expect(await copy.json()).toEqual({ status: 'duplicate' });
    expect(runs()).toBe(1);
  });

  it('a replayed token never runs the handler, under its own ce-id or another', async () => {
    const { app, runs } = setUp();
    const captured = await delivery();
    expect((await send(app, captured)).status).toBe(200);
    expect(await (await send(app, captured)).json()).toEqual({ status: 'duplicate' });
    const forged = await send(app, captured, { headers: { 'ce-id': 'ie_forged' } });
    expect(await forged.json()).toEqual({ status: 'duplicate' });
    expect(runs()).toBe(1);
    expect(await committed()).toEqual([{ handler: TYPE, event_id: 'ie_01', status: 'done' }]);
  });

  it('concurrent copies in one process run the handler once, and every copy gets 2xx', async () => {
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    // The first run holds the handler until the four other copies have joined it: each records its
    // token (it must not run later either), then waits for that run's outcome.
    let joined = 0;
    const { app, runs } = setUp(
      () => gate,
      (inner) => ({
        ...inner,
        async recordToken(input) {
          const recorded = await inner.recordToken(input);
          if (++joined === 4) release();
          return recorded;
        },
      }),
    );
    const copies = await Promise.all(
      Array.from({ length: 5 }, (_, i) => delivery({ retried: i, messageId: `msg_${i}` })),
    );
    const answers = copies.map((copy) => send(app, copy));
    const statuses = await Promise.all(answers.map(async (a) => (await a).status));
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    expect(runs()).toBe(1);
    expect(await committed()).toEqual([{ handler: TYPE, event_id: 'ie_01', status: 'done' }]);
  });

  it('a failed run leaves nothing marked done: 5xx, its token refused, the retry runs it', async () => {
    let fail = true;
    const { app, runs } = setUp(() => {
      if (fail) throw new Error('downstream is down');
    });
    const first = await delivery();
    expect((await send(app, first)).status).toBe(500);
    expect(await committed()).toEqual([]);
    // The failed attempt's token again: never a run, and no 2xx for an event not handled.
    expect((await send(app, first)).status).toBe(409);
    expect(runs()).toBe(1);
    fail = false;
    const retry = await send(app, await delivery({ retried: 1, messageId: 'msg_2' }));
    expect(retry.status).toBe(200);
    expect(runs()).toBe(2);
    expect(await committed()).toEqual([{ handler: TYPE, event_id: 'ie_01', status: 'done' }]);
  });
});
