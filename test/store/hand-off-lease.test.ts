import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DeliveryHandOff, HandOffOutcome, LeasedDelivery } from '../../src/core/dispatch-queue.ts';
import type { EventStore } from '../../src/core/event-store.ts';
import { defineSubscription } from '../../src/core/subscription.ts';
import { createSqlStores, type SqlStores } from '../../src/store/sql-stores.ts';
import { createTempDb, type TempDb } from '../support/temp-db.ts';
import { domainEvent, RECEIVED_AT } from './store-contract-fixtures.ts';

// The hand-off's side in the store (`eventsHandingOff`, `toHandOffLease`): which of the
// deliveries a commit writes it leases to the dispatcher, on a real libSQL file. It must take no
// more than the dispatcher's own lease (`leaseDue`) would at that moment: due now, subscription
// active, room under `max_concurrency`, first of its ordering key, nothing older of the
// subscription left waiting — and no more than the slots set aside.

const LEASE_MS = 30_000;
const NOW = RECEIVED_AT;
const OWNER = 'dispatcher-a';

let db: TempDb;
let stores: SqlStores;
beforeEach(async () => {
  db = await createTempDb();
  stores = createSqlStores({ driver: db.driver });
});
afterEach(async () => {
  await db.dispose();
});

/** A hand-off whose dispatcher sets `slots` aside per write, with the outcomes it was told. */
function handingOff(slots: number): {
  events: EventStore;
  outcomes: HandOffOutcome[];
  handOff: DeliveryHandOff;
} {
  const outcomes: HandOffOutcome[] = [];
  const handOff: DeliveryHandOff = {
    owner: OWNER,
    leaseMs: LEASE_MS,
    now: () => NOW,
    reserve: () => slots,
    settle: (outcome) => {
      outcomes.push(outcome);
    },
  };
  return { events: stores.eventsHandingOff(handOff), outcomes, handOff };
}

async function subscribe(...subs: Parameters<typeof defineSubscription>[]) {
  await stores.subscriptions.syncCodeSubscriptions(
    subs.map((args) => defineSubscription(...args)),
    NOW - 1000,
  );
}

/** Each delivery as stored, with its subscription's id, by integration event id then subscription. */
async function rows() {
  return db.driver.query(
    `SELECT sr.id AS sub, d.status, d.lease_owner, d.lease_expires_at FROM deliveries d
     JOIN subscription_refs sr ON sr.ref = d.subscription_ref
     JOIN integration_events ie ON ie.ref = d.integration_event_ref ORDER BY ie.id, sr.id`,
  );
}

const counts = (o: HandOffOutcome) => ({ reserved: o.reserved, leased: o.leased, unleased: o.unleased });

describe('the hand-off lease written by ingest', () => {
  it('leases the new due deliveries to the dispatcher in the commit, and reads them back as a lease would', async () => {
    await subscribe(
      ['order.created.v1', 'https://a.example.com/h', { id: 'sub-a' }],
      ['order.*', 'https://b.example.com/h', { id: 'sub-b', retries: 3, retryDelay: '1000' }],
    );
    const { events, outcomes } = handingOff(16);
    expect(await events.appendEvents([domainEvent('e1')])).toEqual({ ok: true });

    expect(outcomes.map(counts)).toEqual([{ reserved: 16, leased: 2, unleased: 0 }]);
    const stored = await rows();
    expect(stored.map((r) => [r.sub, r.status, r.lease_owner])).toEqual([
      ['sub-a', 'in_flight', OWNER],
      ['sub-b', 'in_flight', OWNER],
    ]);
    expect(Number(stored[0]!.lease_expires_at)).toBeGreaterThanOrEqual(NOW + LEASE_MS);
    const loaded: LeasedDelivery[] = await outcomes[0]!.load();
    expect(
      loaded.map((d) => [d.subscriptionId, d.url, d.maxRetries, d.retryDelay, d.attempts]).sort(),
    ).toEqual([
      ['sub-a', 'https://a.example.com/h', 10, null, 0],
      ['sub-b', 'https://b.example.com/h', 3, '1000', 0],
    ]);
    expect(loaded[0]!.event).toMatchObject({ id: 'e1/ie0', type: 'order.created.v1' });
    // Leased: the dispatcher's own lease finds nothing more.
    expect(
      await stores.dispatch.leaseDue({ owner: 'other', now: NOW, leaseMs: LEASE_MS, limit: 10 }),
    ).toEqual([]);
  });

  it('takes no more than the slots set aside; none set aside, none taken', async () => {
    await subscribe(['order.created.v1', 'https://a.example.com/h', { id: 'sub-a' }]);
    const one = handingOff(1);
    await one.events.appendEvents([domainEvent('e1'), domainEvent('e2'), domainEvent('e3')]);
    expect(one.outcomes.map(counts)).toEqual([{ reserved: 1, leased: 1, unleased: 2 }]);
    // The oldest of them.
    expect((await rows()).map((r) => r.status)).toEqual(['in_flight', 'pending', 'pending']);

    const none = handingOff(0);
    await none.events.appendEvents([domainEvent('e4')]);
    expect(none.outcomes.map(counts)).toEqual([{ reserved: 0, leased: 0, unleased: 1 }]);
    expect(await none.outcomes[0]!.load()).toEqual([]);
  });

  it('leaves to the poll what is not due yet, paused, out of room, or behind its ordering key', async () => {
    await subscribe(
      ['order.created.v1', 'https://a.example.com/h', { id: 'sub-one-at-a-time', maxConcurrency: 1 }],
      ['order.paid.v1', 'https://b.example.com/h', { id: 'sub-paused' }],
    );
    await stores.subscriptions.updateSubscription('sub-paused', { paused: true }, NOW - 500);
    const { events, outcomes } = handingOff(16);
    await events.appendEvents([
      domainEvent('later', ['order.created.v1'], { notBefore: NOW + 60_000 }),
      domainEvent('paid', ['order.paid.v1']),
      // Two for a subscription with room for one: the first goes.
      domainEvent('c1'),
      domainEvent('c2'),
    ]);
    // By event: c1, c2, later, paid.
    expect((await rows()).map((r) => [r.sub, r.status])).toEqual([
      ['sub-one-at-a-time', 'in_flight'],
      ['sub-one-at-a-time', 'pending'],
      ['sub-one-at-a-time', 'pending'],
      ['sub-paused', 'pending'],
    ]);
    expect(outcomes.map(counts)).toEqual([{ reserved: 16, leased: 1, unleased: 3 }]);
  });

  it('keeps ordering keys: only the first unsettled delivery of a key is leased, in this group or after it', async () => {
    await subscribe(['order.created.v1', 'https://a.example.com/h', { id: 'sub-a', maxConcurrency: 100 }]);
    const { events, outcomes } = handingOff(16);
    const keyed = (id: string, key: string) => domainEvent(id, [{ orderingKey: key }]);
    await events.appendEvents([keyed('k1', 'o-1'), keyed('k2', 'o-1'), keyed('k3', 'o-2')]);
    expect((await rows()).map((r) => r.status)).toEqual(['in_flight', 'pending', 'in_flight']);
    await events.appendEvents([keyed('k4', 'o-1'), keyed('k5', 'o-3')]);
    // k4 waits behind k1 (and k2). k5's key is free, but k2 waits before it in the subscription
    // (due, pending): the hand-off does not look past it, the poll (nudged) takes k5.
    expect((await rows()).map((r) => r.status)).toEqual([
      'in_flight',
      'pending',
      'in_flight',
      'pending',
      'pending',
    ]);
    expect(outcomes.map(counts)).toEqual([
      { reserved: 16, leased: 2, unleased: 1 },
      { reserved: 16, leased: 0, unleased: 2 },
    ]);
    const polled = await stores.dispatch.leaseDue({ owner: OWNER, now: NOW, leaseMs: LEASE_MS, limit: 10 });
    expect(polled.map((d) => d.event.id)).toEqual(['k5/ie0']);
  });

  it('never overtakes: a subscription with an older due delivery waiting gets none', async () => {
    await subscribe(['order.created.v1', 'https://a.example.com/h', { id: 'sub-a', maxConcurrency: 100 }]);
    // Accepted without a hand-off (an API process, a full dispatcher): due, waiting for the poll.
    await stores.events.appendEvents([domainEvent('old')]);
    const { events, outcomes } = handingOff(16);
    await events.appendEvents([domainEvent('new')]);
    expect((await rows()).map((r) => r.status)).toEqual(['pending', 'pending']);
    expect(outcomes.map(counts)).toEqual([{ reserved: 16, leased: 0, unleased: 1 }]);
    // The poll takes them, oldest first.
    const leased = await stores.dispatch.leaseDue({ owner: OWNER, now: NOW, leaseMs: LEASE_MS, limit: 1 });
    expect(leased.map((d) => d.event.id)).toEqual(['old/ie0']);
  });

  it('a write that fails settles with nothing leased, so the slots go back', async () => {
    await subscribe(['order.created.v1', 'https://a.example.com/h', { id: 'sub-a' }]);
    const { events, outcomes } = handingOff(16);
    await events.appendEvents([domainEvent('e1')]);
    expect(await events.appendEvents([domainEvent('e1')])).toEqual({ ok: false, existing: ['e1'] });
    expect(outcomes.map(counts)).toEqual([
      { reserved: 16, leased: 1, unleased: 0 },
      { reserved: 16, leased: 0, unleased: 0 },
    ]);
  });
});
