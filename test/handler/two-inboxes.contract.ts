import { createClient } from '@libsql/client';
import { afterEach, describe, expect, it } from 'vitest';
import type { Inbox } from '../../src/handler/inbox.ts';
import { createWebhookApp, defineHandler } from '../../src/handler/index.ts';
import { createTempDir, type TempDir } from './temp-dir.ts';
import { CURRENT, delivery, NOW, OrderCreatedV1, PUBLIC_URL, send, TYPE } from './webhook-fixtures.ts';

const LEASE = 60_000;

/** Two inboxes of one service's processes, each on a connection of its own to the file at `url`. */
export type OpenTwoInboxes = (
  url: string,
) => readonly [Inbox & { close(): Promise<void> }, Inbox & { close(): Promise<void> }];

/**
 * What two durable inboxes on one file must hold between them, whichever adapters they are (the
 * client inbox twice; the Node file inbox beside the client inbox): claims exclusive across them,
 * one handler run across two webhook apps, a replayed token refused by the other.
 */
export function describeTwoInboxesOnOneFile(name: string, open: OpenTwoInboxes) {
  describe(name, () => {
    let temp: TempDir;
    const inboxes: { close(): Promise<void> }[] = [];
    afterEach(async () => {
      for (const inbox of inboxes.splice(0)) await inbox.close();
      temp.dispose();
    });
    const twoInboxes = () => {
      temp = createTempDir();
      const pair = open(temp.fileUrl());
      inboxes.push(...pair);
      return pair;
    };

    it('racing on an empty file for the same keys, table creation included: exactly one claim per key', async () => {
      const [a, b] = twoInboxes();
      const keys = Array.from({ length: 25 }, (_, i) => ({ handler: 'billing', eventId: `ie_${i}` }));
      const claimBoth = (at: number) =>
        Promise.all(
          keys.flatMap((key) => [
            a.claim({ ...key, nowMs: at, leaseMs: LEASE }),
            b.claim({ ...key, nowMs: at, leaseMs: LEASE }),
          ]),
        );
      const pairs = (results: readonly string[]) =>
        keys.map((_, i) => [results[2 * i], results[2 * i + 1]].sort());

      expect(pairs(await claimBoth(NOW))).toEqual(keys.map(() => ['claimed', 'running']));
      // Both leases lapsed at once: again exactly one of the two takes each key over.
      expect(pairs(await claimBoth(NOW + LEASE))).toEqual(keys.map(() => ['claimed', 'running']));
      const client = createClient({ url: temp.fileUrl() });
      const rows = await client.execute('SELECT count(*) AS n FROM inbox');
      client.close();
      expect(rows.rows[0]?.n).toBe(keys.length);
    });

    it('what one completes, the other sees as done; an expired claim is taken over', async () => {
      const [a, b] = twoInboxes();
      const key = { handler: 'billing', eventId: 'ie_1' };
      expect(await a.claim({ ...key, nowMs: NOW, leaseMs: 1000 })).toBe('claimed');
      expect(await b.claim({ ...key, nowMs: NOW + 999, leaseMs: 1000 })).toBe('running');
      expect(await b.claim({ ...key, nowMs: NOW + 1000, leaseMs: 1000 })).toBe('claimed');
      await b.complete({ ...key, nowMs: NOW + 1500 });
      expect(await a.claim({ ...key, nowMs: NOW + 2000, leaseMs: 1000 })).toBe('done');
      const client = createClient({ url: temp.fileUrl() });
      const rows = await client.execute(
        'SELECT status, lease_expires_at, started_at, finished_at FROM inbox',
      );
      client.close();
      expect(rows.rows.map((r) => ({ ...r }))).toEqual([
        { status: 'done', lease_expires_at: null, started_at: NOW + 1000, finished_at: NOW + 1500 },
      ]);
    });

    it('the webhook app runs a handler once across two app instances', async () => {
      const [a, b] = twoInboxes();
      const counted = countedApps(NOW);
      const appOn = counted.appOn;
      const first = await send(appOn(a), await delivery());
      const copy = await send(appOn(b), await delivery({ retried: 1 }));
      expect([first.status, copy.status]).toEqual([200, 200]);
      expect(await copy.json()).toEqual({ status: 'duplicate' });
      expect(counted.runs()).toBe(1);
      const client = createClient({ url: temp.fileUrl() });
      const rows = await client.execute('SELECT handler, event_id, status FROM inbox');
      client.close();
      expect(rows.rows.map((r) => ({ ...r }))).toEqual([
        { handler: TYPE, event_id: 'ie_01', status: 'done' },
      ]);
    });

    it('a captured signed request replayed to the other instance under another ce-id does not run again', async () => {
      const [a, b] = twoInboxes();
      const counted = countedApps(NOW + 1000);
      const appOn = counted.appOn;
      const captured = await delivery();
      expect((await send(appOn(a), captured)).status).toBe(200);
      const replay = await send(appOn(b), captured, {
        headers: { 'ce-id': 'ie_forged', 'upstash-retried': '1' },
      });
      expect(replay.status).toBe(200);
      expect(await replay.json()).toEqual({ status: 'duplicate' });
      expect(counted.runs()).toBe(1);
      const client = createClient({ url: temp.fileUrl() });
      const inbox = await client.execute('SELECT event_id FROM inbox');
      const tokens = await client.execute('SELECT handler, event_id, expires_at FROM inbox_jtis');
      client.close();
      // No trace of the forged id; the token is remembered until exp + the 5 s tolerance.
      expect(inbox.rows.map((r) => r.event_id)).toEqual(['ie_01']);
      expect(tokens.rows.map((r) => ({ ...r }))).toEqual([
        { handler: TYPE, event_id: 'ie_01', expires_at: NOW + 305_000 },
      ]);
    });
  });
}

/** Webhook apps on a clock stopped at `nowMs`, one per inbox, sharing one handler that counts its runs. */
function countedApps(nowMs: number) {
  let runs = 0;
  const handler = defineHandler(OrderCreatedV1, () => {
    runs++;
  });
  return {
    appOn: (inbox: Inbox) =>
      createWebhookApp({
        handlers: [handler],
        signingKeys: { current: CURRENT },
        inbox,
        publicUrl: PUBLIC_URL,
        clock: { now: () => nowMs },
      }),
    runs: () => runs,
  };
}
