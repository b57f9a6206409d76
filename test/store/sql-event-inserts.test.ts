import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLibsqlStores } from '../../src/store/libsql-store.ts';
import type { SqlDriver, SqlStatement } from '../../src/store/sql-driver.ts';
import { eventIdIn } from '../../src/store/sql-ids.ts';
import { createSqlStores } from '../../src/store/sql-stores.ts';
import { createTempDb, type TempDb } from '../support/temp-db.ts';
import { domainEvent, exactCreated } from './store-contract-fixtures.ts';

// How ingest's statements write a group (sql-event-inserts.ts), on a real libSQL file: ids in the
// stored form `eventIdIn` gives, any group size in one padded statement per table, the padding
// rows never written, and the `event_types` rows this process knows skipped but never missed.

let db: TempDb;
beforeEach(async () => {
  db = await createTempDb();
});
afterEach(async () => {
  await db.dispose();
});

/** The driver, with every batch it is given recorded. */
function recording(
  inner: SqlDriver,
  maxParams = inner.maxParams,
): { driver: SqlDriver; batches: (readonly SqlStatement[])[] } {
  const batches: (readonly SqlStatement[])[] = [];
  return {
    batches,
    driver: {
      maxParams,
      query: (sql, args) => inner.query(sql, args),
      batch: (statements) => {
        batches.push(statements);
        return inner.batch(statements);
      },
      isConstraintError: (error) => inner.isConstraintError(error),
      close: () => inner.close(),
    },
  };
}

const inserts = (statements: readonly SqlStatement[], table: string) =>
  statements.filter((s) => s.sql.trimStart().startsWith(`INSERT INTO ${table} `)).length;

describe('ingest inserts', () => {
  it('stores each integration event id as eventIdIn does: 16 bytes for a canonical UUID, text otherwise', async () => {
    const stores = createLibsqlStores(db.client, db.driver);
    await stores.subscriptions.syncCodeSubscriptions([exactCreated], 1);
    const ids = [
      '01a23adb-5ec2-7169-8a2b-cf38804bf3ae',
      '01A23ADB-5EC2-7169-8A2B-CF38804BF3AE',
      '01a23adb5ec271698a2bcf38804bf3ae',
      '01a23adb-5ec2-7169-8a2b-cf38804bf3a',
      'abcd----',
      'evt-1/ie0',
    ];
    const events = ids.map((id, n) => domainEvent(`evt-${n}`, [{ id }]));

    expect(await stores.events.appendEvents(events)).toEqual({ ok: true });

    for (const id of ids) {
      const [expected] = await db.driver.query(
        `SELECT typeof(x) AS kind, hex(x) AS bytes FROM (SELECT ${eventIdIn('?1')} AS x)`,
        [id],
      );
      const stored = await db.driver.query(
        `SELECT typeof(ie.id) AS kind, hex(ie.id) AS bytes, count(d.id) AS deliveries
         FROM integration_events ie LEFT JOIN deliveries d ON d.integration_event_ref = ie.ref
         WHERE ie.id = ${eventIdIn('?1')} GROUP BY ie.ref`,
        [id],
      );
      expect(stored, id).toEqual([{ ...expected, deliveries: 1 }]);
    }
    const [uuid] = await stores.events.findEvents(['evt-0']);
    expect(uuid!.integrationEvents).toEqual([{ id: ids[0], type: 'order.created.v1' }]);
    const [upper] = await stores.events.findEvents(['evt-1']);
    expect(upper!.integrationEvents).toEqual([{ id: ids[1], type: 'order.created.v1' }]);
  });

  it('writes any group size in one statement per table up to 64 events, and only the real rows', async () => {
    const { driver, batches } = recording(db.driver);
    const stores = createLibsqlStores(db.client, driver);
    await stores.subscriptions.syncCodeSubscriptions([exactCreated], 1);
    let written = 0;
    for (const size of [1, 2, 3, 5, 13, 31, 33, 64, 65, 70]) {
      batches.length = 0;
      const events = Array.from({ length: size }, (_, i) =>
        domainEvent(`g${size}-${i}`, ['order.created.v1', 'order.paid.v1']),
      );

      expect(await stores.events.appendEvents(events)).toEqual({ ok: true });

      written += size;
      expect(batches).toHaveLength(1);
      const chunks = Math.ceil(size / 64);
      expect(inserts(batches[0]!, 'domain_events'), `${size} events`).toBe(chunks);
      expect(inserts(batches[0]!, 'integration_events'), `${size} events`).toBe(Math.ceil((2 * size) / 64));
      // One row per integration event, joined with the subscriptions its type matches.
      expect(inserts(batches[0]!, 'deliveries'), `${size} events`).toBe(Math.ceil((2 * size) / 64));
      expect(await db.count('domain_events')).toBe(written);
      expect(await db.count('integration_events')).toBe(2 * written);
      expect(await db.count('deliveries')).toBe(written);
    }
    // Every integration event belongs to its own domain event, in its place, with its own type.
    expect(
      await db.driver.query(
        `SELECT count(*) AS wrong FROM integration_events ie JOIN domain_events de ON de.ref = ie.domain_event_ref
         WHERE ie.id <> de.id || '/ie' || ie.seq
            OR (SELECT name FROM event_types WHERE ref = ie.type_ref) <> iif(ie.seq = 0, 'order.created.v1', 'order.paid.v1')`,
      ),
    ).toEqual([{ wrong: 0 }]);
    // Refs follow the events' order: ingest's rowids are its acceptance order.
    const refs = await db.driver.query("SELECT id FROM domain_events WHERE id LIKE 'g13-%' ORDER BY ref");
    expect(refs.map((r) => r.id)).toEqual(Array.from({ length: 13 }, (_, i) => `g13-${i}`));
  });

  it('pads a group past eight rows to the next multiple of eight, not of two: fewer NULLs bound', async () => {
    const { driver, batches } = recording(db.driver);
    const stores = createLibsqlStores(db.client, driver);
    await stores.subscriptions.syncCodeSubscriptions([exactCreated], 1);
    const rows = (table: string) =>
      batches[0]!
        .filter((s) => s.sql.trimStart().startsWith(`INSERT INTO ${table} `))
        .map((s) => (s.sql.match(/\(\?(, \?)*\)/g) ?? []).length);
    for (const [size, padded] of [
      [3, 4],
      [8, 8],
      [9, 16],
      [44, 48],
      [64, 64],
      [70, 64 + 8],
    ] as const) {
      batches.length = 0;
      const events = Array.from({ length: size }, (_, i) => domainEvent(`p${size}-${i}`));

      expect(await stores.events.appendEvents(events)).toEqual({ ok: true });

      const chunks = size > 64 ? [64, padded - 64] : [padded];
      expect(rows('domain_events'), `${size} events`).toEqual(chunks);
      expect(rows('integration_events'), `${size} events`).toEqual(chunks);
      expect(rows('deliveries'), `${size} events`).toEqual(chunks);
    }
    expect(await db.count('domain_events')).toBe(3 + 8 + 9 + 44 + 64 + 70);
    expect(await db.count('deliveries')).toBe(3 + 8 + 9 + 44 + 64 + 70);
  });

  it('binds all deliveries as one JSON array where the driver binds few parameters (D1: 100)', async () => {
    const { driver, batches } = recording(db.driver, 100);
    const stores = createLibsqlStores(db.client, driver);
    await stores.subscriptions.syncCodeSubscriptions([exactCreated], 1);
    const events = Array.from({ length: 30 }, (_, i) => domainEvent(`d1-${i}`));

    batches.length = 0;
    expect(await stores.events.appendEvents(events)).toEqual({ ok: true });

    expect(inserts(batches[0]!, 'domain_events')).toBe(3);
    expect(batches[0]!.filter((s) => s.sql.includes('INSERT INTO deliveries'))).toEqual([
      { sql: expect.stringContaining('json_each(?1)'), args: [expect.any(String)] },
    ]);
    expect(await db.count('domain_events')).toBe(30);
    expect(await db.count('deliveries')).toBe(30);
    const order = await db.driver.query(
      `SELECT de.id FROM deliveries d JOIN integration_events ie ON ie.ref = d.integration_event_ref
       JOIN domain_events de ON de.ref = ie.domain_event_ref ORDER BY d.rowid`,
    );
    expect(order.map((r) => r.id)).toEqual(events.map((e) => e.id));
  });

  it('keeps a duplicate in a padded group to its own request: the others are written', async () => {
    const stores = createLibsqlStores(db.client, db.driver);
    await stores.subscriptions.syncCodeSubscriptions([exactCreated], 1);
    await stores.events.appendEvents([domainEvent('taken')]);
    const ids = Array.from({ length: 13 }, (_, i) => (i === 6 ? 'taken' : `new-${i}`));

    const results = await Promise.all(
      ids.map((id) => stores.events.appendEvents([domainEvent(id, ['order.created.v1'], { data: '{}' })])),
    );

    expect(results).toEqual(
      ids.map((id) => (id === 'taken' ? { ok: false, existing: ['taken'] } : { ok: true })),
    );
    expect(await db.count('domain_events')).toBe(13);
    expect(await db.count('deliveries')).toBe(13);
  });

  it('inserts a type name only until it is known, and again when its row went missing', async () => {
    const { driver, batches } = recording(db.driver);
    const stores = createLibsqlStores(db.client, driver);
    const typeInserts = () =>
      batches.map((b) => b.filter((s) => s.sql.startsWith('INSERT OR IGNORE INTO event_types')).length);
    const eventTypes = async () =>
      (await db.driver.query('SELECT name FROM event_types ORDER BY name')).map((r) => r.name);

    await stores.events.appendEvents([domainEvent('first')]);
    await stores.events.appendEvents([domainEvent('second')]);
    await stores.events.appendEvents([domainEvent('third', ['order.paid.v1'])]);

    expect(typeInserts()).toEqual([2, 0, 1]);
    expect(await eventTypes()).toEqual(['OrderCreated', 'order.created.v1', 'order.paid.v1']);

    // An older copy of the file put in place under the process: no events, no types.
    await db.driver.batch(
      ['deliveries', 'integration_events', 'domain_events', 'event_types'].map((table) => ({
        sql: `DELETE FROM ${table}`,
        args: [],
      })),
    );

    batches.length = 0;
    expect(await stores.events.appendEvents([domainEvent('fourth')])).toEqual({ ok: true });
    // The batch that presumed them failed on the missing type (NOT NULL), and was written again.
    expect(typeInserts()).toEqual([0, 2]);
    expect(await eventTypes()).toEqual(['OrderCreated', 'order.created.v1']);
    expect((await stores.events.findEvents(['fourth']))[0]!.integrationEvents).toEqual([
      { id: 'fourth/ie0', type: 'order.created.v1' },
    ]);
  });

  it('shares known type names between per-request stores, and writes a batch again when a presumed one is missing', async () => {
    const { driver, batches } = recording(db.driver);
    // As the Worker composes: a store per request, the definitions' names presumed from the start.
    const stores = createSqlStores(
      { driver },
      { writesPerRequest: true, knownTypes: new Set(['OrderCreated', 'order.created.v1']) },
    );
    const typeInserts = () =>
      batches.map((b) => b.filter((s) => s.sql.startsWith('INSERT OR IGNORE INTO event_types')).length);

    // A new database: the presumed names have no rows yet, so the first batch fails on them
    // (NOT NULL) and is written again with its types; nothing is lost and nothing doubled.
    expect(await stores.events.appendEvents([domainEvent('first')])).toEqual({ ok: true });
    expect(await stores.events.appendEvents([domainEvent('second')])).toEqual({ ok: true });
    expect(await stores.events.appendEvents([domainEvent('third', ['order.paid.v1'])])).toEqual({ ok: true });
    expect(await stores.events.appendEvents([domainEvent('fourth', ['order.paid.v1'])])).toEqual({
      ok: true,
    });

    // Each request's store started from what the others learnt: a name is inserted by one batch,
    // not by every request.
    expect(typeInserts()).toEqual([0, 2, 0, 1, 0]);
    expect(await db.count('domain_events')).toBe(4);
    expect((await stores.events.findEvents(['fourth']))[0]!.integrationEvents).toEqual([
      { id: 'fourth/ie0', type: 'order.paid.v1' },
    ]);
  });
});
