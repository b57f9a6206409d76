import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NewDomainEvent } from '../../src/core/event-store.ts';
import { defineSubscription } from '../../src/core/subscription.ts';
import { readMigrations } from '../../src/runtime/migrations.ts';
import { createLibsqlDriver } from '../../src/store/libsql-driver.ts';
import { createLibsqlStores, openLibsql } from '../../src/store/libsql-store.ts';
import { applyMigrations, type Migration, pendingMigrations } from '../../src/store/migrate.ts';
import type { SqlDriver, SqlStatement } from '../../src/store/sql-driver.ts';
import { createTempDb, type TempDb } from '../support/temp-db.ts';
import { describeStoreContracts } from './store-contracts.ts';

describeStoreContracts('libSQL file', async () => {
  const db = await createTempDb();
  const peers: { client: { close(): void } }[] = [];
  return {
    stores: createLibsqlStores(db.client, db.driver),
    count: db.count,
    query: (sql, args) => db.driver.query(sql, args),
    async openPeer() {
      const peer = await openLibsql({ url: db.url });
      peers.push(peer);
      return createLibsqlStores(peer.client, peer.driver);
    },
    dispose: async () => {
      for (const peer of peers) peer.client.close();
      await db.dispose();
    },
  };
});

const MIGRATIONS = readMigrations();
const MIGRATION_NAMES = MIGRATIONS.map((m) => m.name);

function event(id: string): NewDomainEvent {
  return {
    id,
    type: 'OrderCreated',
    source: 'billing',
    data: '{"order":{"id":"o-1"}}',
    occurredAt: null,
    metadata: null,
    traceparent: null,
    receivedAt: Date.UTC(2026, 0, 15),
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

/** Wraps a driver so a test can watch or change what reaches the database. */
function wrapDriver(
  inner: SqlDriver,
  batch: (statements: readonly SqlStatement[]) => Promise<number[]>,
): SqlDriver {
  return {
    maxParams: inner.maxParams,
    query: (sql, args) => inner.query(sql, args),
    batch,
    isConstraintError: (error) => inner.isConstraintError(error),
    close: () => inner.close(),
  };
}

async function tableNames(driver: SqlDriver): Promise<string[]> {
  const rows = await driver.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
  return rows.map((r) => String(r.name));
}

describe('libSQL store', () => {
  let db: TempDb;

  beforeEach(async () => {
    db = await createTempDb();
  });

  afterEach(async () => {
    await db.dispose();
  });

  describe('durability settings', () => {
    // The file driver's connection commits at NORMAL and syncs the log itself before it answers
    // (wal-flush.test.ts holds the order); the client's connections keep SQLite's FULL.
    it('runs the file in WAL mode: the driver at NORMAL with its own log sync, the client at FULL', async () => {
      expect(await db.driver.query('PRAGMA journal_mode')).toEqual([{ journal_mode: 'wal' }]);
      expect(await db.driver.query('PRAGMA synchronous')).toEqual([{ synchronous: 1 }]);
      expect((await db.client.execute('PRAGMA synchronous')).rows.map((r) => Number(r.synchronous))).toEqual([
        2,
      ]);
    });

    it('runs the driver at FULL, syncing inside COMMIT, when told (HOOKMESH_SQLITE_SYNC=full)', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'hookmesh-sync-full-'));
      const { client, driver } = await openLibsql({ url: `file:${join(dir, 'full.db')}`, walSync: 'full' });
      try {
        expect(await driver.query('PRAGMA synchronous')).toEqual([{ synchronous: 2 }]);
      } finally {
        client.close();
        await driver.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('keeps them after writes and on every pooled connection', async () => {
      const store = createLibsqlStores(db.client, db.driver).events;
      await Promise.all(Array.from({ length: 10 }, (_, i) => store.appendEvents([event(`evt-${i}`)])));

      // Queries issued together borrow several of the client's connections at once.
      const modes = await Promise.all(
        Array.from({ length: 8 }, () => db.client.execute('PRAGMA journal_mode')),
      );
      const syncs = await Promise.all(
        Array.from({ length: 8 }, () => db.client.execute('PRAGMA synchronous')),
      );
      expect(modes.map((r) => r.rows[0]?.journal_mode)).toEqual(Array(8).fill('wal'));
      expect(syncs.map((r) => Number(r.rows[0]?.synchronous))).toEqual(Array(8).fill(2));
      expect(await db.driver.query('PRAGMA synchronous')).toEqual([{ synchronous: 1 }]);
    });
  });

  describe('migrations', () => {
    it('records every applied migration in d1_migrations', async () => {
      const rows = await db.driver.query('SELECT name, applied_at FROM d1_migrations ORDER BY id');
      expect(rows.map((r) => r.name)).toEqual(MIGRATION_NAMES);
      for (const r of rows) expect(typeof r.applied_at).toBe('string');
      expect(await pendingMigrations(db.driver, MIGRATIONS)).toEqual([]);
      expect(await tableNames(db.driver)).toEqual(
        expect.arrayContaining([
          'attempts',
          'deliveries',
          'domain_events',
          'integration_events',
          'subscriptions',
        ]),
      );
    });

    it('applies nothing the second time', async () => {
      expect(await applyMigrations(db.driver, MIGRATIONS)).toEqual([]);
      expect(await db.count('d1_migrations')).toBe(MIGRATIONS.length);
    });

    it('rolls a failing migration back whole and records nothing of it', async () => {
      const broken: Migration = {
        name: '9999_broken.sql',
        sql: 'CREATE TABLE half_done (id text);\n--> statement-breakpoint\nCREATE TABLE oops (;',
      };

      await expect(applyMigrations(db.driver, [...MIGRATIONS, broken])).rejects.toThrow();

      expect(await tableNames(db.driver)).not.toContain('half_done');
      expect(await db.count('d1_migrations')).toBe(MIGRATIONS.length);
      expect(await pendingMigrations(db.driver, [...MIGRATIONS, broken])).toEqual(['9999_broken.sql']);
    });

    describe('on a fresh file', () => {
      let dir: string;

      beforeEach(() => {
        dir = mkdtempSync(join(tmpdir(), 'hookmesh-migrate-'));
      });

      afterEach(() => {
        rmSync(dir, { recursive: true, force: true });
      });

      it('is safe when two processes migrate the same file at once', async () => {
        const url = `file:${join(dir, 'race.db')}`;
        const a = await openLibsql({ url });
        const b = await openLibsql({ url });
        try {
          const [fromA, fromB] = await Promise.all([
            applyMigrations(a.driver, MIGRATIONS),
            applyMigrations(b.driver, MIGRATIONS),
          ]);

          expect([...fromA, ...fromB].sort()).toEqual(MIGRATION_NAMES);
          expect(await a.driver.query('SELECT name FROM d1_migrations ORDER BY id')).toEqual(
            MIGRATION_NAMES.map((name) => ({ name })),
          );
          expect(await pendingMigrations(b.driver, MIGRATIONS)).toEqual([]);
        } finally {
          a.client.close();
          b.client.close();
        }
      });

      it('lets the loser of a race find the migration applied instead of failing', async () => {
        const url = `file:${join(dir, 'loser.db')}`;
        const winner = await openLibsql({ url });
        const loser = await openLibsql({ url });
        try {
          await applyMigrations(winner.driver, MIGRATIONS);
          // The loser checked before the winner committed: its first look says "not applied".
          const lookedOnce = new Set<string>();
          const stale: SqlDriver = {
            ...loser.driver,
            maxParams: loser.driver.maxParams,
            async query(sql, args) {
              const name = String(args?.[0]);
              if (sql.includes('FROM d1_migrations WHERE name') && !lookedOnce.has(name)) {
                lookedOnce.add(name);
                return [];
              }
              return loser.driver.query(sql, args);
            },
          };

          expect(await applyMigrations(stale, MIGRATIONS)).toEqual([]);
          expect(lookedOnce.size).toBe(MIGRATIONS.length);
          expect(await loser.driver.query('SELECT count(*) AS n FROM d1_migrations')).toEqual([
            { n: MIGRATIONS.length },
          ]);
        } finally {
          winner.client.close();
          loser.client.close();
        }
      });
    });
  });

  describe('atomic writes', () => {
    const failing: SqlStatement = { sql: 'INSERT INTO no_such_table (x) VALUES (1)', args: [] };

    it.each([
      ['after the first statement', (s: readonly SqlStatement[]) => [s[0]!, failing, ...s.slice(1)]],
      ['after every statement', (s: readonly SqlStatement[]) => [...s, failing]],
    ])('leaves no row and rejects when a write fails %s', async (_, inject) => {
      let broken = false;
      const driver = wrapDriver(db.driver, (statements) =>
        db.driver.batch(broken ? inject(statements) : statements),
      );
      const stores = createLibsqlStores(db.client, driver);
      const store = stores.events;
      await stores.subscriptions.syncCodeSubscriptions(
        [defineSubscription('order.created.v1', 'https://h.example.com/')],
        1,
      );
      broken = true;

      await expect(store.appendEvents([event('evt-1'), event('evt-2')])).rejects.toThrow(/no_such_table/);

      for (const table of ['domain_events', 'integration_events', 'deliveries']) {
        expect(await db.count(table)).toBe(0);
      }
      // The failure is not mistaken for a duplicate, and the store keeps working.
      broken = false;
      expect(await store.appendEvents([event('evt-1')])).toEqual({ ok: true });
      expect(await db.count('deliveries')).toBe(1);
    });

    it('rejects every request of a group whose write fails for another reason than a conflict', async () => {
      const driver = wrapDriver(db.driver, async () => {
        throw new Error('disk I/O error');
      });
      const store = createLibsqlStores(db.client, driver).events;

      const results = await Promise.allSettled([
        store.appendEvents([event('evt-1')]),
        store.appendEvents([event('evt-2')]),
      ]);

      expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
      expect(await db.count('domain_events')).toBe(0);
    });
  });

  describe('group commit', () => {
    it('shares one transaction among simultaneous requests', async () => {
      const batches: (readonly SqlStatement[])[] = [];
      const driver = wrapDriver(db.driver, (statements) => {
        batches.push(statements);
        return db.driver.batch(statements);
      });
      const store = createLibsqlStores(db.client, driver).events;

      await Promise.all(Array.from({ length: 50 }, (_, i) => store.appendEvents([event(`evt-${i}`)])));

      expect(batches).toHaveLength(1);
      expect(await db.count('domain_events')).toBe(50);
    });

    it('writes the whole group again, not request by request, when its filter snapshot is stale', async () => {
      const batches: (readonly SqlStatement[])[] = [];
      const driver = wrapDriver(db.driver, (statements) => {
        batches.push(statements);
        return db.driver.batch(statements);
      });
      const stores = createLibsqlStores(db.client, driver);
      await stores.events.appendEvents([event('evt-0')]);
      // Another process adds a filtered subscription: this one's snapshot is now stale.
      const other = createLibsqlStores(db.client, db.driver);
      await other.subscriptions.syncCodeSubscriptions(
        [defineSubscription('order.created.v1', 'https://h.example.com/', { filter: { order: 'x' } })],
        1,
      );
      batches.length = 0;

      const results = await Promise.all(
        ['evt-a', 'evt-b', 'evt-c'].map((id) => stores.events.appendEvents([event(id)])),
      );

      expect(results).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
      const idsIn = (statements: readonly SqlStatement[]) => [
        ...new Set(
          statements.flatMap((s) => s.args).filter((a) => typeof a === 'string' && /^evt-[a-z]+$/.test(a)),
        ),
      ];
      expect(batches.map(idsIn)).toEqual([
        ['evt-a', 'evt-b', 'evt-c'],
        ['evt-a', 'evt-b', 'evt-c'],
      ]);
      expect(await db.count('domain_events')).toBe(4);
      expect(await db.count('deliveries')).toBe(0);
    });

    it('recognises a stale filter snapshot over @libsql/client too (a remote database)', async () => {
      // Two instances over the client's own driver, as a mesh on Turso or sqld runs.
      const a = createLibsqlStores(db.client, createLibsqlDriver(db.client));
      const b = createLibsqlStores(db.client, createLibsqlDriver(db.client));
      const withCurrency = (id: string, currency: string): NewDomainEvent => ({
        ...event(id),
        integrationEvents: [{ ...event(id).integrationEvents[0]!, data: JSON.stringify({ currency }) }],
      });
      await a.events.appendEvents([withCurrency('evt-0', 'EUR')]);
      await b.subscriptions.syncCodeSubscriptions(
        [
          defineSubscription('order.created.v1', 'https://h.example.com/', {
            id: 'eur',
            filter: { currency: 'EUR' },
          }),
        ],
        1,
      );

      await a.events.appendEvents([withCurrency('evt-1', 'EUR'), withCurrency('evt-2', 'USD')]);

      expect(
        await db.driver.query(
          'SELECT ie.id AS ie FROM deliveries d JOIN integration_events ie ON ie.ref = d.integration_event_ref',
        ),
      ).toEqual([{ ie: 'evt-1/ie0' }]);
    });

    it('still commits the other requests of a shared group when one conflicts', async () => {
      const base = createLibsqlStores(db.client, db.driver).events;
      await base.appendEvents([event('evt-taken')]);
      const batches: (readonly SqlStatement[])[] = [];
      const driver = wrapDriver(db.driver, (statements) => {
        batches.push(statements);
        return db.driver.batch(statements);
      });
      const store = createLibsqlStores(db.client, driver).events;

      const results = await Promise.all([
        store.appendEvents([event('evt-a')]),
        store.appendEvents([event('evt-taken')]),
        store.appendEvents([event('evt-b')]),
      ]);

      expect(results).toEqual([{ ok: true }, { ok: false, existing: ['evt-taken'] }, { ok: true }]);
      // First the shared attempt with all three, then each request alone.
      const idsIn = (statements: readonly SqlStatement[]) => [
        ...new Set(
          statements.flatMap((s) => s.args).filter((a) => typeof a === 'string' && /^evt-[a-z]+$/.test(a)),
        ),
      ];
      expect(batches.map(idsIn)).toEqual([
        ['evt-a', 'evt-taken', 'evt-b'],
        ['evt-a'],
        ['evt-taken'],
        ['evt-b'],
      ]);
      expect(await db.count('domain_events')).toBe(3);
      expect(await db.count('integration_events')).toBe(3);
    });
  });
});
