import { beforeEach, describe, expect, it } from 'vitest';
import type { AttemptRecord, LeasedDelivery } from '../../src/core/dispatch-queue.ts';
import type { NewDomainEvent } from '../../src/core/event-store.ts';
import { defineSubscription } from '../../src/core/subscription.ts';
import type { StorePorts } from './store-contract-fixtures.ts';
import { domainEvent, type OpenHarness, RECEIVED_AT, useHarness } from './store-contract-fixtures.ts';

const LEASE_MS = 30_000;
const T0 = RECEIVED_AT;

/** Room for every delivery of a test at once: only ordering keys hold anything back. */
const roomy = defineSubscription('order.created.v1', 'https://billing.example.com/hooks/created', {
  id: 'sub-roomy',
  maxConcurrency: 1000,
});
const other = defineSubscription('order.created.v1', 'https://audit.example.com/hooks/created', {
  id: 'sub-other',
  maxConcurrency: 1000,
});

/** An `order.created.v1` event whose one integration event (`<id>/ie0`) has `key` (none if null). */
function keyed(id: string, key: string | null, overrides: Partial<NewDomainEvent> = {}): NewDomainEvent {
  return domainEvent(id, [key === null ? {} : { orderingKey: key }], overrides);
}

/**
 * DESIGN "Ordering" in the store, for both transports: of one subscription's deliveries with one
 * ordering key, only the earliest accepted that is not yet delivered or dead is leased (local) or
 * published (QStash); other keys, keyless deliveries and other subscriptions are not held back.
 * @example describeOrderingKeyContract('libSQL file', openLibsqlHarness);
 */
export function describeOrderingKeyContract(name: string, open: OpenHarness): void {
  describe(`ordering keys: ${name}`, () => {
    const h = useHarness(open);
    let s: StorePorts;

    beforeEach(async () => {
      s = h.stores;
      await s.subscriptions.syncCodeSubscriptions([roomy, other], 1);
    });

    const lease = (owner: string, now = T0) =>
      s.dispatch.leaseDue({ owner, now, leaseMs: LEASE_MS, limit: 1000 });
    /** `<event id>@<subscription id>` of what a lease took, sorted. */
    const names = (leased: readonly LeasedDelivery[]) =>
      leased.map((d) => `${d.event.id.replace('/ie0', '')}@${d.subscriptionId}`).sort();
    const record = (
      d: LeasedDelivery,
      owner: string,
      fields: Partial<AttemptRecord> = {},
    ): AttemptRecord => ({
      deliveryId: d.id,
      owner,
      number: d.attempts + 1,
      at: T0 + 10,
      status: 200,
      durationMs: 5,
      error: null,
      responseExcerpt: null,
      next: 'delivered',
      nextAttemptAt: T0 + 10,
      retried: d.retried,
      ...fields,
    });
    const only = (leased: readonly LeasedDelivery[], eventId: string, sub = roomy.id) => {
      const found = leased.find((d) => d.event.id === `${eventId}/ie0` && d.subscriptionId === sub);
      if (!found) throw new Error(`${eventId}@${sub} was not leased`);
      return found;
    };

    describe('local lease (leaseDue)', () => {
      it('one delivery per (subscription, key) at a time, in acceptance order; other keys and keyless ones go', async () => {
        await s.events.appendEvents([keyed('a1', 'A'), keyed('b1', 'B'), keyed('n1', null)]);
        await s.events.appendEvents([keyed('a2', 'A'), keyed('b2', 'B'), keyed('n2', null)]);
        await s.events.appendEvents([keyed('a3', 'A')]);

        const first = await lease('d');
        expect(names(first)).toEqual([
          'a1@sub-other',
          'a1@sub-roomy',
          'b1@sub-other',
          'b1@sub-roomy',
          'n1@sub-other',
          'n1@sub-roomy',
          'n2@sub-other',
          'n2@sub-roomy',
        ]);
        expect(await lease('d')).toEqual([]);

        // a1 delivered on one subscription only: a2 goes there, and still waits on the other.
        await s.dispatch.recordAttempts([record(only(first, 'a1'), 'd')]);
        expect(names(await lease('d', T0 + 20))).toEqual(['a2@sub-roomy']);
      });

      it('in one group (one millisecond, one commit) acceptance order is the order of the events', async () => {
        await s.events.appendEvents(
          ['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7'].map((id) => keyed(id, 'K')),
        );
        const order: string[] = [];
        for (let step = 0; step < 8; step++) {
          const leased = await lease('d', T0 + step);
          expect(leased.filter((d) => d.subscriptionId === roomy.id)).toHaveLength(1);
          order.push(only(leased, `k${step}`).event.id);
          await s.dispatch.recordAttempts(leased.map((d) => record(d, 'd', { at: T0 + step })));
        }
        expect(order).toEqual(['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7'].map((id) => `${id}/ie0`));
      });

      it('the next waits through the retries of the one before, and goes once it is dead', async () => {
        await s.subscriptions.updateSubscription(other.id, { paused: true }, T0);
        await s.events.appendEvents([keyed('a1', 'A'), keyed('a2', 'A')]);
        const [a1] = await lease('d');
        await s.dispatch.recordAttempts([
          record(a1!, 'd', { status: 500, next: 'retrying', nextAttemptAt: T0 + 5000, retried: 1 }),
        ]);
        // a1 is not due, a2 is: a2 still waits.
        expect(await lease('d', T0 + 100)).toEqual([]);
        const [again] = await lease('d', T0 + 5000);
        expect(again!.id).toBe(a1!.id);
        await s.dispatch.recordAttempts([record(again!, 'd', { status: 489, next: 'dead', at: T0 + 5001 })]);

        expect(names(await lease('d', T0 + 5002))).toEqual(['a2@sub-roomy']);
      });

      it('a delayed earlier delivery (notBefore) holds the later ones of its key', async () => {
        await s.subscriptions.updateSubscription(other.id, { paused: true }, T0);
        await s.events.appendEvents([keyed('a1', 'A', { notBefore: T0 + 60_000 })]);
        await s.events.appendEvents([
          keyed('a2', 'A', { receivedAt: T0 + 1 }),
          keyed('b1', 'B', { receivedAt: T0 + 1 }),
        ]);

        const b1 = await lease('d', T0 + 10);
        expect(names(b1)).toEqual(['b1@sub-roomy']);
        await s.dispatch.recordAttempts([record(b1[0]!, 'd', { at: T0 + 11 })]);
        const at = await lease('d', T0 + 60_000);
        expect(names(at)).toEqual(['a1@sub-roomy']);
        await s.dispatch.recordAttempts([record(at[0]!, 'd', { at: T0 + 60_001 })]);
        expect(names(await lease('d', T0 + 60_002))).toEqual(['a2@sub-roomy']);
      });

      it('a paused subscription holds its chain; a key counts once against maxConcurrency', async () => {
        const two = defineSubscription('order.created.v1', 'https://two.example.com/', {
          id: 'sub-two',
          maxConcurrency: 2,
        });
        await s.subscriptions.syncCodeSubscriptions([two], 1);
        await s.events.appendEvents([keyed('a1', 'A'), keyed('a2', 'A'), keyed('a3', 'A'), keyed('b1', 'B')]);
        // Two slots: the head of A and the head of B — a2 and a3 take none.
        expect(names(await lease('d'))).toEqual(['a1@sub-two', 'b1@sub-two']);

        await s.subscriptions.updateSubscription(two.id, { paused: true }, T0 + 1);
        await s.events.appendEvents([keyed('c1', 'C', { receivedAt: T0 + 2 })]);
        expect(await lease('d', T0 + 2 + LEASE_MS)).toEqual([]);
      });

      it('a lapsed lease on the head is taken over; the rest of the key still waits', async () => {
        await s.subscriptions.updateSubscription(other.id, { paused: true }, T0);
        await s.events.appendEvents([keyed('a1', 'A'), keyed('a2', 'A')]);
        const [held] = await lease('crashed');
        expect(names(await lease('b', T0 + LEASE_MS))).toEqual(['a1@sub-roomy']);
        expect(held!.event.id).toBe('a1/ie0');
      });

      it('a replayed dead delivery: delivered later ones stay delivered, undelivered later ones wait for it', async () => {
        await s.subscriptions.updateSubscription(other.id, { paused: true }, T0);
        await s.events.appendEvents([keyed('a1', 'A'), keyed('a2', 'A'), keyed('a3', 'A')]);
        const [a1] = await lease('d');
        await s.dispatch.recordAttempts([record(a1!, 'd', { status: 489, next: 'dead', at: T0 + 1 })]);
        const [a2] = await lease('d', T0 + 2);
        expect(a2!.event.id).toBe('a2/ie0');
        await s.dispatch.recordAttempts([record(a2!, 'd', { at: T0 + 3 })]);
        // a3 is due now; a1 comes back before it is leased.
        expect((await s.deliveries.replayDelivery(a1!.id, T0 + 4)).outcome).toBe('replayed');

        const next = await lease('d', T0 + 5);
        expect(names(next)).toEqual(['a1@sub-roomy']);
        await s.dispatch.recordAttempts([record(next[0]!, 'd', { at: T0 + 6 })]);
        expect(names(await lease('d', T0 + 7))).toEqual(['a3@sub-roomy']);
        const a2After = (await h.view('a2')).integrationEvents[0]!.deliveries.find(
          (d) => d.subscriptionId === roomy.id,
        );
        expect(a2After!.status).toBe('delivered');
      });

      it('a long chain blocked behind its head does not starve other keys accepted after it', async () => {
        const narrow = defineSubscription('order.created.v1', 'https://narrow.example.com/', {
          id: 'sub-narrow',
          maxConcurrency: 4,
        });
        await s.subscriptions.syncCodeSubscriptions([narrow], 1);
        await s.events.appendEvents(Array.from({ length: 30 }, (_, i) => keyed(`a${i}`, 'A')));
        await s.events.appendEvents(
          Array.from({ length: 3 }, (_, i) => keyed(`z${i}`, `Z${i}`, { receivedAt: T0 + 1 })),
        );
        expect(names(await lease('d', T0 + 1))).toEqual([
          'a0@sub-narrow',
          'z0@sub-narrow',
          'z1@sub-narrow',
          'z2@sub-narrow',
        ]);
      });
    });

    describe('QStash publish (leaseForPublish, callbacks)', () => {
      const publishAll = async (now: number) => {
        const leased = await s.publish.leaseForPublish({ owner: 'p', now, leaseMs: LEASE_MS, limit: 1000 });
        await s.publish.markPublished(
          leased.map((d) => ({
            deliveryId: d.id,
            owner: 'p',
            generation: d.generation,
            messageId: `msg-${d.id}`,
            at: now,
          })),
        );
        return leased;
      };
      /** The callback of attempt `number` (1 = the first) of a published delivery. */
      const callback = async (
        d: LeasedDelivery,
        next: 'delivered' | 'retrying' | 'dead',
        at: number,
        number = 1,
      ) =>
        s.publish.applyCallback({
          deliveryId: d.id,
          messageId: `msg-${d.id}`,
          number,
          at,
          status: next === 'delivered' ? 200 : 500,
          durationMs: 3,
          error: null,
          responseExcerpt: null,
          next,
          nextAttemptAt: next === 'retrying' ? at + 12_000 : at,
          retried: number,
        });

      it("publishes only the head of each key; the next after the head's callback made it delivered or dead", async () => {
        await s.subscriptions.updateSubscription(other.id, { paused: true }, T0);
        await s.events.appendEvents([
          keyed('a1', 'A'),
          keyed('a2', 'A'),
          keyed('a3', 'A'),
          keyed('b1', 'B'),
          keyed('n1', null),
        ]);

        const first = await publishAll(T0);
        expect(names(first)).toEqual(['a1@sub-roomy', 'b1@sub-roomy', 'n1@sub-roomy']);
        // Published (in flight at QStash), then retrying: a2 is not published meanwhile.
        expect(await publishAll(T0 + 1)).toEqual([]);
        await callback(only(first, 'a1'), 'retrying', T0 + 2);
        expect(await publishAll(T0 + 100_000)).toEqual([]);

        await callback(only(first, 'a1'), 'dead', T0 + 100_001, 2);
        const second = await publishAll(T0 + 100_002);
        expect(names(second)).toEqual(['a2@sub-roomy']);
        await callback(second[0]!, 'delivered', T0 + 100_003);
        expect(names(await publishAll(T0 + 100_004))).toEqual(['a3@sub-roomy']);
      });

      it('only: leases the head of that (subscription, key) alone, and only while it is publishable', async () => {
        await s.events.appendEvents([
          keyed('a1', 'A'),
          keyed('a2', 'A'),
          keyed('b1', 'B'),
          keyed('n1', null),
        ]);
        await s.events.appendEvents([keyed('a3', 'A', { notBefore: T0 + 50_000 })]);
        const leaseOnly = (owner: string, now: number, key = 'A', sub = roomy.id) =>
          s.publish.leaseForPublish({
            owner,
            now,
            leaseMs: LEASE_MS,
            limit: 1000,
            only: { subscriptionId: sub, orderingKey: key },
          });

        // The head of A to sub-roomy, nothing of B, the keyless one or sub-other.
        const head = await leaseOnly('p', T0);
        expect(names(head)).toEqual(['a1@sub-roomy']);
        // Under a live lease: not again, by a callback's pass or a sweep.
        expect(await leaseOnly('q', T0 + 1)).toEqual([]);
        await s.publish.markPublished([
          { deliveryId: head[0]!.id, owner: 'p', generation: 0, messageId: `msg-${head[0]!.id}`, at: T0 + 2 },
        ]);
        // Published (in flight): a2 waits behind it.
        expect(await leaseOnly('q', T0 + 3)).toEqual([]);
        await callback(head[0]!, 'delivered', T0 + 4);
        const next = await leaseOnly('q', T0 + 5);
        expect(names(next)).toEqual(['a2@sub-roomy']);
        await s.publish.markPublished([
          { deliveryId: next[0]!.id, owner: 'q', generation: 0, messageId: `msg-${next[0]!.id}`, at: T0 + 6 },
        ]);
        await callback(next[0]!, 'dead', T0 + 7);
        // a3 is the head now, but not due before its notBefore.
        expect(await leaseOnly('r', T0 + 8)).toEqual([]);
        expect(names(await leaseOnly('r', T0 + 50_000))).toEqual(['a3@sub-roomy']);

        // A paused subscription's head is held; a key nobody has is nothing.
        await s.subscriptions.updateSubscription(other.id, { paused: true }, T0);
        expect(await leaseOnly('s', T0 + 50_001, 'A', other.id)).toEqual([]);
        expect(await leaseOnly('s', T0 + 50_001, 'Z')).toEqual([]);
        await s.subscriptions.updateSubscription(other.id, { paused: false }, T0 + 50_002);
        expect(names(await leaseOnly('s', T0 + 50_003, 'A', other.id))).toEqual(['a1@sub-other']);
      });
    });
  });
}
