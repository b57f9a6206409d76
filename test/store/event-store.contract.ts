import { beforeEach, describe, expect, it } from 'vitest';
import type { EventStore } from '../../src/core/event-store.ts';
import { defineSubscription } from '../../src/core/subscription.ts';
import type { SubscriptionStore } from '../../src/core/subscription-store.ts';
import {
  domainEvent,
  exactCreated,
  exactPaid,
  type OpenHarness,
  prefixOrder,
  prefixShipment,
  RECEIVED_AT,
  rejected,
  sortedBy,
  targets,
  useHarness,
} from './store-contract-fixtures.ts';

/**
 * What every `EventStore` adapter owes the mesh: atomic, idempotent appends that make one delivery
 * per subscription matching at commit time, and the reads the API answers from.
 * @example describeEventStoreContract('libSQL file', openLibsqlHarness);
 */
export function describeEventStoreContract(name: string, open: OpenHarness): void {
  describe(`EventStore contract: ${name}`, () => {
    const h = useHarness(open);
    const { view, counts } = h;
    let store: EventStore;
    let subscriptions: SubscriptionStore;

    beforeEach(() => {
      ({ events: store, subscriptions } = h.stores);
    });

    it('answers ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    describe('appendEvents', () => {
      it('writes the event, its integration events and one delivery per matching subscription', async () => {
        await subscriptions.syncCodeSubscriptions([exactCreated, prefixOrder, exactPaid, prefixShipment], 1);
        const event = domainEvent('evt-1', ['order.created.v1', 'order.paid.v1', 'customer.updated.v1']);

        expect(await store.appendEvents([event])).toEqual({ ok: true });

        expect(await counts()).toEqual({ domain_events: 1, integration_events: 3, deliveries: 4 });
        const stored = await view('evt-1');
        expect(stored.integrationEvents.map((ie) => [ie.id, ie.type])).toEqual([
          ['evt-1/ie0', 'order.created.v1'],
          ['evt-1/ie1', 'order.paid.v1'],
          ['evt-1/ie2', 'customer.updated.v1'],
        ]);
        const [created, paid, customer] = stored.integrationEvents;
        expect(targets(created!.deliveries)).toEqual([
          ['sub-exact-created', exactCreated.url],
          ['sub-prefix-order', prefixOrder.url],
        ]);
        expect(targets(paid!.deliveries)).toEqual([
          ['sub-exact-paid', exactPaid.url],
          ['sub-prefix-order', prefixOrder.url],
        ]);
        expect(customer!.deliveries).toEqual([]);
      });

      it('matches `prefix.*` only at a dot boundary', async () => {
        await subscriptions.syncCodeSubscriptions([prefixOrder], 1);
        await store.appendEvents([
          domainEvent('evt-prefix', [
            'orders.created.v1',
            'order.v1',
            'order.line.added.v2',
            'xorder.paid.v1',
          ]),
        ]);

        const stored = await view('evt-prefix');
        expect(stored.integrationEvents.map((ie) => [ie.type, ie.deliveries.length])).toEqual([
          ['orders.created.v1', 0],
          ['order.v1', 1],
          ['order.line.added.v2', 1],
          ['xorder.paid.v1', 0],
        ]);
      });

      it('starts every delivery pending, due at once, with no attempts and the subscription URL', async () => {
        await subscriptions.syncCodeSubscriptions([exactCreated, prefixOrder], 1);
        await store.appendEvents([domainEvent('evt-new')]);

        const deliveries = (await view('evt-new')).integrationEvents[0]!.deliveries;
        expect(deliveries).toHaveLength(2);
        for (const d of deliveries) {
          expect(d.status).toBe('pending');
          expect(d.attempts).toEqual([]);
          expect(d.nextAttemptAt).toBeLessThanOrEqual(RECEIVED_AT);
          expect(typeof d.id).toBe('string');
          expect(d.id.length).toBeGreaterThan(0);
        }
        expect(new Set(deliveries.map((d) => d.id)).size).toBe(2);
      });

      it('copies the URL into the delivery: a later change of the subscription does not redirect it', async () => {
        await subscriptions.syncCodeSubscriptions([exactCreated], 1);
        await store.appendEvents([domainEvent('evt-before')]);
        const moved = defineSubscription('order.created.v1', 'https://billing-v2.example.com/hooks', {
          id: exactCreated.id,
        });
        await subscriptions.syncCodeSubscriptions([moved], 2);
        await store.appendEvents([domainEvent('evt-after')]);

        expect(targets((await view('evt-before')).integrationEvents[0]!.deliveries)).toEqual([
          [exactCreated.id, exactCreated.url],
        ]);
        expect(targets((await view('evt-after')).integrationEvents[0]!.deliveries)).toEqual([
          [exactCreated.id, 'https://billing-v2.example.com/hooks'],
        ]);
      });

      it('names the subscription of a delivery even once its row is gone (deleted by hand)', async () => {
        await subscriptions.syncCodeSubscriptions([exactCreated], 1);
        await store.appendEvents([domainEvent('evt-orphan')]);
        await h.harness.query('DELETE FROM subscriptions WHERE id = ?', [exactCreated.id]);

        expect(targets((await view('evt-orphan')).integrationEvents[0]!.deliveries)).toEqual([
          [exactCreated.id, exactCreated.url],
        ]);
      });

      it('gives a subscription synced after an event no deliveries for that event', async () => {
        await subscriptions.syncCodeSubscriptions([exactCreated], 1);
        await store.appendEvents([domainEvent('evt-early')]);
        await subscriptions.syncCodeSubscriptions([exactCreated, prefixOrder], 2);

        expect(targets((await view('evt-early')).integrationEvents[0]!.deliveries)).toEqual([
          [exactCreated.id, exactCreated.url],
        ]);
        expect(await h.harness.count('deliveries')).toBe(1);
      });

      it('writes no deliveries for an event with zero integration events', async () => {
        await subscriptions.syncCodeSubscriptions([exactCreated, prefixOrder], 1);

        expect(await store.appendEvents([domainEvent('evt-quiet', [])])).toEqual({ ok: true });

        expect(await counts()).toEqual({ domain_events: 1, integration_events: 0, deliveries: 0 });
        expect((await view('evt-quiet')).integrationEvents).toEqual([]);
      });

      it('writes deliveries only for the events that have integration events in a mixed batch', async () => {
        await subscriptions.syncCodeSubscriptions([exactCreated], 1);

        await store.appendEvents([domainEvent('evt-a', []), domainEvent('evt-b'), domainEvent('evt-c', [])]);

        expect(await counts()).toEqual({ domain_events: 3, integration_events: 1, deliveries: 1 });
      });

      it('writes nothing and names the id when the event exists already', async () => {
        await subscriptions.syncCodeSubscriptions([exactCreated], 1);
        await store.appendEvents([domainEvent('evt-dup')]);
        const before = await counts();

        const again = domainEvent('evt-dup', ['order.created.v1', 'order.paid.v1'], {
          data: JSON.stringify({ different: true }),
        });
        const result = await store.appendEvents([
          {
            ...again,
            integrationEvents: again.integrationEvents.map((ie) => ({ ...ie, id: `${ie.id}-retry` })),
          },
        ]);

        expect(result).toEqual({ ok: false, existing: ['evt-dup'] });
        expect(await counts()).toEqual(before);
        const [stored] = await store.findEvents(['evt-dup']);
        expect(stored!.data).toBe(domainEvent('evt-dup').data);
        expect(stored!.integrationEvents).toEqual([{ id: 'evt-dup/ie0', type: 'order.created.v1' }]);
      });

      it("keeps notBefore and makes the event's deliveries due then; a past one means now", async () => {
        await subscriptions.syncCodeSubscriptions([exactCreated, prefixOrder], 1);
        const later = RECEIVED_AT + 3_600_000;
        await store.appendEvents([
          domainEvent('evt-later', ['order.created.v1'], { notBefore: later }),
          domainEvent('evt-past', ['order.created.v1'], { notBefore: RECEIVED_AT - 1 }),
        ]);

        const found = sortedBy(await store.findEvents(['evt-later', 'evt-past']), (e) => e.id);
        expect(found.map((e) => e.notBefore)).toEqual([later, RECEIVED_AT - 1]);
        const due = async (id: string) =>
          (await view(id)).integrationEvents[0]!.deliveries.map((d) => [d.status, d.nextAttemptAt]);
        expect(await due('evt-later')).toEqual([
          ['pending', later],
          ['pending', later],
        ]);
        expect(await due('evt-past')).toEqual([
          ['pending', RECEIVED_AT],
          ['pending', RECEIVED_AT],
        ]);
      });

      it('is all-or-nothing: one existing id in a batch keeps the new ones out too', async () => {
        await subscriptions.syncCodeSubscriptions([exactCreated], 1);
        await store.appendEvents([domainEvent('evt-old')]);
        const before = await counts();

        const result = await store.appendEvents([
          domainEvent('evt-new-1'),
          domainEvent('evt-old', ['order.created.v1'], { data: '{"again":true}' }),
          domainEvent('evt-new-2', ['order.created.v1', 'order.paid.v1']),
        ]);

        expect(rejected(result)).toEqual(['evt-old']);
        expect(await counts()).toEqual(before);
        expect(await store.findEvents(['evt-new-1', 'evt-new-2'])).toEqual([]);
        expect(await store.getEvent('evt-new-1')).toBeNull();
      });

      it('names every existing id of a batch', async () => {
        await store.appendEvents([domainEvent('evt-x'), domainEvent('evt-y')]);

        const result = await store.appendEvents([
          domainEvent('evt-x'),
          domainEvent('evt-z'),
          domainEvent('evt-y'),
        ]);

        expect([...rejected(result)].sort()).toEqual(['evt-x', 'evt-y']);
        expect(await h.harness.count('domain_events')).toBe(2);
      });

      it('treats an empty batch as done', async () => {
        expect(await store.appendEvents([])).toEqual({ ok: true });
        expect(await counts()).toEqual({ domain_events: 0, integration_events: 0, deliveries: 0 });
      });

      it('round-trips a big batch (300 events, 2 integration events each)', async () => {
        await subscriptions.syncCodeSubscriptions([exactCreated, prefixOrder], 1);
        const events = Array.from({ length: 300 }, (_, i) =>
          domainEvent(`big-${String(i).padStart(3, '0')}`, ['order.created.v1', 'order.paid.v1']),
        );

        expect(await store.appendEvents(events)).toEqual({ ok: true });

        // order.created.v1 → exact + prefix; order.paid.v1 → prefix.
        expect(await counts()).toEqual({ domain_events: 300, integration_events: 600, deliveries: 900 });
        const found = await store.findEvents(events.map((e) => e.id));
        expect(sortedBy(found, (e) => e.id)).toEqual(
          events.map((e) => ({
            id: e.id,
            type: e.type,
            source: e.source,
            data: e.data,
            occurredAt: e.occurredAt,
            metadata: e.metadata,
            notBefore: null,
            integrationEvents: e.integrationEvents.map((ie) => ({ id: ie.id, type: ie.type })),
          })),
        );
        const last = await view('big-299');
        expect(last.integrationEvents.map((ie) => ie.deliveries.length)).toEqual([2, 1]);
      });
    });

    describe('concurrent appends (group commit)', () => {
      it('stores all of 100 appends submitted at once', async () => {
        await subscriptions.syncCodeSubscriptions([exactCreated], 1);
        const events = Array.from({ length: 100 }, (_, i) => domainEvent(`par-${i}`));

        const results = await Promise.all(events.map((e) => store.appendEvents([e])));

        expect(results).toEqual(events.map(() => ({ ok: true })));
        expect(await counts()).toEqual({ domain_events: 100, integration_events: 100, deliveries: 100 });
        expect(await store.findEvents(events.map((e) => e.id))).toHaveLength(100);
      });

      it('lets exactly one of 20 simultaneous copies of an id in, and tells the rest it exists', async () => {
        await subscriptions.syncCodeSubscriptions([exactCreated], 1);
        // Each copy carries its own integration event ids, as separate requests would.
        const copies = Array.from({ length: 20 }, (_, i) => {
          const e = domainEvent('evt-race', ['order.created.v1'], { data: JSON.stringify({ copy: i }) });
          return { ...e, integrationEvents: [{ ...e.integrationEvents[0]!, id: `evt-race/copy${i}` }] };
        });

        const results = await Promise.all(copies.map((e) => store.appendEvents([e])));

        const winners = results.flatMap((r, i) => (r.ok ? [i] : []));
        expect(winners).toHaveLength(1);
        for (const r of results) if (!r.ok) expect(r.existing).toEqual(['evt-race']);
        expect(await counts()).toEqual({ domain_events: 1, integration_events: 1, deliveries: 1 });
        const winner = copies[winners[0]!]!;
        const [stored] = await store.findEvents(['evt-race']);
        expect(stored!.data).toBe(winner.data);
        expect(stored!.integrationEvents).toEqual([
          { id: winner.integrationEvents[0]!.id, type: 'order.created.v1' },
        ]);
      });

      it('does not fail other requests because one conflicts', async () => {
        await store.appendEvents([domainEvent('evt-taken')]);

        const results = await Promise.all([
          store.appendEvents([domainEvent('evt-n1')]),
          store.appendEvents([domainEvent('evt-taken', ['order.created.v1'], { data: '{}' })]),
          store.appendEvents([domainEvent('evt-n2'), domainEvent('evt-n3')]),
          store.appendEvents([domainEvent('evt-n4', [])]),
        ]);

        expect(results).toEqual([
          { ok: true },
          { ok: false, existing: ['evt-taken'] },
          { ok: true },
          { ok: true },
        ]);
        expect(await h.harness.count('domain_events')).toBe(5);
      });
    });

    describe('findEvents', () => {
      it('returns the stored events among the ids, integration events in their order', async () => {
        // Ids chosen so that id order and position disagree.
        const event = domainEvent('evt-find', [
          { id: 'ie-z', type: 'order.created.v1' },
          { id: 'ie-a', type: 'order.paid.v1' },
          { id: 'ie-m', type: 'order.created.v1' },
        ]);
        await store.appendEvents([event, domainEvent('evt-bare', [], { occurredAt: null, metadata: null })]);

        const found = await store.findEvents(['evt-find', 'evt-unknown', 'evt-bare']);

        expect(sortedBy(found, (e) => e.id)).toEqual([
          {
            id: 'evt-bare',
            type: 'OrderCreated',
            source: 'billing',
            data: domainEvent('evt-bare').data,
            occurredAt: null,
            metadata: null,
            notBefore: null,
            integrationEvents: [],
          },
          {
            id: 'evt-find',
            type: event.type,
            source: event.source,
            data: event.data,
            occurredAt: event.occurredAt,
            metadata: event.metadata,
            notBefore: null,
            integrationEvents: [
              { id: 'ie-z', type: 'order.created.v1' },
              { id: 'ie-a', type: 'order.paid.v1' },
              { id: 'ie-m', type: 'order.created.v1' },
            ],
          },
        ]);
      });

      it('returns nothing for no ids or unknown ids', async () => {
        await store.appendEvents([domainEvent('evt-1')]);
        expect(await store.findEvents([])).toEqual([]);
        expect(await store.findEvents(['nope', 'evt-1/ie0'])).toEqual([]);
      });
    });

    describe('getEvent', () => {
      it('returns the full view: event, integration events in order, deliveries, attempts', async () => {
        await subscriptions.syncCodeSubscriptions([exactCreated, prefixOrder], 1);
        const event = domainEvent('evt-view', [
          { id: 'ie-2', type: 'order.paid.v1', data: '{"orderId":"o-1","amount":3}' },
          {
            id: 'ie-1',
            type: 'order.created.v1',
            data: '{"orderId":"o-1"}',
            time: '2026-01-15T09:30:01.000Z',
            orderingKey: 'o-1',
          },
        ]);
        await store.appendEvents([event]);

        const stored = await view('evt-view');

        expect(stored).toMatchObject({
          id: 'evt-view',
          type: 'OrderCreated',
          source: 'billing',
          receivedAt: RECEIVED_AT,
          occurredAt: '2026-01-15T09:29:59.000Z',
          data: event.data,
          metadata: event.metadata,
        });
        expect(stored.integrationEvents.map(({ deliveries: _, ...ie }) => ie)).toEqual([
          {
            id: 'ie-2',
            type: 'order.paid.v1',
            source: '/producers/billing',
            time: '2026-01-15T09:30:00.000Z',
            data: '{"orderId":"o-1","amount":3}',
            orderingKey: null,
          },
          {
            id: 'ie-1',
            type: 'order.created.v1',
            source: '/producers/billing',
            time: '2026-01-15T09:30:01.000Z',
            data: '{"orderId":"o-1"}',
            orderingKey: 'o-1',
          },
        ]);
        expect(targets(stored.integrationEvents[0]!.deliveries)).toEqual([[prefixOrder.id, prefixOrder.url]]);
        expect(targets(stored.integrationEvents[1]!.deliveries)).toEqual([
          [exactCreated.id, exactCreated.url],
          [prefixOrder.id, prefixOrder.url],
        ]);
      });

      it('keeps the payload text byte for byte', async () => {
        const data = '{ "b": 1,  "a": "\\u00e9 é 😀", "n": 1.50 }';
        await store.appendEvents([domainEvent('evt-bytes', [{ data }], { data })]);

        const stored = await view('evt-bytes');
        expect(stored.data).toBe(data);
        expect(stored.integrationEvents[0]!.data).toBe(data);
      });

      it('returns null for an unknown id', async () => {
        await store.appendEvents([domainEvent('evt-1')]);
        expect(await store.getEvent('evt-unknown')).toBeNull();
        expect(await store.getEvent('evt-1/ie0')).toBeNull();
      });
    });
  });
}
