import { afterEach, describe, expect, it } from 'vitest';
import { runRetentionPass } from '../../src/core/retention.ts';
import { createLibsqlStores } from '../../src/store/libsql-store.ts';
import type { SqlDriver, SqlStatement, SqlValue } from '../../src/store/sql-driver.ts';
import { createTestMesh, orderCreated, type TestMesh } from '../support/test-mesh.ts';
import { domainEvent } from './store-contract-fixtures.ts';

// Every statement the stores run, recorded through the driver while the mesh does each of its
// jobs (ingest, lease, record, publish, callbacks, the operator's lists, metrics, retention), then
// put to EXPLAIN QUERY PLAN on the migrated schema: none may walk a whole table. This is what
// keeps the partial and trimmed indexes of migration 0007, the byte ids of 0008 and the type numbers of 0009, honest — a query whose WHERE does not
// show SQLite that a partial index covers it falls back to a scan, and this test names it.

const DAY = 86_400_000;
/** Tables that grow with the traffic, and the aliases the stores give them. */
const BIG = new Set([
  'deliveries',
  'domain_events',
  'integration_events',
  'attempts',
  'd',
  'x',
  'f',
  'ie',
  'de',
  'a',
  'o',
]);

let mesh: TestMesh | undefined;
afterEach(async () => {
  await mesh?.dispose();
  mesh = undefined;
});

function recording(driver: SqlDriver, seen: Map<string, readonly SqlValue[]>): SqlDriver {
  const note = (s: SqlStatement) => {
    if (!seen.has(s.sql)) seen.set(s.sql, s.args);
  };
  return {
    ...driver,
    query: (sql, args = []) => {
      note({ sql, args });
      return driver.query(sql, args);
    },
    batch: (statements) => {
      for (const s of statements) note(s);
      return driver.batch(statements);
    },
    isConstraintError: (error) => driver.isConstraintError(error),
    close: () => driver.close(),
    ...(driver.reclaimSpace ? { reclaimSpace: () => driver.reclaimSpace!() } : {}),
  };
}

async function planOf(driver: SqlDriver, s: SqlStatement): Promise<string[]> {
  const rows = await driver.query(`EXPLAIN QUERY PLAN ${s.sql}`, s.args);
  return rows.map((r) => String(r.detail));
}

/**
 * Statements that read a big table whole on purpose: the prune of endpoints and event types, which
 * no index serves (`deliveries.endpoint_id`, `integration_events.type_ref`) and which runs only
 * while that table spans at most `RETENTION_PRUNE_HOLDER_ROWS` rowids (sql-retention.ts).
 */
const BOUNDED_SCANS = [/^DELETE FROM endpoints /, /^DELETE FROM event_types /];

/** A plan line that reads a big table from end to end without an index, or a whole partial index. */
function isFullScan(line: string): boolean {
  const scan = /^SCAN (\w+)( USING (COVERING )?INDEX (\w+))?/.exec(line);
  return scan !== null && BIG.has(scan[1]!) && scan[2] === undefined;
}

describe('every query the stores run is served from an index (migrations 0007 to 0009 included)', () => {
  it('no statement scans a growing table', async () => {
    const seen = new Map<string, readonly SqlValue[]>();
    mesh = await createTestMesh({ wrapDriver: (driver) => recording(driver, seen) });
    const stores = createLibsqlStores(mesh.db.client, recording(mesh.db.driver, seen));
    const now = () => mesh!.clock.now();

    // Ingest, then one delivery each way: delivered, retrying, dead.
    for (let i = 0; i < 6; i++) expect((await mesh.post(orderCreated(`e${i}`))).status).toBe(202);
    const leased = await stores.dispatch.leaseDue({ owner: 'o', now: now(), leaseMs: 30_000, limit: 3 });
    const next = ['delivered', 'retrying', 'dead'] as const;
    await stores.dispatch.recordAttempts(
      leased.map((d, i) => ({
        deliveryId: d.id,
        owner: 'o',
        number: 1,
        at: now(),
        status: i === 0 ? 200 : 500,
        durationMs: 2,
        error: null,
        responseExcerpt: null,
        next: next[i]!,
        nextAttemptAt: now() + 1000,
        retried: i === 1 ? 1 : 0,
      })),
    );
    // Ingest handing its new deliveries to its own dispatcher (HOOKMESH_ROLE=all), and the read of them.
    let handedOff: Promise<unknown[]> = Promise.resolve([]);
    const handingOff = stores.eventsHandingOff({
      owner: 'o',
      leaseMs: 30_000,
      now,
      reserve: () => 4,
      settle: (outcome) => {
        handedOff = outcome.load();
      },
    });
    expect(
      await handingOff.appendEvents([domainEvent('handed-off', ['order.paid.v1'], { receivedAt: now() })]),
    ).toEqual({
      ok: true,
    });
    expect(await handedOff).toHaveLength(1);
    // The publishing transport's side.
    const forPublish = await stores.publish.leaseForPublish({
      owner: 'p',
      now: now(),
      leaseMs: 30_000,
      limit: 2,
    });
    expect(forPublish.length).toBeGreaterThan(0);
    // The head of one ordering key alone, as a callback that settled the one before asks for it.
    await stores.publish.leaseForPublish({
      owner: 'p-next',
      now: now(),
      leaseMs: 30_000,
      limit: 1,
      only: { subscriptionId: forPublish[0]!.subscriptionId, orderingKey: 'o-e5' },
    });
    const [first, second] = forPublish;
    await stores.publish.markPublished([
      { deliveryId: first!.id, owner: 'p', generation: first!.generation, messageId: 'msg_1', at: now() },
    ]);
    if (second) {
      await stores.publish.markPublishFailed([
        { deliveryId: second.id, owner: 'p', at: now(), nextAttemptAt: now() + 1000 },
      ]);
    }
    const published = await stores.publish.findPublished('msg_1');
    expect(published).not.toBeNull();
    await stores.publish.applyCallback({
      deliveryId: first!.id,
      messageId: 'msg_1',
      number: 1,
      at: now(),
      status: 500,
      durationMs: 3,
      error: null,
      responseExcerpt: null,
      next: 'retrying',
      nextAttemptAt: now() + 1000,
      retried: 1,
    });
    await stores.publish.findOverdue({ before: now() + DAY, limit: 10 });
    await stores.publish.markChecked([{ deliveryId: first!.id, messageId: 'msg_1', at: now() }]);
    await stores.publish.markLost([{ deliveryId: first!.id, messageId: 'msg_1', at: now() }]);

    // The operator's reads and writes.
    const subscription = leased[0]!.subscriptionId;
    for (const status of ['pending', 'in_flight', 'retrying', 'delivered', 'dead'] as const) {
      await stores.deliveries.listDeliveries({ status, limit: 50 });
      await stores.deliveries.listDeliveries({ status, subscriptionId: subscription, limit: 50 });
    }
    const page = await stores.deliveries.listDeliveries({ limit: 2 });
    const last = page.at(-1)!;
    await stores.deliveries.listDeliveries({ limit: 2, after: { createdAt: last.createdAt, id: last.id } });
    await stores.deliveries.listDeliveries({ subscriptionId: subscription, limit: 50 });
    await stores.deliveries.listDeliveries({ type: 'order.created.v1', limit: 50 });
    await stores.deliveries.listDeliveries({ since: now() - DAY, until: now() + DAY, limit: 50 });
    await stores.deliveries.replayDeliveries({ status: 'dead', type: 'order.*' }, now());
    await stores.deliveries.replayDelivery(leased[0]!.id, now());
    await stores.deliveries.purgeDeadDeliveries({ acceptedBefore: now() + DAY, limit: 10 });
    await stores.metrics.readGauges();
    const events = await stores.eventSearch.listEvents({ limit: 2 });
    await stores.eventSearch.listEvents({ type: 'OrderCreated', limit: 2 });
    const cursor = { receivedAt: events.at(-1)!.receivedAt, id: events.at(-1)!.id };
    await stores.eventSearch.listEvents({ limit: 2, after: cursor });
    await stores.eventSearch.listEvents({ type: 'OrderCreated', limit: 2, after: cursor });
    await stores.eventSearch.countEventsSince(now() - DAY);
    expect((await mesh.get('/v1/events/e0')).status).toBe(200);
    // The event view (`GET /v1/events/:id`), with an attempt of each kind: a row, and one kept on its
    // delivery's row (0011).
    for (const id of ['e0', 'e1', 'e2']) expect((await stores.events.getEvent(id))?.id).toBe(id);
    expect((await mesh.post(orderCreated('e0'))).status).toBe(200);
    mesh.clock.advance(8 * DAY);
    await runRetentionPass(stores.retention, { before: now() - 7 * DAY });

    const scans: string[] = [];
    const plans = new Map<string, string[]>();
    for (const [sql, args] of seen) {
      if (/^\s*(PRAGMA|BEGIN|COMMIT|ROLLBACK|SELECT 1$)/i.test(sql)) continue;
      const plan = await planOf(mesh.db.driver, { sql, args });
      plans.set(sql, plan);
      const bounded = BOUNDED_SCANS.some((re) => re.test(sql));
      for (const line of plan) {
        // Only the holder's NOT EXISTS (d, ie) and the foreign key's check of the row deleted may
        // scan it; the bound itself is two lookups at the table's ends.
        if (isFullScan(line) && !(bounded && /^SCAN (d|ie|deliveries|integration_events)$/.test(line))) {
          scans.push(`${line}\n  in: ${sql.replace(/\s+/g, ' ')}`);
        }
      }
    }
    expect(plans.size).toBeGreaterThan(30);
    expect(scans).toEqual([]);

    // The partial status indexes answer the status lookups (a scan of another index would also
    // pass the check above, yet read every delivered row).
    const usesDue = (fragment: string, index: RegExp) => {
      const entry = [...plans].find(([sql]) => sql.includes(fragment));
      expect(entry, fragment).toBeDefined();
      expect(entry![1].join(' | '), fragment).toMatch(index);
    };
    usesDue("(SELECT count(*) FROM deliveries WHERE status = 'dead')", /INDEX deliveries_due \(status=\?\)/);
    usesDue("status = 'in_flight' OR status = 'retrying'", /INDEX deliveries_due/);
    usesDue('WHERE d.message_id = ?1 LIMIT 1', /INDEX deliveries_message \(message_id=\?\)/);
    usesDue(
      'ORDER BY h.rowid LIMIT 1',
      /INDEX deliveries_ordering \(subscription_ref=\? AND ordering_key=\?\)/,
    );
    usesDue(
      "UPDATE deliveries SET status = 'in_flight', lease_owner",
      /deliveries_subscription_due \(subscription_ref=\? AND status=\?/,
    );
    // A lease reads each subscription's first k due rows by (due time, rowid) in one walk of the
    // index, in the index's own order, stopping at the k-th: rows tied in due time with it (a group
    // commit's) are not all read — no sort between the walk and its LIMIT.
    const lease = [...seen].find(([sql]) =>
      sql.includes("UPDATE deliveries SET status = 'in_flight', lease_owner"),
    );
    expect(lease).toBeDefined();
    const tree = await mesh.db.driver.query(`EXPLAIN QUERY PLAN ${lease![0]}`, lease![1]);
    const walks = tree.filter((r) =>
      String(r.detail).startsWith(
        'SEARCH y USING INDEX deliveries_subscription_due (subscription_ref=? AND status=? AND next_attempt_at<?)',
      ),
    );
    expect(walks).toHaveLength(2);
    for (const walk of walks) {
      const siblings = tree.filter((r) => r.parent === walk.parent).map((r) => String(r.detail));
      expect(siblings.filter((d) => d.startsWith('USE TEMP B-TREE'))).toEqual([]);
    }
    // So does the publishing transport's lease (leaseForPublish).
    usesDue(
      'UPDATE deliveries SET lease_owner = ?1, lease_expires_at = ?2\nWHERE id IN',
      /deliveries_subscription_due \(subscription_ref=\? AND status=\? AND \(next_attempt_at,rowid\)<\(\?,\?\)\)/,
    );
    // Ids bound as text find their rows by the primary key, converted to bytes in the SQL (0008).
    const byId = /SEARCH (d|deliveries) USING INDEX sqlite_autoindex_deliveries_1 \(id=\?\)/;
    usesDue('SELECT d.id, r.number', byId);
    usesDue('FROM json_each(?1)) AND d.lease_owner = ?2', byId);
    usesDue('WHERE deliveries.id = (SELECT', byId);
    usesDue("UPDATE deliveries SET status = 'in_flight', message_id = r.message_id", byId);
    // Types by number (0009): a name is found by the unique index of `event_types`, and the events
    // of one type are still a range of their index.
    usesDue(
      'FROM domain_events\n         WHERE type_ref = (SELECT ref FROM event_types WHERE name = ?)',
      /SEARCH domain_events USING INDEX domain_events_type_received \(type_ref=\?\).*SEARCH event_types USING COVERING INDEX event_types_name_unique \(name=\?\)/,
    );
  });
});
