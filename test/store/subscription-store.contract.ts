import { beforeEach, describe, expect, it } from 'vitest';
import type { EventStore } from '../../src/core/event-store.ts';
import { defineSubscription } from '../../src/core/subscription.ts';
import type { SubscriptionFilter } from '../../src/core/subscription-filter.ts';
import type { SubscriptionStore } from '../../src/core/subscription-store.ts';
import {
  domainEvent,
  exactCreated,
  type OpenHarness,
  prefixOrder,
  targets,
  useHarness,
} from './store-contract-fixtures.ts';

/**
 * What every subscription store owes the mesh: the sync of code-declared subscriptions (seen
 * through the deliveries events then get), and the operational state an operator sets — pause and
 * `maxConcurrency` — which the sync leaves alone.
 * @example describeSubscriptionStoreContract('libSQL file', openLibsqlHarness);
 */
export function describeSubscriptionStoreContract(name: string, open: OpenHarness): void {
  describe(`SubscriptionStore contract: ${name}`, () => {
    const h = useHarness(open);
    const { view } = h;
    let events: EventStore;
    let subscriptions: SubscriptionStore;

    beforeEach(() => {
      ({ events, subscriptions } = h.stores);
    });

    describe('syncCodeSubscriptions', () => {
      it('upserts: declaring the same id again changes its type, URL and policy', async () => {
        await subscriptions.syncCodeSubscriptions([exactCreated], 1);
        const changed = defineSubscription('order.paid.v1', 'https://billing.example.com/hooks/paid', {
          id: exactCreated.id,
        });
        await subscriptions.syncCodeSubscriptions([changed], 2);
        await events.appendEvents([domainEvent('evt-up', ['order.created.v1', 'order.paid.v1'])]);

        expect(await h.harness.count('subscriptions')).toBe(1);
        const [created, paid] = (await view('evt-up')).integrationEvents;
        expect(created!.deliveries).toEqual([]);
        expect(targets(paid!.deliveries)).toEqual([
          [exactCreated.id, 'https://billing.example.com/hooks/paid'],
        ]);
      });

      it('retires code subscriptions no longer declared: they match nothing new', async () => {
        await subscriptions.syncCodeSubscriptions([exactCreated, prefixOrder], 1);
        await events.appendEvents([domainEvent('evt-before')]);
        await subscriptions.syncCodeSubscriptions([exactCreated], 2);
        await events.appendEvents([domainEvent('evt-after')]);

        expect(targets((await view('evt-after')).integrationEvents[0]!.deliveries)).toEqual([
          [exactCreated.id, exactCreated.url],
        ]);
        // Retired, not erased: deliveries made before still name their subscription.
        expect(targets((await view('evt-before')).integrationEvents[0]!.deliveries)).toEqual([
          [exactCreated.id, exactCreated.url],
          [prefixOrder.id, prefixOrder.url],
        ]);
      });

      it('retires every code subscription when none is declared, and revives one declared again', async () => {
        await subscriptions.syncCodeSubscriptions([exactCreated, prefixOrder], 1);
        await subscriptions.syncCodeSubscriptions([], 2);
        await events.appendEvents([domainEvent('evt-none')]);
        await subscriptions.syncCodeSubscriptions([prefixOrder], 3);
        await events.appendEvents([domainEvent('evt-back')]);

        expect((await view('evt-none')).integrationEvents[0]!.deliveries).toEqual([]);
        expect(targets((await view('evt-back')).integrationEvents[0]!.deliveries)).toEqual([
          [prefixOrder.id, prefixOrder.url],
        ]);
      });

      it('takes maxConcurrency from the definition, and leaves a pause alone', async () => {
        await subscriptions.syncCodeSubscriptions([exactCreated], 1);
        await subscriptions.updateSubscription(exactCreated.id, { paused: true }, 2);
        const narrowed = defineSubscription(exactCreated.type, exactCreated.url, {
          id: exactCreated.id,
          maxConcurrency: 4,
        });
        await subscriptions.syncCodeSubscriptions([narrowed], 3);

        expect(await subscriptions.getSubscription(exactCreated.id)).toMatchObject({
          origin: 'code',
          maxConcurrency: 4,
          pausedAt: 2,
          pausedReason: 'manual',
          updatedAt: 3,
        });
      });

      it('is idempotent', async () => {
        await subscriptions.syncCodeSubscriptions([exactCreated, prefixOrder], 1);
        await subscriptions.syncCodeSubscriptions([exactCreated, prefixOrder], 2);
        await events.appendEvents([domainEvent('evt-1')]);

        expect(await h.harness.count('subscriptions')).toBe(2);
        expect(await h.harness.count('deliveries')).toBe(2);
      });
    });

    describe('pause and maxConcurrency', () => {
      const created = (fields: { paused?: boolean; maxConcurrency?: number; pauseAfter?: number } = {}) =>
        subscriptions.createSubscription({
          id: 'sub-api',
          type: 'order.*',
          url: 'https://hooks.example.com/',
          retries: 3,
          retryDelay: null,
          maxConcurrency: fields.maxConcurrency ?? 16,
          pauseAfter: fields.pauseAfter ?? 50,
          paused: fields.paused ?? false,
          now: 10,
        });

      it('creates active or paused, with its maxConcurrency', async () => {
        expect(await created({ maxConcurrency: 5 })).toMatchObject({
          origin: 'api',
          maxConcurrency: 5,
          pausedAt: null,
          pausedReason: null,
        });
        await subscriptions.deleteSubscription('sub-api', 11);
        await h.harness.query("DELETE FROM subscriptions WHERE id = 'sub-api'");
        expect(await created({ paused: true })).toMatchObject({ pausedAt: 10, pausedReason: 'manual' });
      });

      it('pauses once (a second pause keeps the first time), resumes, and changes maxConcurrency', async () => {
        await created();

        expect(await subscriptions.updateSubscription('sub-api', { paused: true }, 20)).toMatchObject({
          pausedAt: 20,
          pausedReason: 'manual',
          updatedAt: 20,
        });
        expect(await subscriptions.updateSubscription('sub-api', { paused: true }, 30)).toMatchObject({
          pausedAt: 20,
          updatedAt: 30,
        });
        expect(
          await subscriptions.updateSubscription('sub-api', { paused: false, maxConcurrency: 2 }, 40),
        ).toMatchObject({ pausedAt: null, pausedReason: null, maxConcurrency: 2, updatedAt: 40 });
        expect((await subscriptions.listSubscriptions()).map((s) => [s.id, s.pausedAt])).toEqual([
          ['sub-api', null],
        ]);
      });

      it('keeps pauseAfter: given at creation, changed by a patch', async () => {
        expect(await created({ pauseAfter: 0 })).toMatchObject({ pauseAfter: 0 });
        expect(await subscriptions.updateSubscription('sub-api', { pauseAfter: 3 }, 20)).toMatchObject({
          pauseAfter: 3,
        });
        expect(await subscriptions.getSubscription('sub-api')).toMatchObject({ pauseAfter: 3 });
      });

      it('a paused subscription still gets deliveries for new events (held, not dropped)', async () => {
        await created({ paused: true });
        await events.appendEvents([domainEvent('evt-held')]);

        expect(targets((await view('evt-held')).integrationEvents[0]!.deliveries)).toEqual([
          ['sub-api', 'https://hooks.example.com/'],
        ]);
      });
    });

    describe('filters', () => {
      const eur = { currency: 'EUR' };
      /** An event whose one order.created.v1 carries `data`. */
      const withData = (id: string, data: Record<string, unknown>) =>
        domainEvent(id, [{ data: JSON.stringify(data) }]);
      const deliveredTo = async (id: string) =>
        (await view(id)).integrationEvents[0]!.deliveries.map((d) => d.subscriptionId).sort();
      const create = (store: SubscriptionStore, id: string, filter: SubscriptionFilter | null) =>
        store.createSubscription({
          id,
          type: 'order.*',
          url: `https://${id}.example.com/`,
          retries: 3,
          retryDelay: null,
          maxConcurrency: 16,
          pauseAfter: 50,
          paused: false,
          filter,
          now: 10,
        });

      it('keeps the filter: created, read, listed, changed, removed', async () => {
        expect(await create(subscriptions, 'sub-f', { total: { $gt: 10 } })).toMatchObject({
          filter: { total: { $gt: 10 } },
        });
        expect(await subscriptions.getSubscription('sub-f')).toMatchObject({
          filter: { total: { $gt: 10 } },
        });
        expect(await subscriptions.updateSubscription('sub-f', { filter: eur }, 20)).toMatchObject({
          filter: eur,
        });
        expect((await subscriptions.listSubscriptions()).map((x) => x.filter)).toEqual([eur]);
        expect(await subscriptions.updateSubscription('sub-f', { filter: null }, 30)).toMatchObject({
          filter: null,
        });
        expect(await create(subscriptions, 'sub-plain', null)).toMatchObject({ filter: null });
      });

      it('gives a filtered subscription deliveries only for matching events', async () => {
        await create(subscriptions, 'sub-eur', eur);
        await create(subscriptions, 'sub-gold', { customer: { tier: 'gold' }, total: { $gte: 100 } });
        await create(subscriptions, 'sub-all', null);

        await events.appendEvents([
          withData('evt-eur', { currency: 'EUR', total: 5 }),
          withData('evt-usd-gold', { currency: 'USD', total: 100, customer: { tier: 'gold' } }),
          withData('evt-none', { currency: 'USD', total: 500 }),
        ]);

        expect(await deliveredTo('evt-eur')).toEqual(['sub-all', 'sub-eur']);
        expect(await deliveredTo('evt-usd-gold')).toEqual(['sub-all', 'sub-gold']);
        expect(await deliveredTo('evt-none')).toEqual(['sub-all']);
      });

      it('applies the filters of code-declared subscriptions, and a changed one at the next sync', async () => {
        const declared = (filter?: SubscriptionFilter) =>
          defineSubscription('order.created.v1', 'https://code.example.com/', {
            id: 'sub-code',
            ...(filter ? { filter } : {}),
          });
        await subscriptions.syncCodeSubscriptions([declared(eur)], 1);
        await events.appendEvents([withData('evt-1', { currency: 'USD' }), withData('evt-2', eur)]);
        await subscriptions.syncCodeSubscriptions([declared({ currency: 'USD' })], 2);
        await events.appendEvents([withData('evt-3', { currency: 'USD' }), withData('evt-4', eur)]);
        await subscriptions.syncCodeSubscriptions([declared()], 3);
        await events.appendEvents([withData('evt-5', { currency: 'GBP' })]);

        expect(await deliveredTo('evt-1')).toEqual([]);
        expect(await deliveredTo('evt-2')).toEqual(['sub-code']);
        expect(await deliveredTo('evt-3')).toEqual(['sub-code']);
        expect(await deliveredTo('evt-4')).toEqual([]);
        expect(await deliveredTo('evt-5')).toEqual(['sub-code']);
      });

      it('applies a filter created, changed, removed or deleted through another instance', async () => {
        const peer = await h.harness.openPeer();
        // This instance has read the (empty) set of filtered subscriptions: its snapshot is cached.
        await events.appendEvents([withData('evt-0', eur)]);

        await create(peer.subscriptions, 'sub-eur', eur);
        await events.appendEvents([withData('evt-1', eur), withData('evt-2', { currency: 'USD' })]);
        expect(await deliveredTo('evt-1')).toEqual(['sub-eur']);
        expect(await deliveredTo('evt-2')).toEqual([]);

        await peer.subscriptions.updateSubscription('sub-eur', { filter: { currency: 'USD' } }, 20);
        await events.appendEvents([withData('evt-3', eur), withData('evt-4', { currency: 'USD' })]);
        expect(await deliveredTo('evt-3')).toEqual([]);
        expect(await deliveredTo('evt-4')).toEqual(['sub-eur']);

        await peer.subscriptions.updateSubscription('sub-eur', { filter: null }, 30);
        await events.appendEvents([withData('evt-5', { currency: 'GBP' })]);
        expect(await deliveredTo('evt-5')).toEqual(['sub-eur']);

        await peer.subscriptions.updateSubscription('sub-eur', { filter: eur }, 40);
        await events.appendEvents([withData('evt-6', eur)]);
        await peer.subscriptions.deleteSubscription('sub-eur', 50);
        await events.appendEvents([withData('evt-7', eur)]);
        expect(await deliveredTo('evt-6')).toEqual(['sub-eur']);
        expect(await deliveredTo('evt-7')).toEqual([]);

        // …and the other way round: the peer's cached snapshot is stale too.
        await peer.events.appendEvents([withData('evt-8', eur)]);
        await create(subscriptions, 'sub-usd', { currency: 'USD' });
        await peer.events.appendEvents([withData('evt-9', { currency: 'USD' }), withData('evt-10', eur)]);
        expect(await deliveredTo('evt-8')).toEqual([]);
        expect(await deliveredTo('evt-9')).toEqual(['sub-usd']);
        expect(await deliveredTo('evt-10')).toEqual([]);
      });

      it('writes every request of a group once when the snapshot went stale under it', async () => {
        const peer = await h.harness.openPeer();
        await events.appendEvents([withData('evt-0', eur)]);
        await create(peer.subscriptions, 'sub-eur', eur);

        const results = await Promise.all(
          ['evt-a', 'evt-b', 'evt-c'].map((id, i) =>
            events.appendEvents([withData(id, i === 1 ? { currency: 'USD' } : eur)]),
          ),
        );

        expect(results).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
        expect(await deliveredTo('evt-a')).toEqual(['sub-eur']);
        expect(await deliveredTo('evt-b')).toEqual([]);
        expect(await deliveredTo('evt-c')).toEqual(['sub-eur']);
        expect(await h.harness.count('domain_events')).toBe(4);
      });

      it('leaves snapshots valid when only operational state changes (pause, failures)', async () => {
        await create(subscriptions, 'sub-eur', eur);
        const revision = async () =>
          (await h.harness.query('SELECT revision FROM subscription_revision'))[0]?.revision;
        const before = await revision();
        await subscriptions.updateSubscription(
          'sub-eur',
          { paused: true, retries: 5, maxConcurrency: 2 },
          20,
        );
        await subscriptions.updateSubscription('sub-eur', { paused: false }, 21);
        await h.harness.query("UPDATE subscriptions SET consecutive_failures = 3 WHERE id = 'sub-eur'");
        await create(subscriptions, 'sub-plain', null);
        expect(await revision()).toBe(before);

        await subscriptions.updateSubscription('sub-eur', { type: 'order.created.v1' }, 30);
        expect(await revision()).not.toBe(before);
      });
    });
  });
}
