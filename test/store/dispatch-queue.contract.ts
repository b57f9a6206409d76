import { beforeEach, describe, expect, it } from 'vitest';
import type { AttemptRecord, DispatchQueue, LeasedDelivery } from '../../src/core/dispatch-queue.ts';
import type { DeliveryView, EventStore } from '../../src/core/event-store.ts';
import { defineSubscription } from '../../src/core/subscription.ts';
import type { SubscriptionStore } from '../../src/core/subscription-store.ts';
import {
  domainEvent,
  exactCreated,
  exactPaid,
  type OpenHarness,
  prefixOrder,
  RECEIVED_AT,
  sortedBy,
  useHarness,
} from './store-contract-fixtures.ts';

const LEASE_MS = 30_000;
const T0 = RECEIVED_AT;

/** `exactCreated` with room for every delivery of a test at once. */
const roomy = defineSubscription(exactCreated.type, exactCreated.url, {
  id: exactCreated.id,
  maxConcurrency: 1000,
});

/**
 * What every `DispatchQueue` adapter owes the local dispatcher: due deliveries leased atomically,
 * lapsed leases taken over, attempt outcomes (decided in core) applied only by the lease holder.
 * @example describeDispatchQueueContract('libSQL file', openLibsqlHarness);
 */
export function describeDispatchQueueContract(name: string, open: OpenHarness): void {
  describe(`DispatchQueue contract: ${name}`, () => {
    const h = useHarness(open);
    const { view } = h;
    let events: EventStore;
    let subscriptions: SubscriptionStore;
    let dispatch: DispatchQueue;

    beforeEach(() => {
      ({ events, subscriptions, dispatch } = h.stores);
    });

    const lease = (owner: string, now = T0, limit = 1000) =>
      dispatch.leaseDue({ owner, now, leaseMs: LEASE_MS, limit });

    /** The deliveries of an event's first integration event, by subscription id. */
    const deliveriesOf = async (eventId: string): Promise<Record<string, DeliveryView>> =>
      Object.fromEntries(
        (await view(eventId)).integrationEvents[0]!.deliveries.map((d) => [d.subscriptionId, d] as const),
      );

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

    describe('leaseDue', () => {
      it('leases due deliveries once, in flight, with what an attempt needs', async () => {
        await subscriptions.syncCodeSubscriptions([exactCreated, prefixOrder], 1);
        await events.appendEvents([domainEvent('evt-lease')]);

        expect(await lease('early', T0 - 1)).toEqual([]);
        const leased = sortedBy(await lease('a'), (d) => d.subscriptionId);
        expect(leased).toEqual([
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
            traceparent: domainEvent('evt-lease').traceparent,
            event: {
              id: 'evt-lease/ie0',
              type: 'order.created.v1',
              source: '/producers/billing',
              time: '2026-01-15T09:30:00.000Z',
              data: domainEvent('evt-lease').integrationEvents[0]!.data,
            },
          },
          expect.objectContaining({ subscriptionId: prefixOrder.id, maxRetries: 3, retryDelay: '1000' }),
        ]);
        for (const d of Object.values(await deliveriesOf('evt-lease'))) expect(d.status).toBe('in_flight');
        expect(await lease('b')).toEqual([]);
        expect(await lease('b', T0 + LEASE_MS - 1)).toEqual([]);
        // A crashed dispatcher's lease lapses and another takes the deliveries over.
        expect(await lease('b', T0 + LEASE_MS)).toHaveLength(2);
      });

      it('never hands one delivery to two overlapping dispatchers, and honours the limit', async () => {
        await subscriptions.syncCodeSubscriptions([roomy], 1);
        await events.appendEvents(Array.from({ length: 30 }, (_, i) => domainEvent(`evt-par-${i}`)));

        const batches = await Promise.all(Array.from({ length: 5 }, (_, i) => lease(`d${i}`, T0, 10)));

        for (const b of batches) expect(b.length).toBeLessThanOrEqual(10);
        const ids = batches.flat().map((d) => d.id);
        expect(ids).toHaveLength(30);
        expect(new Set(ids).size).toBe(30);
        expect(await lease('late', T0, 0)).toEqual([]);
      });
    });

    describe('pause and maxConcurrency', () => {
      it("holds a paused subscription's deliveries: none leased, no retry spent; resumed, they are due at once", async () => {
        await subscriptions.syncCodeSubscriptions([exactCreated, prefixOrder], 1);
        await events.appendEvents([domainEvent('evt-1')]);
        const first = await lease('a');
        const retrying = first.find((d) => d.subscriptionId === prefixOrder.id)!;
        await dispatch.recordAttempts([
          record(first.find((d) => d.subscriptionId === exactCreated.id)!, 'a'),
          record(retrying, 'a', { status: 503, next: 'retrying', nextAttemptAt: T0 + 1000, retried: 1 }),
        ]);
        await subscriptions.updateSubscription(prefixOrder.id, { paused: true }, T0 + 1);
        await events.appendEvents([domainEvent('evt-2')]);

        // New events still get deliveries; only the active subscription's are leased.
        const later = T0 + 60_000;
        expect((await lease('b', later)).map((d) => d.subscriptionId)).toEqual([exactCreated.id]);
        expect(await lease('c', later + 1000)).toEqual([]);
        const held = (await deliveriesOf('evt-2'))[prefixOrder.id]!;
        expect(held).toMatchObject({ status: 'pending', attempts: [] });
        expect((await deliveriesOf('evt-1'))[prefixOrder.id]).toMatchObject({
          status: 'retrying',
          nextAttemptAt: T0 + 1000,
        });

        await subscriptions.updateSubscription(prefixOrder.id, { paused: false }, later + 2000);
        const resumed = await lease('d', later + 2000);
        expect(sortedBy(resumed, (d) => d.event.id).map((d) => [d.event.id, d.attempts, d.retried])).toEqual([
          ['evt-1/ie0', 1, 1],
          ['evt-2/ie0', 0, 0],
        ]);
      });

      it('leases no more of a subscription than its maxConcurrency, counting live leases of every dispatcher', async () => {
        const two = defineSubscription('order.created.v1', 'https://two.example.com/', {
          id: 'sub-two',
          maxConcurrency: 2,
        });
        const three = defineSubscription('order.created.v1', 'https://three.example.com/', {
          id: 'sub-three',
          maxConcurrency: 3,
        });
        await subscriptions.syncCodeSubscriptions([two, three], 1);
        await events.appendEvents(Array.from({ length: 5 }, (_, i) => domainEvent(`evt-${i}`)));
        const bySub = (leased: readonly LeasedDelivery[]) =>
          Object.fromEntries(
            [two.id, three.id].map((id) => [id, leased.filter((d) => d.subscriptionId === id).length]),
          );

        const first = await lease('a');
        expect(bySub(first)).toEqual({ [two.id]: 2, [three.id]: 3 });
        expect(await lease('b')).toEqual([]);

        // One attempt of `two` ends: one more of `two` may go, by whichever dispatcher.
        const done = first.find((d) => d.subscriptionId === two.id)!;
        await dispatch.recordAttempts([record(done, 'a')]);
        expect(bySub(await lease('b', T0 + 20))).toEqual({ [two.id]: 1, [three.id]: 0 });

        // Lapsed leases are not in flight any more: they are taken over within the same room.
        const lapsed = await lease('c', T0 + 20 + LEASE_MS);
        expect(bySub(lapsed)).toEqual({ [two.id]: 2, [three.id]: 3 });
        expect(
          lapsed
            .filter((d) => d.subscriptionId === three.id)
            .map((d) => d.id)
            .sort(),
        ).toEqual(
          first
            .filter((d) => d.subscriptionId === three.id)
            .map((d) => d.id)
            .sort(),
        );
      });

      it('deliveries due at one time go in acceptance order, as many as asked for and no more', async () => {
        // One append: one `next_attempt_at` for all six (a group commit's), told apart by rowid.
        await subscriptions.syncCodeSubscriptions([roomy], 1);
        await events.appendEvents(Array.from({ length: 6 }, (_, i) => domainEvent(`evt-tie-${i}`)));
        const ids = await Promise.all(
          Array.from({ length: 6 }, async (_, i) => (await deliveriesOf(`evt-tie-${i}`))[roomy.id]!.id),
        );
        const leasedIds = (leased: readonly LeasedDelivery[]) => leased.map((d) => d.id).sort();

        const first = await lease('a', T0, 2);
        expect(leasedIds(first)).toEqual(ids.slice(0, 2).sort());
        expect(leasedIds(await lease('a', T0, 3))).toEqual(ids.slice(2, 5).sort());

        // Two retries due at one time, behind the last pending delivery (due earlier).
        await dispatch.recordAttempts(
          first.map((d) =>
            record(d, 'a', { status: 500, next: 'retrying', nextAttemptAt: T0 + 50, retried: 1 }),
          ),
        );
        expect(leasedIds(await lease('b', T0 + 50, 1))).toEqual([ids[5]!]);
        expect(leasedIds(await lease('b', T0 + 50, 1))).toEqual([ids[0]!]);
        expect(leasedIds(await lease('b', T0 + 50, 5))).toEqual([ids[1]!]);
        expect(await lease('b', T0 + 50)).toEqual([]);
      });

      it('a full subscription does not hold the others back, however many of its deliveries are due first', async () => {
        const slow = defineSubscription('order.created.v1', 'https://slow.example.com/', {
          id: 'sub-slow',
          maxConcurrency: 2,
        });
        const fast = defineSubscription('order.paid.v1', 'https://fast.example.com/', { id: 'sub-fast' });
        await subscriptions.syncCodeSubscriptions([slow, fast], 1);
        await events.appendEvents(Array.from({ length: 40 }, (_, i) => domainEvent(`evt-slow-${i}`)));
        await events.appendEvents(
          Array.from({ length: 10 }, (_, i) =>
            domainEvent(`evt-fast-${i}`, ['order.paid.v1'], { receivedAt: T0 + 1 }),
          ),
        );
        const count = (leased: readonly LeasedDelivery[], id: string) =>
          leased.filter((d) => d.subscriptionId === id).length;

        const first = await lease('a', T0 + 1, 5);
        expect([count(first, slow.id), count(first, fast.id)]).toEqual([2, 3]);
        const second = await lease('a', T0 + 1, 100);
        expect([count(second, slow.id), count(second, fast.id)]).toEqual([0, 7]);
      });
    });

    describe('recordAttempts', () => {
      it('applies decided outcomes: delivered, retrying (due again later), dead', async () => {
        await subscriptions.syncCodeSubscriptions([exactCreated], 1);
        await events.appendEvents([domainEvent('evt-ok'), domainEvent('evt-retry'), domainEvent('evt-dead')]);
        const leased = await lease('a');
        const of = async (eventId: string) => {
          const id = (await deliveriesOf(eventId))[exactCreated.id]!.id;
          return leased.find((d) => d.id === id)!;
        };

        await dispatch.recordAttempts([
          record(await of('evt-ok'), 'a', { status: 201, responseExcerpt: 'ok', durationMs: 7 }),
          record(await of('evt-retry'), 'a', {
            status: 500,
            next: 'retrying',
            nextAttemptAt: T0 + 5000,
            retried: 1,
          }),
          record(await of('evt-dead'), 'a', { status: 489, next: 'dead' }),
        ]);

        expect((await deliveriesOf('evt-ok'))[exactCreated.id]).toMatchObject({
          status: 'delivered',
          attempts: [
            { number: 1, at: T0 + 10, status: 201, durationMs: 7, error: null, responseExcerpt: 'ok' },
          ],
        });
        expect((await deliveriesOf('evt-retry'))[exactCreated.id]).toMatchObject({
          status: 'retrying',
          nextAttemptAt: T0 + 5000,
        });
        expect((await deliveriesOf('evt-dead'))[exactCreated.id]!.status).toBe('dead');
        expect(await lease('b', T0 + 4999)).toEqual([]);
        const [again] = await lease('b', T0 + 5000);
        expect(again).toMatchObject({ id: (await of('evt-retry')).id, attempts: 1, retried: 1 });
      });

      it("keeps a delivery's whole history in order: failed attempts as rows, the delivering one on its row", async () => {
        await subscriptions.syncCodeSubscriptions([exactCreated], 1);
        await events.appendEvents([domainEvent('evt-history')]);
        const [first] = await lease('a');
        await dispatch.recordAttempts([
          record(first!, 'a', {
            status: null,
            error: 'ECONNRESET',
            durationMs: 3,
            next: 'retrying',
            nextAttemptAt: T0 + 1000,
            retried: 1,
          }),
        ]);
        const [second] = await lease('a', T0 + 1000);
        const delivered = record(second!, 'a', {
          at: T0 + 1010,
          status: 204,
          durationMs: 9,
          responseExcerpt: 'fine',
        });
        await dispatch.recordAttempts([delivered]);
        // The same record again (a dispatcher's retry of its commit) changes nothing: no lease.
        await dispatch.recordAttempts([{ ...delivered, at: T0 + 2000, durationMs: 99 }]);

        expect((await deliveriesOf('evt-history'))[exactCreated.id]).toMatchObject({
          status: 'delivered',
          attempts: [
            {
              number: 1,
              at: T0 + 10,
              status: null,
              durationMs: 3,
              error: 'ECONNRESET',
              responseExcerpt: null,
            },
            { number: 2, at: T0 + 1010, status: 204, durationMs: 9, error: null, responseExcerpt: 'fine' },
          ],
        });
        // Stored as schema.ts says (0011): one `attempts` row, the delivering attempt on the delivery.
        expect(await h.harness.query('SELECT number FROM attempts')).toEqual([{ number: 1 }]);
        expect(
          await h.harness.query(
            'SELECT attempts, delivered_number, delivered_at, delivered_status, delivered_duration_ms, delivered_excerpt FROM deliveries',
          ),
        ).toEqual([
          {
            attempts: 2,
            delivered_number: 2,
            delivered_at: T0 + 1010,
            delivered_status: 204,
            delivered_duration_ms: 9,
            delivered_excerpt: 'fine',
          },
        ]);
      });

      it('drops the record of a dispatcher that lost its lease', async () => {
        await subscriptions.syncCodeSubscriptions([exactCreated], 1);
        await events.appendEvents([domainEvent('evt-lost')]);
        const [first] = await lease('crashed');
        const [taken] = await lease('b', T0 + LEASE_MS);
        expect(taken!.id).toBe(first!.id);

        await dispatch.recordAttempts([record(first!, 'crashed', { status: 500, next: 'dead' })]);
        await dispatch.recordAttempts([record(taken!, 'b', { at: T0 + LEASE_MS + 1 })]);

        const d = (await deliveriesOf('evt-lost'))[exactCreated.id]!;
        expect(d.status).toBe('delivered');
        expect(d.attempts.map((a) => [a.number, a.status])).toEqual([[1, 200]]);
      });

      it('records of several writers in one call: each applied only where its own writer holds the lease', async () => {
        await subscriptions.syncCodeSubscriptions([roomy], 1);
        await events.appendEvents([domainEvent('evt-w1'), domainEvent('evt-w2')]);
        const [lost, kept] = await lease('crashed', T0, 2);
        const [taken] = await lease('b', T0 + LEASE_MS, 1);
        expect(taken!.id).toBe(lost!.id);

        await dispatch.recordAttempts([
          record(lost!, 'crashed', { status: 500, next: 'dead' }),
          record(taken!, 'b', { at: T0 + LEASE_MS + 1 }),
          record(kept!, 'crashed', { status: 500, next: 'dead' }),
        ]);

        const byId = Object.fromEntries(
          [
            ...Object.values(await deliveriesOf('evt-w1')),
            ...Object.values(await deliveriesOf('evt-w2')),
          ].map((d) => [d.id, d] as const),
        );
        expect(byId[lost!.id]!.status).toBe('delivered');
        expect(byId[lost!.id]!.attempts.map((a) => a.status)).toEqual([200]);
        expect(byId[kept!.id]!.status).toBe('dead');
        expect(byId[kept!.id]!.attempts.map((a) => a.status)).toEqual([500]);
      });

      it('records a delivery whose id is stored as text (not hex) like the others, in one call with them', async () => {
        await subscriptions.syncCodeSubscriptions([roomy], 1);
        await events.appendEvents([
          domainEvent('evt-hex1'),
          domainEvent('evt-text'),
          domainEvent('evt-hex2'),
        ]);
        const idOf = async (eventId: string) => (await deliveriesOf(eventId))[roomy.id]!.id;
        const hexId = await idOf('evt-text');
        // An id of another shape is stored as the text it is (sql-ids.ts): one made that way here.
        await h.harness.query(`UPDATE deliveries SET id = 'Legacy-' || lower(hex(id)) WHERE id = unhex(?1)`, [
          hexId,
        ]);
        const leased = await lease('a');
        expect(leased.map((d) => d.id)).toEqual([
          await idOf('evt-hex1'),
          `Legacy-${hexId}`,
          await idOf('evt-hex2'),
        ]);

        await dispatch.recordAttempts([
          record(leased[0]!, 'a'),
          record(leased[1]!, 'a', { status: 500, next: 'dead' }),
          record(leased[2]!, 'a', { status: 500, next: 'dead' }),
        ]);

        const after = await Promise.all(['evt-hex1', 'evt-text', 'evt-hex2'].map(deliveriesOf));
        expect(
          after.map((d) => [d[roomy.id]!.id, d[roomy.id]!.status, d[roomy.id]!.attempts.length]),
        ).toEqual([
          [leased[0]!.id, 'delivered', 1],
          [`Legacy-${hexId}`, 'dead', 1],
          [leased[2]!.id, 'dead', 1],
        ]);
      });

      it('writes any number of records (chunked to the parameter limit)', async () => {
        await subscriptions.syncCodeSubscriptions([roomy], 1);
        await events.appendEvents(Array.from({ length: 150 }, (_, i) => domainEvent(`evt-many-${i}`)));
        const leased = await lease('a');
        expect(leased).toHaveLength(150);

        await dispatch.recordAttempts(leased.map((d) => record(d, 'a')));

        expect(await h.harness.count('attempt_log')).toBe(150);
        expect(await lease('b', T0 + LEASE_MS)).toEqual([]);
      });
    });

    describe('recordAndLease', () => {
      /** Per subscription id: the breaker's count and pause reason. */
      const breakers = async (): Promise<Record<string, [number, string | null]>> =>
        Object.fromEntries(
          (
            await h.harness.query(
              `SELECT sr.id, s.consecutive_failures AS n, s.paused_reason AS reason
               FROM subscriptions s JOIN subscription_refs sr ON sr.ref = s.ref`,
            )
          ).map((r) => [String(r.id), [Number(r.n), r.reason === null ? null : String(r.reason)]] as const),
        );

      it('records a batch of mixed outcomes in one call as one call per record would: rows, moves, counts', async () => {
        const breaking = defineSubscription(exactCreated.type, exactCreated.url, {
          id: exactCreated.id,
          maxConcurrency: 1000,
          pauseAfter: 1,
        });
        const counting = defineSubscription(prefixOrder.type, prefixOrder.url, {
          id: prefixOrder.id,
          maxConcurrency: 1000,
          pauseAfter: 5,
        });
        await subscriptions.syncCodeSubscriptions([breaking, counting], 1);
        await events.appendEvents(['m0', 'm1', 'm2', 'm3'].map((id) => domainEvent(`evt-${id}`)));
        const leased = await dispatch.recordAndLease!([], {
          owner: 'a',
          now: T0,
          leaseMs: LEASE_MS,
          limit: 100,
        });
        expect(leased).toHaveLength(8);
        const of = (subscriptionId: string) => leased.filter((d) => d.subscriptionId === subscriptionId);
        const [b0, b1, b2, b3] = of(breaking.id);
        const [c0, c1, c2, c3] = of(counting.id);
        // c3's lease lapses and another dispatcher takes it: its record in the batch is dropped.
        const [taken] = await dispatch.leaseDue({
          owner: 'b',
          now: T0 + LEASE_MS,
          leaseMs: LEASE_MS,
          limit: 1,
        });
        const at = T0 + LEASE_MS + 1;
        expect(taken?.id).toBeDefined();
        const lost = [b0, b1, b2, b3, c0, c1, c2, c3].find((d) => d!.id === taken!.id)!;
        const mine = [b0, b1, b2, b3, c0, c1, c2, c3].filter((d) => d !== lost).map((d) => d!);
        const outcomes: readonly Partial<AttemptRecord>[] = [
          { status: 500, next: 'retrying', nextAttemptAt: at + 1000, retried: 1, error: null },
          { status: 200, responseExcerpt: 'ok' },
          { status: null, next: 'retrying', nextAttemptAt: at + 2000, retried: 1, error: 'ECONNRESET' },
          { status: 489, next: 'dead', responseExcerpt: 'gone' },
        ];
        const outcome = (_: LeasedDelivery, i: number) => outcomes[i % outcomes.length]!;
        const records = mine.map((d, i) => record(d, 'a', { at, durationMs: i + 1, ...outcome(d, i) }));
        records.push(record(lost, 'a', { at, status: 500, next: 'dead' }));

        expect(
          await dispatch.recordAndLease!(records, { owner: 'a', now: at, leaseMs: LEASE_MS, limit: 0 }),
        ).toEqual([]);

        const attempts = await h.harness.query(
          'SELECT number, at, status, duration_ms, error, response_excerpt FROM attempt_log ORDER BY duration_ms',
        );
        expect(attempts).toEqual(
          mine.map((_, i) => {
            const o = outcome(mine[i]!, i);
            return {
              number: 1,
              at,
              status: o.status === undefined ? 200 : o.status,
              duration_ms: i + 1,
              error: o.error ?? null,
              response_excerpt: o.responseExcerpt ?? null,
            };
          }),
        );
        const views = new Map(
          (
            await Promise.all(
              ['m0', 'm1', 'm2', 'm3'].map(async (id) => Object.values(await deliveriesOf(`evt-${id}`))),
            )
          )
            .flat()
            .map((v) => [v.id, v] as const),
        );
        for (const r of records.slice(0, mine.length)) {
          expect(views.get(r.deliveryId)).toMatchObject({ status: r.next, nextAttemptAt: r.nextAttemptAt });
        }
        expect(views.get(lost.id)!.status).toBe('in_flight');
        // Per subscription in record order: a delivered attempt starts the count again, each failure adds one.
        const expected = (ds: LeasedDelivery[]) => {
          let n = 0;
          for (const d of ds) {
            const i = mine.indexOf(d);
            if (i < 0) continue;
            n = outcome(d, i).next === undefined ? 0 : n + 1;
          }
          return n;
        };
        const nb = expected(of(breaking.id));
        const nc = expected(of(counting.id));
        expect(await breakers()).toMatchObject({
          [breaking.id]: [nb, nb >= 1 ? 'failing' : null],
          [counting.id]: [nc, null],
        });
      });

      it('a batch of deliveries only sets back the count of the subscriptions it applies to', async () => {
        const failing = defineSubscription(exactCreated.type, exactCreated.url, {
          id: exactCreated.id,
          maxConcurrency: 1000,
          pauseAfter: 10,
        });
        const other = defineSubscription(exactPaid.type, exactPaid.url, { id: exactPaid.id, pauseAfter: 10 });
        await subscriptions.syncCodeSubscriptions([failing, other], 1);
        await events.appendEvents([
          domainEvent('evt-f0'),
          domainEvent('evt-f1'),
          domainEvent('evt-p0', ['order.paid.v1']),
        ]);
        const leased = await dispatch.leaseDue({ owner: 'a', now: T0, leaseMs: LEASE_MS, limit: 100 });
        const [f0, f1] = leased.filter((d) => d.subscriptionId === failing.id);
        const [p0] = leased.filter((d) => d.subscriptionId === other.id);
        await dispatch.recordAttempts([
          record(f0!, 'a', { status: 500, next: 'retrying', nextAttemptAt: T0 + 20, retried: 1 }),
          record(p0!, 'a', { status: 500, next: 'dead' }),
        ]);
        expect(await breakers()).toMatchObject({ [failing.id]: [1, null], [other.id]: [1, null] });

        await dispatch.recordAndLease!([record(f1!, 'a', { at: T0 + 20 })], {
          owner: 'a',
          now: T0 + 20,
          leaseMs: LEASE_MS,
          limit: 0,
        });
        expect(await breakers()).toMatchObject({ [failing.id]: [0, null], [other.id]: [1, null] });
      });

      it('records the attempts and leases the next ones in one call: the freed room is leased at once', async () => {
        const one = defineSubscription(exactCreated.type, exactCreated.url, {
          id: exactCreated.id,
          maxConcurrency: 2,
        });
        await subscriptions.syncCodeSubscriptions([one], 1);
        await events.appendEvents(Array.from({ length: 5 }, (_, i) => domainEvent(`evt-cycle-${i}`)));
        const recordAndLease = dispatch.recordAndLease!.bind(dispatch);
        expect(recordAndLease).toBeTypeOf('function');

        const first = await recordAndLease([], { owner: 'a', now: T0, leaseMs: LEASE_MS, limit: 10 });
        expect(first).toHaveLength(2);
        // Same millisecond, nothing recorded: no room, nothing leased, nothing leased twice.
        expect(await recordAndLease([], { owner: 'a', now: T0, leaseMs: LEASE_MS, limit: 10 })).toEqual([]);

        const next = await recordAndLease(
          first.map((d) => record(d, 'a')),
          { owner: 'a', now: T0 + 10, leaseMs: LEASE_MS, limit: 10 },
        );
        expect(next).toHaveLength(2);
        expect(new Set([...first, ...next].map((d) => d.id)).size).toBe(4);
        expect(next[0]).toMatchObject({
          url: exactCreated.url,
          attempts: 0,
          event: { type: exactCreated.type },
        });
        expect(await h.harness.count('attempt_log')).toBe(2);
        for (const d of first) {
          const id = d.id;
          const all = await Promise.all(Array.from({ length: 5 }, (_, i) => deliveriesOf(`evt-cycle-${i}`)));
          const found = all.map((x) => x[exactCreated.id]!).find((x) => x.id === id)!;
          expect(found.status).toBe('delivered');
        }

        // A lost lease's record is dropped here too; limit 0 only records.
        const [taken] = await lease('b', T0 + 10 + LEASE_MS, 1);
        expect(next.map((d) => d.id)).toContain(taken!.id);
        const mine = next.find((d) => d.id !== taken!.id)!;
        expect(
          await recordAndLease(
            next.map((d) => record(d, 'a', { at: T0 + 20 })),
            { owner: 'a', now: T0 + 20, leaseMs: LEASE_MS, limit: 0 },
          ),
        ).toEqual([]);
        expect(await h.harness.count('attempt_log')).toBe(3);
        const statuses = await Promise.all(
          Array.from({ length: 5 }, (_, i) => deliveriesOf(`evt-cycle-${i}`)),
        );
        const byId = new Map(
          statuses.map((x) => [x[exactCreated.id]!.id, x[exactCreated.id]!.status] as const),
        );
        expect(byId.get(mine.id)).toBe('delivered');
        expect(byId.get(taken!.id)).toBe('in_flight');
      });

      it('hands the body and every text back exactly as stored, through both leases', async () => {
        // Last of the suite: its lease at T0 moves the process's unique lease expiry on.
        // The read-back packs a row's fields into a JSON array: escapes, control characters,
        // line separators and astral characters must come back byte for byte (the signature
        // covers the body).
        const data = '{"note":"q\\"b\\\\s\\n\\u0000 é 😀 \u2028\t","n":1.50}';
        await subscriptions.syncCodeSubscriptions([roomy], 1);
        await events.appendEvents([
          domainEvent('evt-exact-1', [{ data, source: '/producers/ünï\u2028' }], { traceparent: null }),
          domainEvent('evt-exact-2', [{ data }]),
        ]);
        const [viaLease] = await lease('a', T0, 1);
        const [viaCycle] = await dispatch.recordAndLease!([], {
          owner: 'b',
          now: T0,
          leaseMs: LEASE_MS,
          limit: 1,
        });
        expect(viaLease).toMatchObject({
          traceparent: null,
          retryDelay: null,
          event: { id: 'evt-exact-1/ie0', source: '/producers/ünï\u2028', data },
        });
        expect(viaCycle).toMatchObject({
          traceparent: domainEvent('evt-exact-2').traceparent,
          event: { id: 'evt-exact-2/ie0', source: '/producers/billing', data },
        });
        expect(viaCycle!.event.data).toBe(data);
      });

      it('hands back many bodies of any text at once, each byte for byte, in acceptance order', async () => {
        // Last too, for the same reason. The read-back is one JSON array of every delivery it
        // read, bodies as JSON strings inside it: raw quotes, backslashes, every control character,
        // DEL, line separators, astral characters and a long body must all come back as stored.
        const controls = Array.from({ length: 32 }, (_, c) => String.fromCharCode(c)).join('');
        const bodies = [
          'not "json" at all \\ \\" \\u0041 \\n',
          `${controls}\u007f\u0080\u2028\u2029`,
          '["a",{"b":"\\"c\\""}]',
          '😀𝄞 é ü 中文 \ufeff',
          'x'.repeat(70_000),
          '{}',
          ' ',
        ];
        await subscriptions.syncCodeSubscriptions([roomy], 1);
        await events.appendEvents(
          bodies.map((data, i) => domainEvent(`evt-bodies-${i}`, [{ data }], { traceparent: null })),
        );
        const viaLease = await lease('bodies-a', T0, 3);
        const viaCycle = await dispatch.recordAndLease!([], {
          owner: 'bodies-b',
          now: T0,
          leaseMs: LEASE_MS,
          limit: 1000,
        });
        const back = [...viaLease, ...viaCycle];
        expect(back.map((d) => d.event.id)).toEqual(bodies.map((_, i) => `evt-bodies-${i}/ie0`));
        expect(back.map((d) => d.event.data)).toEqual(bodies);
      });
    });
  });
}
