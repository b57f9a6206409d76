import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NewDomainEvent } from '../../src/core/event-store.ts';
import { defineSubscription } from '../../src/core/subscription.ts';
import { createLibsqlDriver } from '../../src/store/libsql-driver.ts';
import { createLibsqlStores } from '../../src/store/libsql-store.ts';
import { deliveryIdOut } from '../../src/store/sql-ids.ts';
import { createTempDb, type TempDb } from '../support/temp-db.ts';

function event(id: string, receivedAt: number): NewDomainEvent {
  return {
    id,
    type: 'OrderCreated',
    source: 'billing',
    data: '{"order":{"id":"o-1"}}',
    occurredAt: null,
    metadata: null,
    traceparent: null,
    receivedAt,
    integrationEvents: [
      {
        id: `${id}/ie0`,
        type: 'order.created.v1',
        source: '/producers/billing',
        time: '2026-01-15T00:00:00Z',
        data: '{}',
      },
    ],
  };
}

// openLibsql gives a local file's driver a connection of its own with cached statements; it must
// answer exactly as the client's driver does.
describe('libSQL file driver', () => {
  let db: TempDb;

  beforeEach(async () => {
    db = await createTempDb();
  });

  afterEach(async () => {
    await db.dispose();
  });

  it('answers queries and batches as the client does, statement after statement', async () => {
    const viaClient = createLibsqlDriver(db.client);
    const now = 1;
    const insert = {
      sql: `INSERT INTO subscriptions (id, type, url, retries, origin, created_at, updated_at)
            VALUES (?, ?, ?, ?, 'api', ?, ?)`,
      args: ['s1', 'order.created.v1', 'https://h.example.com/', 3, now, now],
    };
    const update = { sql: 'UPDATE subscriptions SET retries = retries + 1 WHERE id = ?', args: ['s1'] };

    // The same statements twice: the second time they come from the cache.
    for (const round of [1, 2]) {
      const args = [...insert.args];
      args[0] = `s${round}`;
      expect(await db.driver.batch([{ ...insert, args }, update, update])).toEqual([1, 1, 1]);
    }
    const select = 'SELECT id, retries, retry_delay FROM subscriptions ORDER BY id';
    expect(await db.driver.query(select)).toEqual(await viaClient.query(select));
    expect(await db.driver.query(select)).toEqual([
      { id: 's1', retries: 7, retry_delay: null },
      { id: 's2', retries: 3, retry_delay: null },
    ]);
    // A write through query() changes rows and returns none; RETURNING returns them.
    expect(await db.driver.query('UPDATE subscriptions SET retries = 0 WHERE id = ?', ['s2'])).toEqual([]);
    expect(
      await db.driver.query('UPDATE subscriptions SET retries = 1 WHERE id = ? RETURNING id, retries', [
        's2',
      ]),
    ).toEqual([{ id: 's2', retries: 1 }]);
  });

  it('rolls a failed batch back and keeps working; tells a conflict from other failures', async () => {
    const store = createLibsqlStores(db.client, db.driver).events;
    await store.appendEvents([event('evt-1', 1)]);

    const conflict = await db.driver
      .batch([
        {
          sql: "INSERT INTO domain_events (id, type, source, data, received_at) VALUES ('evt-1', 't', 's', '{}', 1)",
          args: [],
        },
      ])
      .catch((error: unknown) => error);
    expect(db.driver.isConstraintError(conflict)).toBe(true);

    const broken = await db.driver
      .batch([
        { sql: "UPDATE domain_events SET type = 'changed' WHERE id = 'evt-1'", args: [] },
        { sql: 'INSERT INTO no_such_table VALUES (1)', args: [] },
      ])
      .catch((error: unknown) => error);
    expect(String(broken)).toMatch(/no_such_table/);
    expect(db.driver.isConstraintError(broken)).toBe(false);

    expect(await db.driver.query("SELECT type FROM domain_events WHERE id = 'evt-1'")).toEqual([
      { type: 'OrderCreated' },
    ]);
    expect(await store.appendEvents([event('evt-2', 2)])).toEqual({ ok: true });
  });

  it('gives deliveries ids that sort by acceptance time', async () => {
    const stores = createLibsqlStores(db.client, db.driver);
    await stores.subscriptions.syncCodeSubscriptions(
      [defineSubscription('order.created.v1', 'https://h.example.com/')],
      1,
    );
    const times = [Date.UTC(2026, 0, 15), Date.UTC(2026, 0, 15, 0, 0, 1), Date.UTC(2027, 5, 1)];
    for (const [i, at] of times.entries()) await stores.events.appendEvents([event(`evt-${i}`, at)]);

    // Stored as their 16 bytes (0008), which sort as their text does.
    const rows = await db.driver.query(
      `SELECT ${deliveryIdOut('d.id')} AS id, typeof(d.id) AS type, length(d.id) AS bytes, d.created_at
       FROM deliveries d ORDER BY d.id`,
    );
    expect(rows.map((r) => r.created_at)).toEqual(times);
    const ids = rows.map((r) => String(r.id));
    expect([...ids].sort()).toEqual(ids);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(rows.map((r) => [r.type, r.bytes])).toEqual(times.map(() => ['blob', 16]));
  });

  it('closes with the client', async () => {
    db.client.close();
    await expect(db.driver.query('SELECT 1')).rejects.toThrow();
  });
});
