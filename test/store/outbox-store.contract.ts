import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  AppendResult,
  CallbackReport,
  DeliveryView,
  EventView,
  LeasedForPublish,
  NewDomainEvent,
  NewIntegrationEvent,
  OutboxStore,
} from '../../src/core/outbox-store.ts';
import { defaultRetryDelayMs } from '../../src/core/retry-policy.ts';
import { defineSubscription } from '../../src/core/subscription.ts';

/** What each adapter's test hands the contract: a fresh, migrated, empty store. */
export interface OutboxStoreHarness {
  readonly store: OutboxStore;
  /** Rows in a table, for "nothing was written" assertions. */
  count(table: string): Promise<number>;
  dispose(): Promise<void>;
}

/** The tables an append writes to. */
const WRITTEN_TABLES = ['domain_events', 'integration_events', 'deliveries'] as const;

const RECEIVED_AT = Date.UTC(2026, 0, 15, 9, 30, 0);

/** Subscriptions as the operator declares them; rows exist only through `syncCodeSubscriptions`. */
const exactCreated = defineSubscription('order.created.v1', 'https://billing.example.com/hooks/created', {
  id: 'sub-exact-created',
});
const prefixOrder = defineSubscription('order.*', 'https://audit.example.com/hooks/orders', {
  id: 'sub-prefix-order',
  retries: 3,
  retryDelay: '1000',
});
const exactPaid = defineSubscription('order.paid.v1', 'https://mail.example.com/hooks/paid', {
  id: 'sub-exact-paid',
});
const prefixShipment = defineSubscription('shipment.*', 'https://ship.example.com/hooks', {
  id: 'sub-prefix-shipment',
});

/** A domain event whose integration events get ids `<id>/ie<n>` unless given. */
function domainEvent(
  id: string,
  integration: readonly (string | Partial<NewIntegrationEvent>)[] = ['order.created.v1'],
  overrides: Partial<Omit<NewDomainEvent, 'integrationEvents'>> = {},
): NewDomainEvent {
  return {
    id,
    type: 'OrderCreated',
    source: 'billing',
    data: JSON.stringify({ order: { id: `o-${id}`, total: 42.5 } }),
    occurredAt: '2026-01-15T09:29:59.000Z',
    metadata: JSON.stringify({ tenant: 't-1' }),
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    receivedAt: RECEIVED_AT,
    integrationEvents: integration.map((ie, n) => {
      const given = typeof ie === 'string' ? { type: ie } : ie;
      return {
        id: `${id}/ie${n}`,
        type: 'order.created.v1',
        source: '/producers/billing',
        time: '2026-01-15T09:30:00.000Z',
        data: JSON.stringify({ orderId: `o-${id}`, n }),
        ...given,
      };
    }),
    ...overrides,
  };
}

function sortedBy<T>(items: readonly T[], key: (item: T) => string): T[] {
  return [...items].sort((a, b) => key(a).localeCompare(key(b)));
}

/** `[subscriptionId, url]` of each delivery, order-free (deliveries have no defined order). */
function targets(deliveries: readonly DeliveryView[]): [string, string][] {
  return sortedBy(deliveries, (d) => d.subscriptionId).map((d) => [d.subscriptionId, d.url]);
}

function rejected(result: AppendResult): readonly string[] {
  if (result.ok) throw new Error('expected the append to be refused');
  return result.existing;
}

/**
 * The behaviour every `OutboxStore` adapter owes the mesh, through the port only (plus a row
 * count), so the libSQL file store and the D1 store run the same suite.
 * @example describeOutboxStoreContract('libSQL file', async () => ({ store, count, dispose }));
 */
export function describeOutboxStoreContract(name: string, open: () => Promise<OutboxStoreHarness>): void {
  describe(`OutboxStore contract: ${name}`, () => {
    let harness: OutboxStoreHarness;
    let store: OutboxStore;

    const counts = async () =>
      Object.fromEntries(
        await Promise.all(WRITTEN_TABLES.map(async (t) => [t, await harness.count(t)] as const)),
      );

    const view = async (id: string): Promise<EventView> => {
      const found = await store.getEvent(id);
      if (!found) throw new Error(`event ${id} not found`);
      return found;
    };

    beforeEach(async () => {
      harness = await open();
      store = harness.store;
    });

    afterEach(async () => {
      await harness.dispose();
    });

    it('answers ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    describe('appendEvents', () => {
      it('writes the event, its integration events and one delivery per matching subscription', async () => {
        await store.syncCodeSubscriptions([exactCreated, prefixOrder, exactPaid, prefixShipment], 1);
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
        await store.syncCodeSubscriptions([prefixOrder], 1);
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
        await store.syncCodeSubscriptions([exactCreated, prefixOrder], 1);
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
        await store.syncCodeSubscriptions([exactCreated], 1);
        await store.appendEvents([domainEvent('evt-before')]);
        const moved = defineSubscription('order.created.v1', 'https://billing-v2.example.com/hooks', {
          id: exactCreated.id,
        });
        await store.syncCodeSubscriptions([moved], 2);
        await store.appendEvents([domainEvent('evt-after')]);

        expect(targets((await view('evt-before')).integrationEvents[0]!.deliveries)).toEqual([
          [exactCreated.id, exactCreated.url],
        ]);
        expect(targets((await view('evt-after')).integrationEvents[0]!.deliveries)).toEqual([
          [exactCreated.id, 'https://billing-v2.example.com/hooks'],
        ]);
      });

      it('gives a subscription synced after an event no deliveries for that event', async () => {
        await store.syncCodeSubscriptions([exactCreated], 1);
        await store.appendEvents([domainEvent('evt-early')]);
        await store.syncCodeSubscriptions([exactCreated, prefixOrder], 2);

        expect(targets((await view('evt-early')).integrationEvents[0]!.deliveries)).toEqual([
          [exactCreated.id, exactCreated.url],
        ]);
        expect(await harness.count('deliveries')).toBe(1);
      });

      it('writes no deliveries for an event with zero integration events', async () => {
        await store.syncCodeSubscriptions([exactCreated, prefixOrder], 1);

        expect(await store.appendEvents([domainEvent('evt-quiet', [])])).toEqual({ ok: true });

        expect(await counts()).toEqual({ domain_events: 1, integration_events: 0, deliveries: 0 });
        expect((await view('evt-quiet')).integrationEvents).toEqual([]);
      });

      it('writes deliveries only for the events that have integration events in a mixed batch', async () => {
        await store.syncCodeSubscriptions([exactCreated], 1);

        await store.appendEvents([domainEvent('evt-a', []), domainEvent('evt-b'), domainEvent('evt-c', [])]);

        expect(await counts()).toEqual({ domain_events: 3, integration_events: 1, deliveries: 1 });
      });

      it('writes nothing and names the id when the event exists already', async () => {
        await store.syncCodeSubscriptions([exactCreated], 1);
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

      it('is all-or-nothing: one existing id in a batch keeps the new ones out too', async () => {
        await store.syncCodeSubscriptions([exactCreated], 1);
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
        expect(await harness.count('domain_events')).toBe(2);
      });

      it('treats an empty batch as done', async () => {
        expect(await store.appendEvents([])).toEqual({ ok: true });
        expect(await counts()).toEqual({ domain_events: 0, integration_events: 0, deliveries: 0 });
      });

      it('round-trips a big batch (300 events, 2 integration events each)', async () => {
        await store.syncCodeSubscriptions([exactCreated, prefixOrder], 1);
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
            integrationEvents: e.integrationEvents.map((ie) => ({ id: ie.id, type: ie.type })),
          })),
        );
        const last = await view('big-299');
        expect(last.integrationEvents.map((ie) => ie.deliveries.length)).toEqual([2, 1]);
      });
    });

    describe('concurrent appends (group commit)', () => {
      it('stores all of 100 appends submitted at once', async () => {
        await store.syncCodeSubscriptions([exactCreated], 1);
        const events = Array.from({ length: 100 }, (_, i) => domainEvent(`par-${i}`));

        const results = await Promise.all(events.map((e) => store.appendEvents([e])));

        expect(results).toEqual(events.map(() => ({ ok: true })));
        expect(await counts()).toEqual({ domain_events: 100, integration_events: 100, deliveries: 100 });
        expect(await store.findEvents(events.map((e) => e.id))).toHaveLength(100);
      });

      it('lets exactly one of 20 simultaneous copies of an id in, and tells the rest it exists', async () => {
        await store.syncCodeSubscriptions([exactCreated], 1);
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
        expect(await harness.count('domain_events')).toBe(5);
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
            integrationEvents: [],
          },
          {
            id: 'evt-find',
            type: event.type,
            source: event.source,
            data: event.data,
            occurredAt: event.occurredAt,
            metadata: event.metadata,
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
        await store.syncCodeSubscriptions([exactCreated, prefixOrder], 1);
        const event = domainEvent('evt-view', [
          { id: 'ie-2', type: 'order.paid.v1', data: '{"orderId":"o-1","amount":3}' },
          {
            id: 'ie-1',
            type: 'order.created.v1',
            data: '{"orderId":"o-1"}',
            time: '2026-01-15T09:30:01.000Z',
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
          },
          {
            id: 'ie-1',
            type: 'order.created.v1',
            source: '/producers/billing',
            time: '2026-01-15T09:30:01.000Z',
            data: '{"orderId":"o-1"}',
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

    describe('syncCodeSubscriptions', () => {
      it('upserts: declaring the same id again changes its type, URL and policy', async () => {
        await store.syncCodeSubscriptions([exactCreated], 1);
        const changed = defineSubscription('order.paid.v1', 'https://billing.example.com/hooks/paid', {
          id: exactCreated.id,
        });
        await store.syncCodeSubscriptions([changed], 2);
        await store.appendEvents([domainEvent('evt-up', ['order.created.v1', 'order.paid.v1'])]);

        expect(await harness.count('subscriptions')).toBe(1);
        const [created, paid] = (await view('evt-up')).integrationEvents;
        expect(created!.deliveries).toEqual([]);
        expect(targets(paid!.deliveries)).toEqual([
          [exactCreated.id, 'https://billing.example.com/hooks/paid'],
        ]);
      });

      it('retires code subscriptions no longer declared: they match nothing new', async () => {
        await store.syncCodeSubscriptions([exactCreated, prefixOrder], 1);
        await store.appendEvents([domainEvent('evt-before')]);
        await store.syncCodeSubscriptions([exactCreated], 2);
        await store.appendEvents([domainEvent('evt-after')]);

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
        await store.syncCodeSubscriptions([exactCreated, prefixOrder], 1);
        await store.syncCodeSubscriptions([], 2);
        await store.appendEvents([domainEvent('evt-none')]);
        await store.syncCodeSubscriptions([prefixOrder], 3);
        await store.appendEvents([domainEvent('evt-back')]);

        expect((await view('evt-none')).integrationEvents[0]!.deliveries).toEqual([]);
        expect(targets((await view('evt-back')).integrationEvents[0]!.deliveries)).toEqual([
          [prefixOrder.id, prefixOrder.url],
        ]);
      });

      it('is idempotent', async () => {
        await store.syncCodeSubscriptions([exactCreated, prefixOrder], 1);
        await store.syncCodeSubscriptions([exactCreated, prefixOrder], 2);
        await store.appendEvents([domainEvent('evt-1')]);

        expect(await harness.count('subscriptions')).toBe(2);
        expect(await harness.count('deliveries')).toBe(2);
      });
    });

    describe('publishing transports (leaseForPublish, markPublished, markPublishFailed, applyCallback)', () => {
      const LEASE_MS = 30_000;
      const T0 = RECEIVED_AT;

      const lease = (owner: string, now = T0, limit = 1000) =>
        store.leaseForPublish({ owner, now, leaseMs: LEASE_MS, limit });

      /** The deliveries of an event's first integration event, by subscription id. */
      const deliveriesOf = async (eventId: string): Promise<Record<string, DeliveryView>> =>
        Object.fromEntries(
          (await view(eventId)).integrationEvents[0]!.deliveries.map((d) => [d.subscriptionId, d] as const),
        );

      /** Leases and publishes everything due, each under message id `msg-<delivery id>`. */
      const publishAll = async (now = T0) => {
        const leased = await lease('publisher', now);
        await store.markPublished(
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
        await store.syncCodeSubscriptions([exactCreated, prefixOrder], 1);
        await store.appendEvents([domainEvent('evt-pub')]);

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

      it('never hands one delivery to two overlapping publishers, and honours the limit', async () => {
        await store.syncCodeSubscriptions([exactCreated], 1);
        await store.appendEvents(Array.from({ length: 30 }, (_, i) => domainEvent(`evt-par-${i}`)));

        const batches = await Promise.all(Array.from({ length: 5 }, (_, i) => lease(`p${i}`, T0, 10)));

        for (const b of batches) expect(b.length).toBeLessThanOrEqual(10);
        const ids = batches.flat().map((d) => d.id);
        expect(ids).toHaveLength(30);
        expect(new Set(ids).size).toBe(30);
      });

      it('markPublished: in_flight and never leased again; a lost lease or another generation is dropped', async () => {
        await store.syncCodeSubscriptions([exactCreated, prefixOrder], 1);
        await store.appendEvents([domainEvent('evt-mark')]);
        const leased = sortedBy(await lease('a'), (d) => d.subscriptionId);
        const [mine, other] = leased as [LeasedForPublish, LeasedForPublish];

        await store.markPublished([
          { deliveryId: mine.id, owner: 'a', generation: 0, messageId: 'msg-1', at: T0 + 5 },
          { deliveryId: other.id, owner: 'not-a', generation: 0, messageId: 'msg-2', at: T0 + 5 },
        ]);
        await store.markPublished([
          { deliveryId: other.id, owner: 'a', generation: 1, messageId: 'msg-3', at: T0 + 5 },
        ]);

        const after = await deliveriesOf('evt-mark');
        expect(after[exactCreated.id]!.status).toBe('in_flight');
        expect(after[prefixOrder.id]!.status).toBe('pending');
        const later = await lease('b', T0 + LEASE_MS);
        expect(later.map((d) => d.id)).toEqual([other.id]);
        // Only the recorded message id is known to callbacks.
        expect(await store.applyCallback(report('msg-2'))).toBe('unknown');
        expect(await store.applyCallback(report('msg-3'))).toBe('unknown');
        expect(await store.applyCallback(report('msg-1'))).toBe('applied');
      });

      it('markPublished writes any number of records (chunked to the parameter limit)', async () => {
        await store.syncCodeSubscriptions([exactCreated], 1);
        await store.appendEvents(Array.from({ length: 150 }, (_, i) => domainEvent(`evt-many-${i}`)));

        expect(await publishAll()).toHaveLength(150);

        expect(await lease('b', T0 + LEASE_MS)).toEqual([]);
        const statuses = await Promise.all(
          [0, 74, 149].map(async (i) => (await deliveriesOf(`evt-many-${i}`))[exactCreated.id]!.status),
        );
        expect(statuses).toEqual(['in_flight', 'in_flight', 'in_flight']);
      });

      it('markPublishFailed: lease cleared, due again later, still pending; the last delay is reported', async () => {
        await store.syncCodeSubscriptions([exactCreated], 1);
        await store.appendEvents([domainEvent('evt-fail')]);
        const [d] = await lease('a');

        await store.markPublishFailed([
          { deliveryId: d!.id, owner: 'a', at: T0 + 100, nextAttemptAt: T0 + 2100 },
        ]);

        const stored = (await deliveriesOf('evt-fail'))[exactCreated.id]!;
        expect(stored).toMatchObject({ status: 'pending', nextAttemptAt: T0 + 2100, attempts: [] });
        expect(await lease('b', T0 + 2099)).toEqual([]);
        const [again] = await lease('b', T0 + 2100);
        expect(again).toMatchObject({ id: d!.id, lastPublishDelayMs: 2000 });
        // A failure reported by a publisher that lost its lease changes nothing.
        await store.markPublishFailed([
          { deliveryId: d!.id, owner: 'a', at: T0 + 2200, nextAttemptAt: T0 + 9999 },
        ]);
        expect((await deliveriesOf('evt-fail'))[exactCreated.id]!.nextAttemptAt).toBe(T0 + 2100);
      });

      it('applyCallback: a 2xx delivers and records the attempt; the same callback again is a duplicate', async () => {
        await store.syncCodeSubscriptions([exactCreated], 1);
        await store.appendEvents([domainEvent('evt-ok')]);
        const [d] = await publishAll();

        expect(await store.applyCallback(report('msg-unknown'))).toBe('unknown');
        const ok = report(`msg-${d!.id}`, { status: 201, responseExcerpt: '{"ok":true}', durationMs: 7 });
        expect(await store.applyCallback(ok)).toBe('applied');
        expect(await store.applyCallback(ok)).toBe('duplicate');

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
      });

      it('applyCallback: failures retry on the subscription policy, then die when the retries run out', async () => {
        await store.syncCodeSubscriptions([exactCreated, prefixOrder], 1);
        await store.appendEvents([domainEvent('evt-retry')]);
        await publishAll();
        const before = await deliveriesOf('evt-retry');
        const plain = `msg-${before[exactCreated.id]!.id}`;
        const withDelay = `msg-${before[prefixOrder.id]!.id}`;

        expect(await store.applyCallback(report(plain, { status: 500, maxRetries: 2, at: T0 + 10 }))).toBe(
          'applied',
        );
        expect(
          await store.applyCallback(report(withDelay, { status: 503, maxRetries: 3, at: T0 + 10 })),
        ).toBe('applied');
        let now = await deliveriesOf('evt-retry');
        expect(now[exactCreated.id]).toMatchObject({
          status: 'retrying',
          nextAttemptAt: T0 + 10 + defaultRetryDelayMs(0),
        });
        // `retryDelay: '1000'` on the subscription.
        expect(now[prefixOrder.id]).toMatchObject({ status: 'retrying', nextAttemptAt: T0 + 1010 });

        await store.applyCallback(
          report(plain, { status: null, error: 'timeout', retried: 1, maxRetries: 2 }),
        );
        await store.applyCallback(report(plain, { status: 500, retried: 2, maxRetries: 2, at: T0 + 99 }));
        // The failure callback repeats the last attempt: nothing new.
        expect(
          await store.applyCallback(report(plain, { status: 500, retried: 2, maxRetries: 2, failure: true })),
        ).toBe('duplicate');
        now = await deliveriesOf('evt-retry');
        expect(now[exactCreated.id]!.status).toBe('dead');
        expect(now[exactCreated.id]!.attempts.map((a) => [a.number, a.status, a.error])).toEqual([
          [1, 500, null],
          [2, null, 'timeout'],
          [3, 500, null],
        ]);
      });

      it('applyCallback: 489 non-retryable or a failure callback is dead at once; 489 alone retries', async () => {
        await store.syncCodeSubscriptions([exactCreated], 1);
        await store.appendEvents([domainEvent('evt-a'), domainEvent('evt-b'), domainEvent('evt-c')]);
        await publishAll();
        const msg = async (id: string) => `msg-${(await deliveriesOf(id))[exactCreated.id]!.id}`;

        await store.applyCallback(report(await msg('evt-a'), { status: 489, nonRetryable: true }));
        await store.applyCallback(report(await msg('evt-b'), { status: 489 }));
        await store.applyCallback(report(await msg('evt-c'), { status: 500, failure: true }));

        expect((await deliveriesOf('evt-a'))[exactCreated.id]!.status).toBe('dead');
        expect((await deliveriesOf('evt-b'))[exactCreated.id]!.status).toBe('retrying');
        expect((await deliveriesOf('evt-c'))[exactCreated.id]!.status).toBe('dead');
      });

      it('applyCallback never moves backwards: late reports of older attempts are recorded, not obeyed', async () => {
        await store.syncCodeSubscriptions([exactCreated, prefixOrder], 1);
        await store.appendEvents([domainEvent('evt-late')]);
        await publishAll();
        const ids = await deliveriesOf('evt-late');
        const delivered = `msg-${ids[exactCreated.id]!.id}`;
        const retrying = `msg-${ids[prefixOrder.id]!.id}`;

        // Attempt 2 succeeded; the report of attempt 1 (a 500) comes after it.
        await store.applyCallback(report(delivered, { status: 200, retried: 1, at: T0 + 50 }));
        expect(await store.applyCallback(report(delivered, { status: 500, retried: 0, at: T0 + 60 }))).toBe(
          'applied',
        );
        // Attempt 2 failed and set the schedule; attempt 1's report must not set an older one.
        await store.applyCallback(report(retrying, { status: 500, retried: 1, maxRetries: 3, at: T0 + 50 }));
        await store.applyCallback(report(retrying, { status: 500, retried: 0, maxRetries: 3, at: T0 + 60 }));
        // Dead stays dead, whatever arrives after.
        await store.applyCallback(report(retrying, { status: 500, retried: 3, maxRetries: 3, at: T0 + 70 }));
        await store.applyCallback(report(retrying, { status: 200, retried: 2, maxRetries: 3, at: T0 + 80 }));

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

      it('applyCallback keeps the schedule of the newest attempt while retrying', async () => {
        await store.syncCodeSubscriptions([prefixOrder], 1);
        await store.appendEvents([domainEvent('evt-order')]);
        await publishAll();
        const msg = `msg-${(await deliveriesOf('evt-order'))[prefixOrder.id]!.id}`;

        await store.applyCallback(report(msg, { status: 500, retried: 1, maxRetries: 3, at: T0 + 50 }));
        await store.applyCallback(report(msg, { status: 500, retried: 0, maxRetries: 3, at: T0 + 60 }));

        expect((await deliveriesOf('evt-order'))[prefixOrder.id]).toMatchObject({
          status: 'retrying',
          nextAttemptAt: T0 + 1050,
        });
      });
    });
  });
}
