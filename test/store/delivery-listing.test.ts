import { describe, expect, it } from 'vitest';
import type { DeliveryFilter, DeliverySummary } from '../../src/core/delivery-admin-store.ts';
import type { SqlDriver, SqlValue } from '../../src/store/sql-driver.ts';
import { createSqlStores } from '../../src/store/sql-stores.ts';
import { sqlBackends } from '../support/sql-backends.ts';
import { domainEvent, exactCreated, exactPaid, prefixOrder, RECEIVED_AT } from './store-contract-fixtures.ts';

// GET /v1/deliveries lists by (createdAt, id). Since 0010 no index of `created_at` is written by
// ingest: the listings walk the primary key instead, which is the same order because every id
// starts with its `created_at` (sql-event-inserts.ts), and `since`/`until`/the cursor are ranges of
// it; one subscription's deliveries are still a range of `deliveries_subscription_created`. Here,
// every filter paged through with small pages gives the rows a sort by (createdAt, id) gives, and
// each listing's plan is an index walk with no sort of the rows it pages through — on libSQL and
// on D1, which the Worker's admin routes use.

const T0 = RECEIVED_AT;

/** The filters an operator can combine, each paged through. */
const FILTERS: readonly DeliveryFilter[] = [
  {},
  { subscriptionId: prefixOrder.id },
  { subscriptionId: exactPaid.id, status: 'pending' },
  { type: 'order.paid.v1' },
  { type: 'order.*' },
  { since: T0, until: T0 + 5 },
  { since: T0 + 1 },
  { until: T0 },
  { since: T0 - 0.5, until: T0 + 4.5 },
  { status: 'pending' },
  { status: 'dead' },
];

function recording(driver: SqlDriver, seen: Map<string, readonly SqlValue[]>): SqlDriver {
  return {
    ...driver,
    query: (sql, args = []) => {
      if (!seen.has(sql)) seen.set(sql, args);
      return driver.query(sql, args);
    },
  };
}

/** What a filter keeps, by the summary's own fields. */
function matches(d: DeliverySummary, f: DeliveryFilter): boolean {
  if (f.status !== undefined && d.status !== f.status) return false;
  if (f.subscriptionId !== undefined && d.subscriptionId !== f.subscriptionId) return false;
  if (
    f.type !== undefined &&
    !(f.type.endsWith('.*') ? d.type.startsWith(f.type.slice(0, -1)) : d.type === f.type)
  )
    return false;
  if (f.since !== undefined && d.createdAt < f.since) return false;
  if (f.until !== undefined && d.createdAt >= f.until) return false;
  return true;
}

const byCreatedThenId = (a: DeliverySummary, b: DeliverySummary) =>
  a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

function describeListing(name: string, open: () => Promise<SqlDriver>) {
  describe(`deliveries listed by (createdAt, id) without an index of created_at: ${name}`, () => {
    it('pages through every filter in that order, and walks an index without sorting the rows', async () => {
      const driver = await open();
      const seen = new Map<string, readonly SqlValue[]>();
      const stores = createSqlStores({ driver: recording(driver, seen) });
      await stores.subscriptions.syncCodeSubscriptions([exactCreated, prefixOrder, exactPaid], 1);
      // Groups at several times, two in one millisecond, one after a clock stepped back.
      const times = [T0, T0, T0 + 1, T0 + 5, T0 - 3, T0 + 5];
      let n = 0;
      for (const at of times) {
        const group = Array.from({ length: 4 }, () => {
          n++;
          return domainEvent(`list-${n}`, [n % 3 === 0 ? 'order.paid.v1' : 'order.created.v1'], {
            receivedAt: at,
          });
        });
        expect(await stores.events.appendEvents(group)).toEqual({ ok: true });
      }
      // A few dead ones, for the status filter.
      const leased = await stores.dispatch.leaseDue({ owner: 'o', now: T0 + 10, leaseMs: 30_000, limit: 5 });
      await stores.dispatch.recordAttempts(
        leased.map((d) => ({
          deliveryId: d.id,
          owner: 'o',
          number: 1,
          at: T0 + 10,
          status: 500,
          durationMs: 1,
          error: null,
          responseExcerpt: null,
          next: 'dead' as const,
          nextAttemptAt: T0 + 10,
          retried: 0,
        })),
      );

      const all = await stores.deliveries.listDeliveries({ limit: 1000 });
      // 24 events: 16 created (two subscriptions each), 8 paid (two each).
      expect(all).toHaveLength(48);
      expect(all).toEqual([...all].sort(byCreatedThenId));
      expect(all.filter((d) => d.status === 'dead')).toHaveLength(5);

      for (const filter of FILTERS) {
        const paged: DeliverySummary[] = [];
        let after: { createdAt: number; id: string } | undefined;
        for (;;) {
          const page = await stores.deliveries.listDeliveries({
            ...filter,
            limit: 3,
            ...(after ? { after } : {}),
          });
          paged.push(...page);
          const last = page.at(-1);
          if (page.length < 3 || !last) break;
          after = { createdAt: last.createdAt, id: last.id };
        }
        const expected = all.filter((d) => matches(d, filter));
        expect(expected.length, JSON.stringify(filter)).toBeGreaterThan(0);
        expect(
          paged.map((d) => d.id),
          JSON.stringify(filter),
        ).toEqual(expected.map((d) => d.id));
      }

      // A type no event has: nothing, answered without walking the deliveries (`isTypeStored`).
      expect(await stores.deliveries.listDeliveries({ type: 'order.refunded.v1', limit: 3 })).toEqual([]);
      expect(await stores.deliveries.listDeliveries({ type: 'shipment.*', limit: 3 })).toEqual([]);

      const listings = [...seen].filter(([sql]) => /ORDER BY deliveries\.[a-z_, .]+ LIMIT \?$/.test(sql));
      expect(listings.length).toBeGreaterThanOrEqual(8);
      for (const [sql, args] of listings) {
        const plan = (await driver.query(`EXPLAIN QUERY PLAN ${sql}`, args)).map((r) => String(r.detail));
        const where = sql.slice(sql.lastIndexOf('WHERE')).replace(/\s+/g, ' ');
        const walk = plan.find((line) => /^(SCAN|SEARCH) deliveries\b/.test(line));
        const bySubscription = sql.includes('deliveries.subscription_ref = (SELECT');
        if (/deliveries\.status = \?/.test(sql) && !bySubscription) {
          // A status's rows: the partial status index, then a sort of those (not delivered) rows.
          expect(walk, where).toMatch(/USING INDEX deliveries_due \(status=\?\)/);
        } else if (bySubscription) {
          expect(walk, where).toMatch(/USING INDEX deliveries_subscription_created \(subscription_ref=\?/);
          expect(plan.join(' | '), where).not.toMatch(/TEMP B-TREE FOR ORDER BY/);
        } else {
          expect(walk, where).toMatch(/USING INDEX sqlite_autoindex_deliveries_1/);
          expect(plan.join(' | '), where).not.toMatch(/TEMP B-TREE/);
          // A cursor or a time range is a range of it, not a filter of a walk from the start.
          if (/deliveries\.id > |deliveries\.id >= unhex/.test(sql)) expect(walk, where).toMatch(/\(id>\?/);
        }
      }
    });
  });
}

for (const backend of sqlBackends()) describeListing(backend.name, backend.open);
