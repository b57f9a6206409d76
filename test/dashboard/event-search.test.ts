import { beforeEach, describe, expect, it } from 'vitest';
import type { EventSearch } from '../../src/core/event-search.ts';
import type { EventStore, NewDomainEvent } from '../../src/core/event-store.ts';
import { defineSubscription } from '../../src/core/subscription.ts';
import type { SubscriptionStore } from '../../src/core/subscription-store.ts';
import type { SqlDriver } from '../../src/store/sql-driver.ts';
import { createSqlStores } from '../../src/store/sql-stores.ts';
import { sqlBackends } from '../support/sql-backends.ts';

// The EventSearch port (the dashboard's events page and overview), one suite run against every
// SQL adapter: libSQL on a file, and D1 as workerd runs it.

interface Harness {
  readonly search: EventSearch;
  readonly events: EventStore;
  readonly subscriptions: SubscriptionStore;
  readonly query: (sql: string) => Promise<Record<string, unknown>[]>;
}

const T0 = Date.UTC(2026, 0, 15, 9, 0, 0);

function event(
  id: string,
  type: string,
  receivedAt: number,
  integrationTypes: readonly string[],
): NewDomainEvent {
  return {
    id,
    type,
    source: 'shop',
    data: '{}',
    occurredAt: null,
    metadata: null,
    traceparent: null,
    receivedAt,
    integrationEvents: integrationTypes.map((t, n) => ({
      id: `${id}/ie${n}`,
      type: t,
      source: '/producers/shop',
      time: new Date(receivedAt).toISOString(),
      data: '{}',
    })),
  };
}

function describeEventSearch(name: string, open: () => Promise<SqlDriver>) {
  describe(`EventSearch on ${name}`, () => {
    let h: Harness;
    beforeEach(async () => {
      const driver = await open();
      const stores = createSqlStores({ driver });
      h = {
        search: stores.eventSearch,
        events: stores.events,
        subscriptions: stores.subscriptions,
        query: (sql) => driver.query(sql),
      };
      await h.subscriptions.syncCodeSubscriptions(
        [
          defineSubscription('order.*', 'https://a.example.com/hooks', { id: 'sub-a' }),
          defineSubscription('order.placed.v1', 'https://b.example.com/hooks', { id: 'sub-b' }),
        ],
        T0,
      );
    });

    it('lists events newest first, with their deliveries counted by status', async () => {
      await h.events.appendEvents([
        event('e-1', 'OrderPlaced', T0 + 1000, ['order.placed.v1']),
        event('e-2', 'OrderPaid', T0 + 2000, ['order.paid.v1', 'order.audited.v1']),
        event('e-3', 'Unrouted', T0 + 3000, []),
      ]);
      await h.query(
        "UPDATE deliveries SET status = 'dead' WHERE subscription_ref = (SELECT ref FROM subscription_refs WHERE id = 'sub-b')",
      );
      const page = await h.search.listEvents({ limit: 10 });
      expect(page).toEqual([
        {
          id: 'e-3',
          type: 'Unrouted',
          source: 'shop',
          receivedAt: T0 + 3000,
          integrationEvents: 0,
          deliveries: {},
        },
        {
          id: 'e-2',
          type: 'OrderPaid',
          source: 'shop',
          receivedAt: T0 + 2000,
          integrationEvents: 2,
          deliveries: { pending: 2 },
        },
        {
          id: 'e-1',
          type: 'OrderPlaced',
          source: 'shop',
          receivedAt: T0 + 1000,
          integrationEvents: 1,
          deliveries: { pending: 1, dead: 1 },
        },
      ]);
    });

    it('pages by cursor without skipping or repeating events received in the same millisecond', async () => {
      const batch = Array.from({ length: 25 }, (_, i) =>
        event(
          `e-${String(i).padStart(2, '0')}`,
          i % 2 === 0 ? 'OrderPlaced' : 'OrderPaid',
          T0 + Math.floor(i / 5),
          [],
        ),
      );
      await h.events.appendEvents(batch);
      const seen: string[] = [];
      let after: { receivedAt: number; id: string } | undefined;
      for (;;) {
        const page = await h.search.listEvents({ limit: 7, ...(after ? { after } : {}) });
        seen.push(...page.map((e) => e.id));
        const last = page[page.length - 1];
        if (page.length < 7 || !last) break;
        after = { receivedAt: last.receivedAt, id: last.id };
      }
      expect(seen).toEqual(
        [...batch].sort((a, b) => b.receivedAt - a.receivedAt || (a.id < b.id ? 1 : -1)).map((e) => e.id),
      );

      const paid = await h.search.listEvents({ type: 'OrderPaid', limit: 100 });
      expect(paid.map((e) => e.id)).toEqual(
        batch
          .filter((e) => e.type === 'OrderPaid')
          .map((e) => e.id)
          .reverse(),
      );
    });

    it('counts the events received since a time', async () => {
      await h.events.appendEvents([
        event('old', 'OrderPlaced', T0 - 3_600_001, []),
        event('edge', 'OrderPlaced', T0 - 3_600_000, []),
        event('new', 'OrderPlaced', T0, []),
      ]);
      await expect(h.search.countEventsSince(T0 - 3_600_000)).resolves.toBe(2);
      await expect(h.search.countEventsSince(T0 + 1)).resolves.toBe(0);
    });

    it('reads a page from the received_at index, not by scanning the table', async () => {
      const plan = await h.query(
        "EXPLAIN QUERY PLAN SELECT id FROM domain_events WHERE received_at <= 5 AND (received_at < 5 OR id < 'x') ORDER BY received_at DESC, id DESC LIMIT 51",
      );
      expect(plan.map((r) => String(r.detail)).join('\n')).toMatch(
        /USING (COVERING )?INDEX domain_events_received_at/,
      );
      const count = await h.query(
        'EXPLAIN QUERY PLAN SELECT count(*) FROM domain_events WHERE received_at >= 5',
      );
      expect(count.map((r) => String(r.detail)).join('\n')).toMatch(/INDEX domain_events_received_at/);
    });
  });
}

for (const backend of sqlBackends()) describeEventSearch(backend.name, backend.open);
