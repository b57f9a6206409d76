import { afterEach, describe, expect, it } from 'vitest';
import { createWebhookApp, defineHandler } from '../../src/handler/index.ts';
import { createLibsqlInbox } from '../../src/store/libsql-inbox.ts';
import { openLibsql } from '../../src/store/libsql-store.ts';
import { createTempDb, type TempDb } from '../support/temp-db.ts';
import { describeInboxContract } from './inbox.contract.ts';
import { CURRENT, delivery, NOW, OrderCreatedV1, PUBLIC_URL, send, TYPE } from './webhook-fixtures.ts';

describeInboxContract('libSQL file', async () => {
  const db = await createTempDb();
  return { inbox: createLibsqlInbox(db.client, db.driver), dispose: () => db.dispose() };
});

describe('libSQL inbox across processes', () => {
  let db: TempDb | undefined;
  const others: { close(): void }[] = [];
  afterEach(async () => {
    for (const client of others.splice(0)) client.close();
    await db?.dispose();
  });

  it('two clients on one file racing for the same keys: exactly one claim per key', async () => {
    db = await createTempDb();
    const second = await openLibsql({ url: db.url });
    others.push(second.client);
    const a = createLibsqlInbox(db.client, db.driver);
    const b = createLibsqlInbox(second.client, second.driver);
    const keys = Array.from({ length: 25 }, (_, i) => ({ handler: 'billing', eventId: `ie_${i}` }));
    const results = await Promise.all(
      keys.flatMap((key) => [
        a.claim({ ...key, nowMs: NOW, leaseMs: 60_000 }),
        b.claim({ ...key, nowMs: NOW, leaseMs: 60_000 }),
      ]),
    );
    for (let i = 0; i < keys.length; i++) {
      expect([results[2 * i], results[2 * i + 1]].sort()).toEqual(['claimed', 'running']);
    }
    expect(await db.count('inbox')).toBe(keys.length);
  });

  it('what one client completes, the other sees as done; an expired claim is taken over', async () => {
    db = await createTempDb();
    const second = await openLibsql({ url: db.url });
    others.push(second.client);
    const a = createLibsqlInbox(db.client, db.driver);
    const b = createLibsqlInbox(second.client, second.driver);
    const key = { handler: 'billing', eventId: 'ie_1' };
    expect(await a.claim({ ...key, nowMs: NOW, leaseMs: 1000 })).toBe('claimed');
    expect(await b.claim({ ...key, nowMs: NOW + 999, leaseMs: 1000 })).toBe('running');
    expect(await b.claim({ ...key, nowMs: NOW + 1000, leaseMs: 1000 })).toBe('claimed');
    await b.complete({ ...key, nowMs: NOW + 1500 });
    expect(await a.claim({ ...key, nowMs: NOW + 2000, leaseMs: 1000 })).toBe('done');
    const rows = await db.driver.query('SELECT status, lease_expires_at, started_at, finished_at FROM inbox');
    expect(rows).toEqual([
      { status: 'done', lease_expires_at: null, started_at: NOW + 1000, finished_at: NOW + 1500 },
    ]);
  });

  it('the webhook app on a libSQL inbox runs a handler once across two app instances', async () => {
    db = await createTempDb();
    const second = await openLibsql({ url: db.url });
    others.push(second.client);
    let runs = 0;
    const handler = defineHandler(OrderCreatedV1, () => {
      runs++;
    });
    const appOn = (inbox: ReturnType<typeof createLibsqlInbox>) =>
      createWebhookApp({
        handlers: [handler],
        signingKeys: { current: CURRENT },
        inbox,
        publicUrl: PUBLIC_URL,
        clock: { now: () => NOW },
      });
    const appA = appOn(createLibsqlInbox(db.client, db.driver));
    const appB = appOn(createLibsqlInbox(second.client, second.driver));
    const first = await send(appA, await delivery());
    const copy = await send(appB, await delivery({ retried: 1 }));
    expect([first.status, copy.status]).toEqual([200, 200]);
    expect(await copy.json()).toEqual({ status: 'duplicate' });
    expect(runs).toBe(1);
    expect(await db.driver.query('SELECT handler, event_id, status FROM inbox')).toEqual([
      { handler: TYPE, event_id: 'ie_01', status: 'done' },
    ]);
  });
});
