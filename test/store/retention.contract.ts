import { beforeEach, describe, expect, it } from 'vitest';
import type { DeliveryAdminStore } from '../../src/core/delivery-admin-store.ts';
import type { AttemptRecord, DispatchQueue } from '../../src/core/dispatch-queue.ts';
import type { EventStore } from '../../src/core/event-store.ts';
import { type RetentionStore, runRetentionPass } from '../../src/core/retention.ts';
import { defineSubscription } from '../../src/core/subscription.ts';
import {
  domainEvent,
  exactCreated,
  type OpenHarness,
  prefixOrder,
  RECEIVED_AT,
  useHarness,
} from './store-contract-fixtures.ts';

const DAY = 86_400_000;
const T0 = RECEIVED_AT;
const CUTOFF = T0 + DAY;

/** Two subscriptions with room for every delivery of a test at once. */
const exact = defineSubscription(exactCreated.type, exactCreated.url, {
  id: exactCreated.id,
  maxConcurrency: 1000,
});
const prefix = defineSubscription(prefixOrder.type, prefixOrder.url, {
  id: prefixOrder.id,
  maxConcurrency: 1000,
});

type Outcome = 'delivered' | 'dead' | 'retrying';

/**
 * What every adapter owes retention and the operator's purge: settled events past the cutoff go
 * whole (integration events, deliveries, attempts), in batches; held events stay whole; dead
 * deliveries go only when asked, taking their event once nothing of it remains.
 * @example describeRetentionContract('libSQL file', openLibsqlHarness);
 */
export function describeRetentionContract(name: string, open: OpenHarness): void {
  describe(`Retention contract: ${name}`, () => {
    const h = useHarness(open);
    let events: EventStore;
    let dispatch: DispatchQueue;
    let retention: RetentionStore;
    let deliveries: DeliveryAdminStore;

    beforeEach(async () => {
      ({ events, dispatch, retention, deliveries } = h.stores);
      await h.stores.subscriptions.syncCodeSubscriptions([exact, prefix], 1);
    });

    /** Leases everything due by `now`, then settles each delivery: `outcomes[eventId][subscriptionId]`. */
    const settle = async (now: number, outcomes: Record<string, Record<string, Outcome>>, at = now) => {
      const leased = await dispatch.leaseDue({ owner: 'o', now, leaseMs: 1000, limit: 1000 });
      const records: AttemptRecord[] = [];
      for (const d of leased) {
        const next = outcomes[d.event.id.split('/')[0]!]?.[d.subscriptionId];
        if (next === undefined) continue;
        records.push({
          deliveryId: d.id,
          owner: 'o',
          number: 1,
          at,
          status: next === 'delivered' ? 200 : 500,
          durationMs: 1,
          error: null,
          responseExcerpt: null,
          next,
          nextAttemptAt: next === 'retrying' ? at + 60_000 : at,
          retried: next === 'retrying' ? 1 : 0,
        });
      }
      await dispatch.recordAttempts(records);
    };
    const exists = async (id: string) => (await events.getEvent(id)) !== null;
    const count = (table: string) => h.harness.count(table);

    it('purges settled events past the cutoff whole, in batches; held and recent events stay whole', async () => {
      const bulk = Array.from({ length: 7 }, (_, i) => `bulk-${i}`);
      await events.appendEvents([
        domainEvent('all-delivered'),
        domainEvent('one-dead'),
        domainEvent('pending'),
        domainEvent('retrying'),
        domainEvent('no-deliveries', ['shipment.sent.v1']),
        domainEvent('late-delivered'),
        ...bulk.map((id) => domainEvent(id)),
        domainEvent('recent', undefined, { receivedAt: CUTOFF + 1 }),
      ]);
      const both: Record<string, Outcome> = { [exact.id]: 'delivered', [prefix.id]: 'delivered' };
      await settle(
        CUTOFF + 1,
        {
          'all-delivered': both,
          'one-dead': { [exact.id]: 'delivered', [prefix.id]: 'dead' },
          retrying: { [exact.id]: 'delivered', [prefix.id]: 'retrying' },
          recent: both,
          ...Object.fromEntries(bulk.map((id) => [id, both])),
        },
        T0 + 10,
      );
      // Delivered only after the cutoff: kept for the window, so the success stays visible.
      const leased = await dispatch.leaseDue({ owner: 'p', now: CUTOFF + 2000, leaseMs: 1000, limit: 1000 });
      await dispatch.recordAttempts(
        leased
          .filter((d) => d.event.id.startsWith('late-delivered/'))
          .map((d) => ({
            deliveryId: d.id,
            owner: 'p',
            number: 1,
            at: CUTOFF + 5,
            status: 200,
            durationMs: 1,
            error: null,
            responseExcerpt: null,
            next: 'delivered' as const,
            nextAttemptAt: CUTOFF + 5,
            retried: 0,
          })),
      );
      const attemptsBefore = await count('attempt_log');

      const removed = await runRetentionPass(retention, { before: CUTOFF, batch: 3 });

      expect(removed).toMatchObject({
        events: 9,
        integrationEvents: 9,
        deliveries: 16,
        attempts: 16,
        done: true,
      });
      for (const id of ['all-delivered', 'no-deliveries', ...bulk]) expect(await exists(id)).toBe(false);
      for (const id of ['one-dead', 'pending', 'retrying', 'late-delivered', 'recent']) {
        expect(await exists(id)).toBe(true);
      }
      expect((await events.getEvent('one-dead'))!.integrationEvents[0]!.deliveries).toHaveLength(2);
      expect(await count('domain_events')).toBe(5);
      expect(await count('integration_events')).toBe(5);
      expect(await count('deliveries')).toBe(10);
      expect(await count('attempt_log')).toBe(attemptsBefore - 16);

      // A second pass finds nothing; an id past the window is accepted again as a new event.
      expect(await runRetentionPass(retention, { before: CUTOFF, batch: 3 })).toMatchObject({ events: 0 });
      expect((await events.appendEvents([domainEvent('all-delivered')])).ok).toBe(true);
      expect((await events.appendEvents([domainEvent('one-dead')])).ok).toBe(false);
    });

    it('stops a pass after maxBatches and resumes where the next pass starts', async () => {
      await events.appendEvents(
        Array.from({ length: 5 }, (_, i) => domainEvent(`quiet-${i}`, ['shipment.sent.v1'])),
      );
      expect(await runRetentionPass(retention, { before: CUTOFF, batch: 2, maxBatches: 1 })).toMatchObject({
        events: 2,
        done: false,
      });
      expect(await runRetentionPass(retention, { before: CUTOFF, batch: 2 })).toMatchObject({
        events: 3,
        done: true,
      });
      expect(await count('domain_events')).toBe(0);
    });

    const names = async (sql: string) => (await h.harness.query(sql)).map((r) => String(r.v)).sort();

    it('prunes the event types, endpoints and subscription numbers nothing refers to any more', async () => {
      await events.appendEvents([
        // A type pair no later event uses, and no subscription takes: the event has no delivery.
        domainEvent('retired', ['shipment.sent.v1'], { type: 'OrderRetired' }),
        domainEvent('old'),
      ]);
      await settle(T0 + 10, { old: { [exact.id]: 'delivered', [prefix.id]: 'delivered' } });
      // The exact subscription moves: its old URL is held only by the old event's delivery.
      const moved = defineSubscription(exact.type, 'https://billing.example.com/hooks/moved', {
        id: exact.id,
        maxConcurrency: 1000,
      });
      await h.stores.subscriptions.syncCodeSubscriptions([moved, prefix], 2);
      await events.appendEvents([domainEvent('recent', undefined, { receivedAt: CUTOFF + 1 })]);
      // A number no subscription row or delivery holds (as 0008 left for subscriptions gone before it).
      await h.harness.query("INSERT INTO subscription_refs (id) VALUES ('sub-gone')");

      const removed = await runRetentionPass(retention, { before: CUTOFF, batch: 3 });

      expect(removed).toMatchObject({
        events: 2,
        eventTypes: 2,
        endpoints: 1,
        subscriptionRefs: 1,
        done: true,
      });
      expect(await names('SELECT name AS v FROM event_types')).toEqual(['OrderCreated', 'order.created.v1']);
      expect(await names('SELECT url AS v FROM endpoints')).toEqual([moved.url, prefix.url].sort());
      expect(await names('SELECT id AS v FROM subscription_refs')).toEqual([exact.id, prefix.id].sort());
      const recent = await events.getEvent('recent');
      expect(recent!.integrationEvents[0]!.deliveries.map((d) => d.url).sort()).toEqual(
        [moved.url, prefix.url].sort(),
      );
      // Its types come back with the next event that uses them, this store's memory of them too.
      const again = domainEvent('retired-again', ['shipment.sent.v1'], {
        type: 'OrderRetired',
        receivedAt: CUTOFF + 2,
      });
      expect((await events.appendEvents([again])).ok).toBe(true);
      const stored = await events.getEvent('retired-again');
      expect(stored).toMatchObject({ type: 'OrderRetired' });
      expect(stored!.integrationEvents.map((ie) => ie.type)).toEqual(['shipment.sent.v1']);
    });

    it('keeps endpoints and types while the tables that would hold them are large, and what is held', async () => {
      await events.appendEvents([
        domainEvent('gone', ['shipment.sent.v1']),
        domainEvent('recent', undefined, { receivedAt: CUTOFF + 1 }),
      ]);
      expect(await retention.purge({ before: CUTOFF, limit: 10 })).toMatchObject({ events: 1 });
      const types = () => names('SELECT name AS v FROM event_types');
      const all = ['OrderCreated', 'order.created.v1', 'shipment.sent.v1'];
      expect(await types()).toEqual(all);

      // With no room for even the one integration event left (`recent`'s), types stay; with room, the
      // one nothing holds goes.
      expect(await retention.prune({ limit: 10, holderRows: 0 })).toEqual({
        eventTypes: 0,
        endpoints: 0,
        subscriptionRefs: 0,
      });
      expect(await types()).toEqual(all);
      expect(await retention.prune({ limit: 10, holderRows: 1 })).toMatchObject({ eventTypes: 1 });
      // The pending event's types stay: a domain event and an integration event hold them.
      expect(await types()).toEqual(['OrderCreated', 'order.created.v1']);
    });

    it('purges dead deliveries accepted before the cutoff, bounded per call, and the events left empty', async () => {
      await events.appendEvents([
        domainEvent('dead-alone', ['order.refunded.v1']),
        domainEvent('dead-beside-delivered'),
        domainEvent('dead-late', ['order.refunded.v1'], { receivedAt: T0 + 5000 }),
        domainEvent('retrying', ['order.refunded.v1']),
      ]);
      await settle(T0 + 5000, {
        'dead-alone': { [prefix.id]: 'dead' },
        'dead-beside-delivered': { [exact.id]: 'delivered', [prefix.id]: 'dead' },
        'dead-late': { [prefix.id]: 'dead' },
        retrying: { [prefix.id]: 'retrying' },
      });

      expect(await deliveries.purgeDeadDeliveries({ acceptedBefore: T0 + 1000, limit: 1 })).toEqual({
        purged: 1,
        more: true,
      });
      expect(await deliveries.purgeDeadDeliveries({ acceptedBefore: T0 + 1000, limit: 10 })).toEqual({
        purged: 1,
        more: false,
      });
      expect(await exists('dead-alone')).toBe(false);
      const beside = await events.getEvent('dead-beside-delivered');
      expect(beside!.integrationEvents[0]!.deliveries.map((d) => d.status)).toEqual(['delivered']);
      expect(await exists('dead-late')).toBe(true);
      expect(await exists('retrying')).toBe(true);
      expect(await count('deliveries')).toBe(3);
      expect(await count('attempt_log')).toBe(3);
      // What remains of the half-dead event is now settled: retention takes it past the window.
      expect(await runRetentionPass(retention, { before: CUTOFF })).toMatchObject({ events: 1 });
    });
  });
}
