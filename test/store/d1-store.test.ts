import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { NewDomainEvent } from '../../src/core/event-store.ts';
import { defineSubscription } from '../../src/core/subscription.ts';
import { readMigrations } from '../../src/runtime/migrations.ts';
import {
  createD1Driver,
  type D1Database,
  type D1PreparedStatement,
  type D1Rider,
} from '../../src/store/d1-driver.ts';
import { createD1Stores, openD1 } from '../../src/store/d1-store.ts';
import { applyMigrations, type Migration, pendingMigrations } from '../../src/store/migrate.ts';
import type { SqlDriver, SqlStatement } from '../../src/store/sql-driver.ts';
import {
  createsDeliveries,
  fromLeaseForPublish,
  toLeaseForPublish,
} from '../../src/store/sql-publish-queue.ts';
import { applyD1Migrations, countRows, createD1Miniflare, dropAllTables, getD1 } from '../support/d1.ts';
import { describeStoreContracts } from './store-contracts.ts';

// D1 as miniflare runs it (workerd's D1 on a local SQLite file), reached from Node. One Miniflare
// serves the whole file; each test starts from an emptied, freshly migrated database.

const mf = createD1Miniflare(['DB', 'WRANGLER_WAY']);
let d1: D1Database;

beforeAll(async () => {
  d1 = await getD1(mf, 'DB');
});

afterAll(async () => {
  await mf.dispose();
});

async function freshD1(): Promise<D1Database> {
  d1 ??= await getD1(mf, 'DB');
  await dropAllTables(d1);
  await applyD1Migrations(d1);
  return d1;
}

describeStoreContracts('D1 (miniflare)', async () => {
  const db = await freshD1();
  const driver = createD1Driver(db);
  return {
    stores: createD1Stores(db),
    count: (table) => countRows(db, table),
    query: (sql, args) => driver.query(sql, args),
    // Another isolate's stores: the same binding, nothing cached shared.
    openPeer: async () => createD1Stores(db),
    dispose: async () => {},
  };
});

const MIGRATIONS = readMigrations();
const MIGRATION_NAMES = MIGRATIONS.map((m) => m.name);
const RECEIVED_AT = Date.UTC(2026, 0, 15);

function event(id: string, integrationTypes: readonly string[] = ['order.created.v1']): NewDomainEvent {
  return {
    id,
    type: 'OrderCreated',
    source: 'billing',
    data: '{"order":{"id":"o-1"}}',
    occurredAt: null,
    metadata: null,
    traceparent: null,
    receivedAt: RECEIVED_AT,
    integrationEvents: integrationTypes.map((type, n) => ({
      id: `${id}/ie${n}`,
      type,
      source: '/producers/billing',
      time: '2026-01-15T00:00:00Z',
      data: '{}',
    })),
  };
}

/**
 * Applies a migration file as `wrangler d1 migrations apply` does: the whole file with the
 * `d1_migrations` INSERT appended, cut at its `;`s, sent as one `d1.batch`. (wrangler's splitter
 * also skips `;` inside quotes, comments and BEGIN…END; generated migrations have none.)
 */
async function applyLikeWrangler(db: D1Database, migrations: readonly Migration[]): Promise<void> {
  await db.exec(
    'CREATE TABLE IF NOT EXISTS d1_migrations( id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL );',
  );
  for (const migration of migrations) {
    const text = `${migration.sql}\nINSERT INTO d1_migrations (name) values ('${migration.name}');\n`;
    const statements = text
      .split(/;\s*(?:\n|$)/)
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    await db.batch(statements.map((s) => db.prepare(s)));
  }
}

/** The schema, with whitespace runs made one space (wrangler indents its d1_migrations DDL otherwise). */
async function schemaOf(db: D1Database): Promise<unknown[]> {
  const rows = await createD1Driver(db).query(
    "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE '_cf_%' ORDER BY type, name",
  );
  return rows.map((r) => ({ ...r, sql: typeof r.sql === 'string' ? r.sql.replace(/\s+/g, ' ') : r.sql }));
}

describe('D1', () => {
  let driver: SqlDriver;

  beforeEach(async () => {
    driver = createD1Driver(await freshD1());
  });

  describe('migrations', () => {
    it('records every applied migration in d1_migrations, as wrangler does', async () => {
      const rows = await driver.query('SELECT id, name, applied_at FROM d1_migrations ORDER BY id');
      expect(rows.map((r) => r.name)).toEqual(MIGRATION_NAMES);
      for (const r of rows) {
        expect(r.id).toEqual(expect.any(Number));
        expect(r.applied_at).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
      }
      expect(await pendingMigrations(driver, MIGRATIONS)).toEqual([]);
      expect(await applyD1Migrations(d1)).toEqual([]);
    });

    it("gives the same database as wrangler's procedure (whole file, cut at `;`)", async () => {
      const other = await getD1(mf, 'WRANGLER_WAY');
      await dropAllTables(other);
      await applyLikeWrangler(other, MIGRATIONS);

      expect(await schemaOf(other)).toEqual(await schemaOf(d1));
      expect(await createD1Driver(other).query('SELECT id, name FROM d1_migrations ORDER BY id')).toEqual(
        await driver.query('SELECT id, name FROM d1_migrations ORDER BY id'),
      );
      // …and hookmesh sees a wrangler-migrated database as fully migrated.
      expect(await pendingMigrations(createD1Driver(other), MIGRATIONS)).toEqual([]);
      expect(await applyMigrations(createD1Driver(other), MIGRATIONS)).toEqual([]);
    });

    it('rebuilds the tables of 0008 around rows already there, foreign keys enforced', async () => {
      await dropAllTables(d1);
      await applyD1Migrations(d1, MIGRATIONS.slice(0, MIGRATION_NAMES.indexOf('0008_compact_storage.sql')));
      const ieId = '0190aa00-0000-7000-8000-000000000001';
      const deliveryId = '0190aa000000aaaaaaaaaaaaaaaaaaaa';
      await driver.batch(
        [
          `INSERT INTO subscriptions (id, type, url, retries, origin, created_at, updated_at)
           VALUES ('s', 'order.created.v1', 'https://h.example.com/', 10, 'api', 0, 0)`,
          `INSERT INTO domain_events (id, type, source, data, received_at) VALUES ('e', 'OrderCreated', 'billing', '{}', ${RECEIVED_AT})`,
          `INSERT INTO integration_events (id, domain_event_id, seq, type, source, time, data)
           VALUES ('${ieId}', 'e', 0, 'order.created.v1', '/producers/billing', '${new Date(RECEIVED_AT).toISOString()}', '{}')`,
          `INSERT INTO deliveries (id, integration_event_id, subscription_id, url, status, attempts, retried, max_retries,
             next_attempt_at, created_at, updated_at)
           VALUES ('${deliveryId}', '${ieId}', 's', 'https://old.example.com/', 'dead', 1, 0, 10, 0, ${RECEIVED_AT}, 0)`,
          `INSERT INTO attempts (delivery_id, number, at, status, duration_ms) VALUES ('${deliveryId}', 1, 0, 500, 3)`,
        ].map((sql) => ({ sql, args: [] })),
      );

      expect(await applyD1Migrations(d1)).toEqual(
        MIGRATION_NAMES.slice(MIGRATION_NAMES.indexOf('0008_compact_storage.sql')),
      );
      expect(await driver.query('PRAGMA foreign_key_check')).toEqual([]);
      const view = await createD1Stores(d1).events.getEvent('e');
      expect(view?.integrationEvents).toMatchObject([
        {
          id: ieId,
          source: '/producers/billing',
          time: new Date(RECEIVED_AT).toISOString(),
          deliveries: [
            { id: deliveryId, url: 'https://old.example.com/', attempts: [{ number: 1, status: 500 }] },
          ],
        },
      ]);
    });

    it('rebuilds the event tables of 0009 around rows already there, foreign keys enforced', async () => {
      await dropAllTables(d1);
      await applyD1Migrations(d1, MIGRATIONS.slice(0, MIGRATION_NAMES.indexOf('0009_event_types.sql')));
      const stores = createD1Stores(d1);
      await stores.subscriptions.syncCodeSubscriptions(
        [defineSubscription('order.*', 'https://h.example.com/', { id: 's' })],
        0,
      );
      // Rows as 0008 wrote them: the type's name in each, a delivery and an attempt under them.
      await driver.batch(
        [
          `INSERT INTO domain_events (ref, id, type, source, data, received_at)
           VALUES (1, 'e1', 'OrderCreated', 'billing', '{}', ${RECEIVED_AT}), (2, 'e2', 'OrderPaid', 'billing', '{}', ${RECEIVED_AT + 1})`,
          `INSERT INTO integration_events (ref, id, domain_event_ref, seq, type, data)
           VALUES (1, 'ie1', 1, 0, 'order.created.v1', '{}'), (2, 'ie2', 2, 0, 'order.paid.v1', '{}'),
             (3, 'ie3', 2, 1, 'order.created.v1', '{}')`,
          `INSERT INTO deliveries (id, integration_event_ref, subscription_ref, endpoint_id, status, max_retries,
             next_attempt_at, created_at, updated_at)
           SELECT 'd' || ie.ref, ie.ref, s.ref, s.endpoint_id, 'dead', 10, 0, ${RECEIVED_AT} + ie.ref, 0
           FROM integration_events ie, subscriptions s`,
          `INSERT INTO attempts (delivery_id, number, at, status, duration_ms) VALUES ('d2', 1, 0, 500, 3)`,
        ].map((sql) => ({ sql, args: [] })),
      );

      expect(await applyD1Migrations(d1)).toEqual(
        MIGRATION_NAMES.slice(MIGRATION_NAMES.indexOf('0009_event_types.sql')),
      );
      expect(await driver.query('PRAGMA foreign_key_check')).toEqual([]);
      expect(await driver.query('SELECT name FROM event_types ORDER BY name')).toEqual(
        ['OrderCreated', 'OrderPaid', 'order.created.v1', 'order.paid.v1'].map((name) => ({ name })),
      );
      const view = await stores.events.getEvent('e2');
      expect(view).toMatchObject({ type: 'OrderPaid' });
      expect(view?.integrationEvents).toMatchObject([
        {
          id: 'ie2',
          type: 'order.paid.v1',
          deliveries: [{ id: 'd2', attempts: [{ number: 1, status: 500 }] }],
        },
        { id: 'ie3', type: 'order.created.v1', deliveries: [{ id: 'd3' }] },
      ]);
      expect(
        (await stores.eventSearch.listEvents({ type: 'OrderCreated', limit: 10 })).map((e) => e.id),
      ).toEqual(['e1']);
      const created = await stores.deliveries.listDeliveries({ type: 'order.created.v1', limit: 10 });
      expect(created.map((d) => [d.id, d.type])).toEqual([
        ['d1', 'order.created.v1'],
        ['d3', 'order.created.v1'],
      ]);
      // New events reuse the numbers of known names and add the others.
      expect(
        await stores.events.appendEvents([event('e3', ['order.created.v1', 'order.shipped.v1'])]),
      ).toEqual({
        ok: true,
      });
      expect(await driver.query('SELECT count(*) AS n FROM event_types')).toEqual([{ n: 5 }]);
      const [found] = await stores.events.findEvents(['e3']);
      expect(found?.integrationEvents.map((ie) => ie.type)).toEqual(['order.created.v1', 'order.shipped.v1']);
      expect(await driver.query('PRAGMA foreign_key_check')).toEqual([]);
    });

    it('rolls a failing migration back whole and records nothing of it', async () => {
      const broken: Migration = {
        name: '9999_broken.sql',
        sql: 'CREATE TABLE half_done (id text);\n--> statement-breakpoint\nCREATE TABLE oops (;',
      };

      await expect(applyD1Migrations(d1, [...MIGRATIONS, broken])).rejects.toThrow(/syntax error/);

      const tables = await driver.query("SELECT name FROM sqlite_master WHERE name = 'half_done'");
      expect(tables).toEqual([]);
      expect(await pendingMigrations(driver, [...MIGRATIONS, broken])).toEqual(['9999_broken.sql']);
    });
  });

  describe('driver', () => {
    it('binds at most 100 parameters per statement', async () => {
      const select = (n: number) =>
        driver.query(`SELECT ${Array.from({ length: n }, () => '?').join(', ')}`, Array(n).fill(1));
      expect(driver.maxParams).toBe(100);
      await expect(select(100)).resolves.toHaveLength(1);
      await expect(select(101)).rejects.toThrow(/too many SQL variables/);
    });

    it('runs a batch atomically and reports the rows each statement changed', async () => {
      await driver.batch([
        { sql: 'CREATE TABLE IF NOT EXISTS scratch (k TEXT PRIMARY KEY, g TEXT, n INTEGER)', args: [] },
      ]);
      const insert = (id: string) => ({
        sql: "INSERT INTO scratch (k, g, n) VALUES (?, 'h', 0)",
        args: [id],
      });
      expect(
        await driver.batch([
          insert('a'),
          insert('b'),
          { sql: "UPDATE scratch SET n = 1 WHERE g = 'h'", args: [] },
          { sql: "DELETE FROM scratch WHERE k = 'nope'", args: [] },
        ]),
      ).toEqual([1, 1, 2, 0]);

      const failing = driver.batch([insert('c'), insert('a')]);

      await expect(failing).rejects.toThrow(/UNIQUE constraint failed/);
      expect(driver.isConstraintError(await failing.catch((e: unknown) => e))).toBe(true);
      expect(await countRows(d1, 'scratch')).toBe(2);
    });

    it('treats an empty batch as nothing to do (D1 itself refuses one)', async () => {
      expect(await driver.batch([])).toEqual([]);
      await expect(d1.batch([])).rejects.toThrow(/No SQL statements/);
    });

    it('tells a UNIQUE / PRIMARY KEY conflict from other failures', async () => {
      const error = async (sql: string) => driver.query(sql).catch((e: unknown) => e);
      await driver.query(
        "INSERT INTO subscriptions (id, type, url, retries, origin, created_at, updated_at) VALUES ('s', 't', 'u', 1, 'code', 0, 0)",
      );

      expect(
        driver.isConstraintError(
          await error(
            "INSERT INTO subscriptions (id, type, url, retries, origin, created_at, updated_at) VALUES ('s', 't', 'u', 1, 'code', 0, 0)",
          ),
        ),
      ).toBe(true);
      expect(driver.isConstraintError(await error('SELECT * FROM no_such_table'))).toBe(false);
      expect(driver.isConstraintError(await error('INSERT INTO subscriptions (id) VALUES (1)'))).toBe(false);
      expect(driver.isConstraintError(new Error('disk I/O error'))).toBe(false);
    });

    it('enforces foreign keys (libSQL does not by default)', async () => {
      expect(await driver.query('PRAGMA foreign_keys')).toEqual([{ foreign_keys: 1 }]);
      await expect(
        driver.query(
          "INSERT INTO integration_events (id, domain_event_ref, seq, type_ref, data) VALUES ('ie', 999, 0, 999, '{}')",
        ),
      ).rejects.toThrow(/FOREIGN KEY constraint failed/);
    });
  });

  describe('store', () => {
    it('reads an event with more deliveries than one statement may bind', async () => {
      const stores = createD1Stores(d1);
      const store = stores.events;
      const subscriptions = [
        defineSubscription('order.created.v1', 'https://a.example.com/', { id: 'sub-a' }),
        defineSubscription('order.*', 'https://b.example.com/', { id: 'sub-b' }),
      ];
      await stores.subscriptions.syncCodeSubscriptions(subscriptions, 1);
      const big = event(
        'evt-wide',
        Array.from({ length: 130 }, () => 'order.created.v1'),
      );

      expect(await store.appendEvents([big])).toEqual({ ok: true });

      const view = await store.getEvent('evt-wide');
      expect(view?.integrationEvents).toHaveLength(130);
      expect(view?.integrationEvents.map((ie) => ie.id)).toEqual(big.integrationEvents.map((ie) => ie.id));
      expect(view?.integrationEvents.every((ie) => ie.deliveries.length === 2)).toBe(true);
      const [found] = await store.findEvents(['evt-wide']);
      expect(found?.integrationEvents).toHaveLength(130);
    });

    it('runs the subscription and delivery admin stores', async () => {
      const { events: store, subscriptions, deliveries } = createD1Stores(d1);
      const created = await subscriptions.createSubscription({
        id: 'sub-api',
        type: 'order.*',
        url: 'https://hooks.example.com/',
        retries: 3,
        retryDelay: null,
        maxConcurrency: 16,
        pauseAfter: 50,
        paused: false,
        now: 10,
      });
      expect(created).toMatchObject({ id: 'sub-api', origin: 'api', retries: 3 });
      expect(await subscriptions.updateSubscription('sub-api', { retries: 5 }, 11)).toMatchObject({
        retries: 5,
        updatedAt: 11,
      });
      await store.appendEvents([event('evt-1'), event('evt-2')]);

      const listed = await deliveries.listDeliveries({ limit: 10, type: 'order.*' });
      expect(listed.map((d) => [d.eventId, d.status])).toEqual(
        expect.arrayContaining([
          ['evt-1', 'pending'],
          ['evt-2', 'pending'],
        ]),
      );
      await driver.query("UPDATE deliveries SET status = 'dead'");
      expect(await deliveries.replayDeliveries({ status: 'dead', type: 'order.created.v1' }, 20)).toBe(2);
      expect(await deliveries.replayDeliveries({ status: 'dead' }, 21)).toBe(0);
      expect(await subscriptions.deleteSubscription('sub-api', 30)).toBe(true);
      expect(await subscriptions.listSubscriptions()).toEqual([]);
    });
  });

  describe('a lease riding the ingest batch (the Worker)', () => {
    const OWNER = 'worker-test/ingest-1';
    const LEASE_MS = 30_000;

    /** A D1 driver whose write batches that create deliveries end with a publish lease; what it leased. */
    const leasingStores = (db: D1Database, now: number) => {
      const leased: ReturnType<typeof fromLeaseForPublish>[] = [];
      const seen: SqlStatement[][] = [];
      const rider = (statements: readonly SqlStatement[]): D1Rider | null => {
        seen.push([...statements]);
        if (!createsDeliveries(statements)) return null;
        return {
          statement: toLeaseForPublish({ owner: OWNER, now, leaseMs: LEASE_MS, limit: 100 }),
          took: (rows) => leased.push(fromLeaseForPublish(rows)),
        };
      };
      return { stores: createD1Stores(openD1(db, { rider })), leased, seen };
    };

    const leaseOf = async (db: D1Database) =>
      (
        await db
          .prepare('SELECT lease_owner, lease_expires_at, status, message_id FROM deliveries ORDER BY rowid')
          .all<{ lease_owner: string | null; lease_expires_at: number | null; status: string }>()
      ).results;

    it("leases the ingest's new deliveries in its own transaction and hands their rows back once it committed", async () => {
      const db = await freshD1();
      const { stores, leased } = leasingStores(db, RECEIVED_AT);
      await stores.subscriptions.syncCodeSubscriptions(
        [
          defineSubscription('order.*', 'https://a.example.com/hook', { id: 'a' }),
          defineSubscription('order.created.v1', 'https://b.example.com/hook', { id: 'b' }),
        ],
        1,
      );
      expect(leased).toEqual([]);

      await stores.events.appendEvents([event('evt-1')]);

      expect(leased).toHaveLength(1);
      expect(leased[0]!.map((d) => [d.subscriptionId, d.url, d.event.id, d.generation])).toEqual(
        expect.arrayContaining([
          ['a', 'https://a.example.com/hook', 'evt-1/ie0', 0],
          ['b', 'https://b.example.com/hook', 'evt-1/ie0', 0],
        ]),
      );
      expect(await leaseOf(db)).toEqual([
        { lease_owner: OWNER, lease_expires_at: RECEIVED_AT + LEASE_MS, status: 'pending', message_id: null },
        { lease_owner: OWNER, lease_expires_at: RECEIVED_AT + LEASE_MS, status: 'pending', message_id: null },
      ]);
    });

    it('leases nothing when the batch fails: a duplicate id rolls the lease back with the write', async () => {
      const db = await freshD1();
      const { stores, leased, seen } = leasingStores(db, RECEIVED_AT);
      await stores.subscriptions.syncCodeSubscriptions(
        [defineSubscription('order.*', 'https://a.example.com/hook', { id: 'a' })],
        1,
      );
      await stores.events.appendEvents([event('evt-1')]);
      await db.prepare('UPDATE deliveries SET lease_owner = NULL, lease_expires_at = NULL').all();
      leased.length = 0;
      seen.length = 0;

      // The same id again: the store's batch fails on its primary key, and answers "exists".
      expect(await stores.events.appendEvents([event('evt-1')])).toEqual({ ok: false, existing: ['evt-1'] });

      expect(seen.some((statements) => createsDeliveries(statements))).toBe(true);
      expect(leased).toEqual([]);
      expect(await leaseOf(db)).toEqual([
        { lease_owner: null, lease_expires_at: null, status: 'pending', message_id: null },
      ]);
    });

    it('what was leased and never published is due again once the lease ran out: a publish pass takes it', async () => {
      const db = await freshD1();
      const { stores, leased } = leasingStores(db, RECEIVED_AT);
      await stores.subscriptions.syncCodeSubscriptions(
        [defineSubscription('order.*', 'https://a.example.com/hook', { id: 'a' })],
        1,
      );
      await stores.events.appendEvents([event('evt-1')]);
      expect(leased[0]).toHaveLength(1);

      // The isolate is gone before its waitUntil published: while the lease holds, a sweep finds nothing…
      const sweep = (now: number) =>
        stores.publish.leaseForPublish({ owner: 'cron/1', now, leaseMs: LEASE_MS, limit: 100 });
      expect(await sweep(RECEIVED_AT + LEASE_MS - 1)).toEqual([]);
      // …and once it ran out, the sweep leases it and publishes.
      const swept = await sweep(RECEIVED_AT + LEASE_MS);
      expect(swept.map((d) => d.id)).toEqual(leased[0]!.map((d) => d.id));
    });

    it('rides only batches that create deliveries, and no plain query', async () => {
      const db = await freshD1();
      const { stores, seen, leased } = leasingStores(db, RECEIVED_AT);
      await stores.subscriptions.syncCodeSubscriptions(
        [defineSubscription('order.*', 'https://a.example.com/hook', { id: 'a' })],
        1,
      );
      await stores.subscriptions.listSubscriptions();
      expect(seen).toHaveLength(1);
      expect(createsDeliveries(seen[0]!)).toBe(false);
      expect(leased).toEqual([]);
    });
  });

  describe("a process's first write", () => {
    /** The binding, counting its round trips: each `all()` and each `batch()`. */
    const counted = (db: D1Database) => {
      const trips: string[] = [];
      const wrapped: D1Database = {
        prepare: (sql) => {
          const wrap = (statement: D1PreparedStatement): D1PreparedStatement =>
            ({
              bind: (...values) => wrap(statement.bind(...values)),
              all: () => {
                trips.push(`all ${sql}`);
                return statement.all();
              },
              inner: statement,
            }) as D1PreparedStatement;
          return wrap(db.prepare(sql));
        },
        batch: (statements) => {
          trips.push('batch');
          return db.batch(statements.map((s) => (s as unknown as { inner: D1PreparedStatement }).inner));
        },
        exec: (sql) => db.exec(sql),
      };
      return { wrapped, trips };
    };

    it('is one round trip with no filtered subscription: the snapshot is read in its batch', async () => {
      const { wrapped, trips } = counted(await freshD1());
      const { events, subscriptions } = createD1Stores(wrapped);
      await subscriptions.syncCodeSubscriptions(
        [defineSubscription('order.*', 'https://h.example.com/', { id: 's' })],
        1,
      );
      trips.length = 0;
      await events.appendEvents([event('evt-1')]);
      expect(trips).toEqual(['batch']);
      await events.appendEvents([event('evt-2')]);
      expect(trips).toEqual(['batch', 'batch']);
      expect(await countRows(d1, 'deliveries')).toBe(2);
    });

    it('is read again when a filtered subscription exists: the presumption fails its batch', async () => {
      const { wrapped, trips } = counted(await freshD1());
      const { events, subscriptions } = createD1Stores(wrapped);
      await subscriptions.syncCodeSubscriptions(
        [
          defineSubscription('order.*', 'https://h.example.com/', { id: 's' }),
          defineSubscription('order.*', 'https://f.example.com/', { id: 'f', filter: { no: 'match' } }),
        ],
        1,
      );
      trips.length = 0;
      await events.appendEvents([event('evt-1')]);
      expect(trips).toEqual(['batch', expect.stringMatching(/^all SELECT r.revision/), 'batch']);
      expect(await countRows(d1, 'domain_events')).toBe(1);
      expect(await countRows(d1, 'deliveries')).toBe(1);
    });
  });
});
