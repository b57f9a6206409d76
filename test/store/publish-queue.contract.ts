import { beforeEach, describe, expect, it } from 'vitest';
import { type CallbackReport, settleCallback } from '../../src/core/callback-outcome.ts';
import type { DeliveryView, EventStore } from '../../src/core/event-store.ts';
import type { LeasedForPublish, PublishQueue } from '../../src/core/publish-queue.ts';
import { defaultRetryDelayMs } from '../../src/core/retry-policy.ts';
import type { SubscriptionStore } from '../../src/core/subscription-store.ts';
import { describeOverduePublishContract } from './publish-overdue.contract.ts';
import {
  domainEvent,
  exactCreated,
  type OpenHarness,
  prefixOrder,
  RECEIVED_AT,
  sortedBy,
  useHarness,
} from './store-contract-fixtures.ts';

/**
 * What every `PublishQueue` adapter owes a publishing transport (QStash): leases for publishing,
 * publishes and failures recorded only by the lease holder, callbacks applied without moving back.
 * @example describePublishQueueContract('libSQL file', openLibsqlHarness);
 */
export function describePublishQueueContract(name: string, open: OpenHarness): void {
  describeOverduePublishContract(name, open);
  describe(`PublishQueue contract: ${name}`, () => {
    const h = useHarness(open);
    const { view } = h;
    let events: EventStore;
    let subscriptions: SubscriptionStore;
    let publish: PublishQueue;

    beforeEach(() => {
      ({ events, subscriptions, publish } = h.stores);
    });

    describe('publishing transports (leaseForPublish, markPublished, markPublishFailed, callbacks)', () => {
      const LEASE_MS = 30_000;
      const T0 = RECEIVED_AT;

      const lease = (owner: string, now = T0, limit = 1000) =>
        publish.leaseForPublish({ owner, now, leaseMs: LEASE_MS, limit });

      /** The deliveries of an event's first integration event, by subscription id. */
      const deliveriesOf = async (eventId: string): Promise<Record<string, DeliveryView>> =>
        Object.fromEntries(
          (await view(eventId)).integrationEvents[0]!.deliveries.map((d) => [d.subscriptionId, d] as const),
        );

      /** Leases and publishes everything due, each under message id `msg-<delivery id>`. */
      const publishAll = async (now = T0) => {
        const leased = await lease('publisher', now);
        await publish.markPublished(
          leased.map((d) => ({
            deliveryId: d.id,
            owner: 'publisher',
            generation: d.generation,
            messageId: `msg-${d.id}`,
            at: now,
          })),
        );
        return leased;
      };

      /** A callback as the route hands it over: found, decided in core, applied by the queue. */
      const settle = (r: CallbackReport) => settleCallback(publish, r);

      const report = (messageId: string, fields: Partial<CallbackReport> = {}): CallbackReport => ({
        messageId,
        status: 200,
        retried: 0,
        maxRetries: 10,
        nonRetryable: false,
        failure: false,
        at: T0 + 1000,
        error: null,
        responseExcerpt: null,
        ...fields,
      });

      it('leases due, never-published deliveries once, with what a publish needs; they stay pending', async () => {
        await subscriptions.syncCodeSubscriptions([exactCreated, prefixOrder], 1);
        await events.appendEvents([domainEvent('evt-pub')]);

        expect(await lease('early', T0 - 1)).toEqual([]);
        const leased = await lease('a');
        expect(sortedBy(leased, (d) => d.subscriptionId)).toEqual([
          {
            id: expect.any(String),
            url: exactCreated.url,
            subscriptionId: exactCreated.id,
            origin: 'code',
            attempts: 0,
            retried: 0,
            maxRetries: 10,
            retryDelay: null,
            generation: 0,
            traceparent: domainEvent('evt-pub').traceparent,
            lastPublishDelayMs: 0,
            event: {
              id: 'evt-pub/ie0',
              type: 'order.created.v1',
              source: '/producers/billing',
              time: '2026-01-15T09:30:00.000Z',
              data: domainEvent('evt-pub').integrationEvents[0]!.data,
            },
          },
          expect.objectContaining({ subscriptionId: prefixOrder.id, maxRetries: 3, retryDelay: '1000' }),
        ]);
        expect(await lease('b')).toEqual([]);
        expect(await lease('b', T0 + LEASE_MS - 1)).toEqual([]);
        for (const d of Object.values(await deliveriesOf('evt-pub'))) expect(d.status).toBe('pending');
        // A crashed publisher's lease lapses and another takes the deliveries over.
        expect(await lease('b', T0 + LEASE_MS)).toHaveLength(2);
      });

      it("holds a paused subscription's unpublished deliveries; resumed, they are leased at once", async () => {
        await subscriptions.syncCodeSubscriptions([exactCreated, prefixOrder], 1);
        await subscriptions.updateSubscription(prefixOrder.id, { paused: true }, T0);
        await events.appendEvents([domainEvent('evt-held')]);

        expect((await lease('a', T0 + 60_000)).map((d) => d.subscriptionId)).toEqual([exactCreated.id]);
        expect(await lease('b', T0 + 60_001)).toEqual([]);
        expect((await deliveriesOf('evt-held'))[prefixOrder.id]!.status).toBe('pending');

        await subscriptions.updateSubscription(prefixOrder.id, { paused: false }, T0 + 60_002);
        expect((await lease('c', T0 + 60_002)).map((d) => d.subscriptionId)).toEqual([prefixOrder.id]);
      });

      it('never hands one delivery to two overlapping publishers, and honours the limit', async () => {
        await subscriptions.syncCodeSubscriptions([exactCreated], 1);
        await events.appendEvents(Array.from({ length: 30 }, (_, i) => domainEvent(`evt-par-${i}`)));

        const batches = await Promise.all(Array.from({ length: 5 }, (_, i) => lease(`p${i}`, T0, 10)));

        for (const b of batches) expect(b.length).toBeLessThanOrEqual(10);
        const ids = batches.flat().map((d) => d.id);
        expect(ids).toHaveLength(30);
        expect(new Set(ids).size).toBe(30);
      });

      it('deliveries due at one time are leased in acceptance order, as many as asked for and no more', async () => {
        // One append: one `next_attempt_at` for all six (a group commit's), told apart by rowid.
        await subscriptions.syncCodeSubscriptions([exactCreated], 1);
        await events.appendEvents(Array.from({ length: 6 }, (_, i) => domainEvent(`evt-tie-${i}`)));
        const ids = await Promise.all(
          Array.from(
            { length: 6 },
            async (_, i) => (await deliveriesOf(`evt-tie-${i}`))[exactCreated.id]!.id,
          ),
        );
        const leasedIds = async (owner: string, limit: number) =>
          (await lease(owner, T0, limit)).map((d) => d.id).sort();

        expect(await leasedIds('a', 2)).toEqual(ids.slice(0, 2).sort());
        expect(await leasedIds('b', 3)).toEqual(ids.slice(2, 5).sort());
        expect(await leasedIds('c', 5)).toEqual([ids[5]!]);
        expect(await leasedIds('d', 5)).toEqual([]);
      });

      it('markPublished: in_flight and never leased again; a lost lease or another generation is dropped', async () => {
        await subscriptions.syncCodeSubscriptions([exactCreated, prefixOrder], 1);
        await events.appendEvents([domainEvent('evt-mark')]);
        const leased = sortedBy(await lease('a'), (d) => d.subscriptionId);
        const [mine, other] = leased as [LeasedForPublish, LeasedForPublish];

        await publish.markPublished([
          { deliveryId: mine.id, owner: 'a', generation: 0, messageId: 'msg-1', at: T0 + 5 },
          { deliveryId: other.id, owner: 'not-a', generation: 0, messageId: 'msg-2', at: T0 + 5 },
        ]);
        await publish.markPublished([
          { deliveryId: other.id, owner: 'a', generation: 1, messageId: 'msg-3', at: T0 + 5 },
        ]);

        const after = await deliveriesOf('evt-mark');
        expect(after[exactCreated.id]!.status).toBe('in_flight');
        expect(after[prefixOrder.id]!.status).toBe('pending');
        const later = await lease('b', T0 + LEASE_MS);
        expect(later.map((d) => d.id)).toEqual([other.id]);
        // Only the recorded message id is known to callbacks.
        expect(await settle(report('msg-2'))).toBe('unknown');
        expect(await settle(report('msg-3'))).toBe('unknown');
        expect(await settle(report('msg-1'))).toBe('applied');
      });

      it('markPublished writes any number of records (chunked to the parameter limit)', async () => {
        await subscriptions.syncCodeSubscriptions([exactCreated], 1);
        await events.appendEvents(Array.from({ length: 150 }, (_, i) => domainEvent(`evt-many-${i}`)));

        expect(await publishAll()).toHaveLength(150);

        expect(await lease('b', T0 + LEASE_MS)).toEqual([]);
        const statuses = await Promise.all(
          [0, 74, 149].map(async (i) => (await deliveriesOf(`evt-many-${i}`))[exactCreated.id]!.status),
        );
        expect(statuses).toEqual(['in_flight', 'in_flight', 'in_flight']);
      });

      it('markPublishFailed: lease cleared, due again later, still pending; the last delay is reported', async () => {
        await subscriptions.syncCodeSubscriptions([exactCreated], 1);
        await events.appendEvents([domainEvent('evt-fail')]);
        const [d] = await lease('a');

        await publish.markPublishFailed([
          { deliveryId: d!.id, owner: 'a', at: T0 + 100, nextAttemptAt: T0 + 2100 },
        ]);

        const stored = (await deliveriesOf('evt-fail'))[exactCreated.id]!;
        expect(stored).toMatchObject({ status: 'pending', nextAttemptAt: T0 + 2100, attempts: [] });
        expect(await lease('b', T0 + 2099)).toEqual([]);
        const [again] = await lease('b', T0 + 2100);
        expect(again).toMatchObject({ id: d!.id, lastPublishDelayMs: 2000 });
        // A failure reported by a publisher that lost its lease changes nothing.
        await publish.markPublishFailed([
          { deliveryId: d!.id, owner: 'a', at: T0 + 2200, nextAttemptAt: T0 + 9999 },
        ]);
        expect((await deliveriesOf('evt-fail'))[exactCreated.id]!.nextAttemptAt).toBe(T0 + 2100);
      });

      it('applyCallback: a 2xx delivers and records the attempt; the same callback again is a duplicate', async () => {
        await subscriptions.syncCodeSubscriptions([exactCreated], 1);
        await events.appendEvents([domainEvent('evt-ok')]);
        const [d] = await publishAll();

        expect(await settle(report('msg-unknown'))).toBe('unknown');
        const ok = report(`msg-${d!.id}`, { status: 201, responseExcerpt: '{"ok":true}', durationMs: 7 });
        expect(await settle(ok)).toBe('applied');
        expect(await settle(ok)).toBe('duplicate');

        const stored = (await deliveriesOf('evt-ok'))[exactCreated.id]!;
        expect(stored.status).toBe('delivered');
        expect(stored.attempts).toEqual([
          {
            number: 1,
            at: T0 + 1000,
            status: 201,
            durationMs: 7,
            error: null,
            responseExcerpt: '{"ok":true}',
          },
        ]);
        // Kept on the delivery's row, as the local dispatcher keeps it (0011): no `attempts` row.
        expect(await h.harness.count('attempts')).toBe(0);
        expect(await h.harness.query('SELECT delivered_number, delivered_status FROM deliveries')).toEqual([
          { delivered_number: 1, delivered_status: 201 },
        ]);
      });

      it('applyCallback: failures retry on the subscription policy, then die when the retries run out', async () => {
        await subscriptions.syncCodeSubscriptions([exactCreated, prefixOrder], 1);
        await events.appendEvents([domainEvent('evt-retry')]);
        await publishAll();
        const before = await deliveriesOf('evt-retry');
        const plain = `msg-${before[exactCreated.id]!.id}`;
        const withDelay = `msg-${before[prefixOrder.id]!.id}`;

        expect(await settle(report(plain, { status: 500, maxRetries: 2, at: T0 + 10 }))).toBe('applied');
        expect(await settle(report(withDelay, { status: 503, maxRetries: 3, at: T0 + 10 }))).toBe('applied');
        let now = await deliveriesOf('evt-retry');
        expect(now[exactCreated.id]).toMatchObject({
          status: 'retrying',
          nextAttemptAt: T0 + 10 + defaultRetryDelayMs(0),
        });
        // `retryDelay: '1000'` on the subscription.
        expect(now[prefixOrder.id]).toMatchObject({ status: 'retrying', nextAttemptAt: T0 + 1010 });

        await settle(report(plain, { status: null, error: 'timeout', retried: 1, maxRetries: 2 }));
        await settle(report(plain, { status: 500, retried: 2, maxRetries: 2, at: T0 + 99 }));
        // The failure callback repeats the last attempt: nothing new.
        expect(await settle(report(plain, { status: 500, retried: 2, maxRetries: 2, failure: true }))).toBe(
          'duplicate',
        );
        now = await deliveriesOf('evt-retry');
        expect(now[exactCreated.id]!.status).toBe('dead');
        expect(now[exactCreated.id]!.attempts.map((a) => [a.number, a.status, a.error])).toEqual([
          [1, 500, null],
          [2, null, 'timeout'],
          [3, 500, null],
        ]);
      });

      it('applyCallback: 489 non-retryable or a failure callback is dead at once; 489 alone retries', async () => {
        await subscriptions.syncCodeSubscriptions([exactCreated], 1);
        await events.appendEvents([domainEvent('evt-a'), domainEvent('evt-b'), domainEvent('evt-c')]);
        await publishAll();
        const msg = async (id: string) => `msg-${(await deliveriesOf(id))[exactCreated.id]!.id}`;

        await settle(report(await msg('evt-a'), { status: 489, nonRetryable: true }));
        await settle(report(await msg('evt-b'), { status: 489 }));
        await settle(report(await msg('evt-c'), { status: 500, failure: true }));

        expect((await deliveriesOf('evt-a'))[exactCreated.id]!.status).toBe('dead');
        expect((await deliveriesOf('evt-b'))[exactCreated.id]!.status).toBe('retrying');
        expect((await deliveriesOf('evt-c'))[exactCreated.id]!.status).toBe('dead');
      });

      it('applyCallback never moves backwards: late reports of older attempts are recorded, not obeyed', async () => {
        await subscriptions.syncCodeSubscriptions([exactCreated, prefixOrder], 1);
        await events.appendEvents([domainEvent('evt-late')]);
        await publishAll();
        const ids = await deliveriesOf('evt-late');
        const delivered = `msg-${ids[exactCreated.id]!.id}`;
        const retrying = `msg-${ids[prefixOrder.id]!.id}`;

        // Attempt 2 succeeded; the report of attempt 1 (a 500) comes after it.
        await settle(report(delivered, { status: 200, retried: 1, at: T0 + 50 }));
        expect(await settle(report(delivered, { status: 500, retried: 0, at: T0 + 60 }))).toBe('applied');
        // Attempt 2 failed and set the schedule; attempt 1's report must not set an older one.
        await settle(report(retrying, { status: 500, retried: 1, maxRetries: 3, at: T0 + 50 }));
        await settle(report(retrying, { status: 500, retried: 0, maxRetries: 3, at: T0 + 60 }));
        // Dead stays dead, whatever arrives after.
        await settle(report(retrying, { status: 500, retried: 3, maxRetries: 3, at: T0 + 70 }));
        await settle(report(retrying, { status: 200, retried: 2, maxRetries: 3, at: T0 + 80 }));

        const after = await deliveriesOf('evt-late');
        expect(after[exactCreated.id]!.status).toBe('delivered');
        expect(after[exactCreated.id]!.attempts.map((a) => [a.number, a.status])).toEqual([
          [1, 500],
          [2, 200],
        ]);
        expect(after[prefixOrder.id]!.status).toBe('dead');
        expect(after[prefixOrder.id]!.attempts.map((a) => [a.number, a.status])).toEqual([
          [1, 500],
          [2, 500],
          [3, 200],
          [4, 500],
        ]);
      });

      it('findPublished and applyCallback: a decided transition applies under its message id, never backwards', async () => {
        await subscriptions.syncCodeSubscriptions([prefixOrder], 1);
        await events.appendEvents([domainEvent('evt-port')]);
        const [leased] = await publishAll();
        const messageId = `msg-${leased!.id}`;

        expect(await publish.findPublished('msg-unknown')).toBeNull();
        const found = await publish.findPublished(messageId);
        expect(found).toEqual({
          id: leased!.id,
          messageId,
          subscriptionId: prefixOrder.id,
          orderingKey: null,
          retryDelay: '1000',
          earlierAttempts: 0,
        });
        const transition = {
          deliveryId: leased!.id,
          messageId,
          number: 1,
          at: T0 + 10,
          status: 500,
          durationMs: 0,
          error: null,
          responseExcerpt: null,
          next: 'dead' as const,
          nextAttemptAt: T0 + 10,
          retried: 1,
        };

        expect(await publish.applyCallback(transition)).toBe('applied');
        expect(await publish.applyCallback(transition)).toBe('duplicate');
        // A later attempt reported delivered is recorded, but dead stays dead.
        expect(
          await publish.applyCallback({
            ...transition,
            number: 2,
            status: 200,
            next: 'delivered',
            retried: 2,
          }),
        ).toBe('applied');
        // Under another message id (a replay published since), nothing is written.
        expect(
          await publish.applyCallback({ ...transition, messageId: 'msg-other', number: 3, retried: 3 }),
        ).toBe('duplicate');

        const d = (await deliveriesOf('evt-port'))[prefixOrder.id]!;
        expect(d.status).toBe('dead');
        expect(d.attempts.map((a) => [a.number, a.status])).toEqual([
          [1, 500],
          [2, 200],
        ]);
        expect(await publish.findPublished(messageId)).toMatchObject({ earlierAttempts: 0 });
      });

      it('applyCallback keeps the schedule of the newest attempt while retrying', async () => {
        await subscriptions.syncCodeSubscriptions([prefixOrder], 1);
        await events.appendEvents([domainEvent('evt-order')]);
        await publishAll();
        const msg = `msg-${(await deliveriesOf('evt-order'))[prefixOrder.id]!.id}`;

        await settle(report(msg, { status: 500, retried: 1, maxRetries: 3, at: T0 + 50 }));
        await settle(report(msg, { status: 500, retried: 0, maxRetries: 3, at: T0 + 60 }));

        expect((await deliveriesOf('evt-order'))[prefixOrder.id]).toMatchObject({
          status: 'retrying',
          nextAttemptAt: T0 + 1050,
        });
      });
    });
  });
}
