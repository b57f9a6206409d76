import { beforeEach, describe, expect, it } from 'vitest';
import type { EventStore } from '../../src/core/event-store.ts';
import { defineSubscription } from '../../src/core/subscription.ts';
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
  });
}
