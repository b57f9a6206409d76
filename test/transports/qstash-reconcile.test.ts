import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_RECONCILE_GRACE_MS } from '../../src/transports/qstash-reconciler.ts';
import { orderCreated } from '../support/test-mesh.ts';
import {
  deliveryOf,
  disposeAll,
  postEvent,
  runQStash,
  type Setup,
  setup,
  userMessages,
} from './qstash-fixture.ts';

// Deliveries whose QStash callbacks never arrive: the sweep asks QStash (`GET /v2/messages/{id}`,
// through the SDK's `messages.get`) about those silent past their expected report plus the grace,
// leaves alone what QStash still holds, and publishes again, under a new generation, what it no
// longer has. Against the QStash double, which can lose the callbacks to a URL.

afterEach(disposeAll);

const GRACE = DEFAULT_RECONCILE_GRACE_MS;
const none = { checked: 0, held: 0, lost: 0, unanswered: 0 };

/** Posts, publishes and lets QStash make the first attempt of one event's delivery. */
async function publishAndAttempt(s: Setup, id: string) {
  await postEvent(s.mesh, id);
  expect(await s.transport.publishDue()).toEqual({ published: 1, failed: 0 });
  await s.q.deliverDue();
  return deliveryOf(s.mesh, id);
}

describe('QStash reconciliation — callbacks that never arrive', () => {
  it('a delivered message whose callback was lost: after the grace QStash answers 404, it is published again, and the new callback delivers it', async () => {
    const s = await setup(() => ({ status: 200 }));
    s.q.loseCallbacksTo(s.callbackUrl);
    const publishedAt = s.mesh.clock.now();
    const before = await publishAndAttempt(s, 'e1');
    expect(s.destination.requests).toHaveLength(1);
    expect(userMessages(s.q)[0]!.state).toBe('delivered');
    expect(s.q.lostCallbacks).toBe(1);
    expect(before.status).toBe('in_flight');

    // Within the grace nobody asks QStash anything.
    expect(await s.reconciler.reconcile()).toEqual(none);
    s.mesh.clock.set(publishedAt + GRACE - 1);
    expect(await s.reconciler.reconcile()).toEqual(none);
    expect(s.q.calls.messages).toBe(0);

    s.mesh.clock.set(publishedAt + GRACE);
    expect(await s.reconciler.reconcile()).toEqual({ checked: 1, held: 0, lost: 1, unanswered: 0 });
    expect(s.q.calls.messages).toBe(1);
    expect(s.lost).toEqual([{ deliveryId: before.id, messageId: userMessages(s.q)[0]!.id }]);
    expect(await deliveryOf(s.mesh, 'e1')).toMatchObject({ status: 'pending', attempts: [] });

    s.q.loseCallbacksTo(null);
    expect(await s.transport.publishDue()).toEqual({ published: 1, failed: 0 });
    // A new message under a new deduplication id: the old one would have been answered with the
    // first message's id and nothing sent.
    expect(userMessages(s.q).map((m) => m.dedupId)).toEqual([`${before.id}-0`, `${before.id}-1`]);
    await runQStash(s);

    // Delivered twice (at least once; a handler's inbox absorbs the copy), the same ce-id both times.
    expect(s.destination.requests.map((r) => r.headers['ce-id'])).toEqual([
      s.destination.requests[0]!.headers['ce-id'],
      s.destination.requests[0]!.headers['ce-id'],
    ]);
    const after = await deliveryOf(s.mesh, 'e1');
    expect(after.status).toBe('delivered');
    expect(after.attempts.map((a) => [a.number, a.status])).toEqual([[1, 200]]);
    // Settled: never asked about again, nothing left to publish.
    s.mesh.clock.advance(30 * 86_400_000);
    expect(await s.reconciler.reconcile()).toEqual(none);
    expect(await s.transport.publishDue()).toEqual({ published: 0, failed: 0 });
    expect(s.q.calls.messages).toBe(1);
  });

  it('a message QStash is still retrying is left alone and asked about again only a grace later; once QStash gives up unheard, it is published again', async () => {
    let status = 500;
    const s = await setup(() => ({ status }), { sub: { retries: 3 } });
    s.q.loseCallbacksTo(s.callbackUrl);
    const publishedAt = s.mesh.clock.now();
    const before = await publishAndAttempt(s, 'e1');
    const [message] = userMessages(s.q);
    expect(message!.state).toBe('pending');

    s.mesh.clock.set(publishedAt + GRACE);
    expect(await s.reconciler.reconcile()).toEqual({ checked: 1, held: 1, lost: 0, unanswered: 0 });
    expect(await deliveryOf(s.mesh, 'e1')).toEqual(before);
    // Checked: not asked again every sweep, only once the grace has passed again.
    expect(await s.reconciler.reconcile()).toEqual(none);
    s.mesh.clock.advance(GRACE - 1);
    expect(await s.reconciler.reconcile()).toEqual(none);
    s.mesh.clock.advance(1);
    expect(await s.reconciler.reconcile()).toEqual({ checked: 1, held: 1, lost: 0, unanswered: 0 });
    expect(s.q.calls.messages).toBe(2);
    expect(await s.transport.publishDue()).toEqual({ published: 0, failed: 0 });

    // QStash runs out of retries; every callback and the failure callback are lost.
    await runQStash(s);
    expect(message!.state).toBe('failed');
    expect(s.q.lostCallbacks).toBe(5);
    expect((await deliveryOf(s.mesh, 'e1')).status).toBe('in_flight');

    s.mesh.clock.advance(GRACE);
    expect(await s.reconciler.reconcile()).toMatchObject({ checked: 1, lost: 1 });
    s.q.loseCallbacksTo(null);
    status = 200;
    expect(await s.transport.publishDue()).toEqual({ published: 1, failed: 0 });
    await runQStash(s);
    expect((await deliveryOf(s.mesh, 'e1')).status).toBe('delivered');
  });

  it('a retrying delivery is overdue only a grace after its next attempt was due', async () => {
    const s = await setup(() => ({ status: 500 }));
    const retrying = await publishAndAttempt(s, 'e1');
    expect(retrying.status).toBe('retrying');
    const nextAt = Date.parse(retrying.nextAttemptAt!);
    // The callbacks of the next attempts are lost (QStash is not even run here: it still holds the message).
    s.q.loseCallbacksTo(s.callbackUrl);

    s.mesh.clock.set(nextAt + GRACE - 1);
    expect(await s.reconciler.reconcile()).toEqual(none);
    s.mesh.clock.set(nextAt + GRACE);
    expect(await s.reconciler.reconcile()).toEqual({ checked: 1, held: 1, lost: 0, unanswered: 0 });
    expect(await deliveryOf(s.mesh, 'e1')).toMatchObject({
      status: 'retrying',
      nextAttemptAt: retrying.nextAttemptAt,
    });
  });

  it('states never go backwards: delivered and dead deliveries are never asked about; a callback landing meanwhile wins over a 404', async () => {
    let held: Setup | undefined;
    const s = await setup(
      (req) =>
        req.body.includes('o-dead')
          ? { status: 489, headers: { 'upstash-nonretryable-error': 'true' } }
          : { status: 200 },
      {
        // QStash answers 404 (the message is delivered), and the callback it was still retrying
        // lands before the answer is acted on.
        wrapReader: (client) => ({
          messages: {
            async get(id) {
              try {
                return await client.messages.get(id);
              } finally {
                held!.gate = null;
                await held!.q.deliverDue();
              }
            },
          },
        }),
      },
    );
    held = s;
    await publishAndAttempt(s, 'done');
    await publishAndAttempt(s, 'dead');
    expect((await deliveryOf(s.mesh, 'done')).status).toBe('delivered');
    expect((await deliveryOf(s.mesh, 'dead')).status).toBe('dead');
    s.mesh.clock.advance(30 * 86_400_000);
    expect(await s.reconciler.reconcile()).toEqual(none);
    expect(s.q.calls.messages).toBe(0);

    // The mesh is briefly unable to take the callback: QStash holds it and retries it later.
    s.gate = () => new Response(null, { status: 503 });
    const before = await publishAndAttempt(s, 'late');
    expect(before.status).toBe('in_flight');
    s.mesh.clock.advance(GRACE);
    expect(await s.reconciler.reconcile()).toEqual({ checked: 1, held: 0, lost: 0, unanswered: 0 });

    const after = await deliveryOf(s.mesh, 'late');
    expect(after.status).toBe('delivered');
    expect(after.attempts.map((a) => [a.number, a.status])).toEqual([[1, 200]]);
    expect(s.lost).toEqual([]);
    expect(await s.transport.publishDue()).toEqual({ published: 0, failed: 0 });
    expect(userMessages(s.q).filter((m) => m.dedupId?.startsWith(before.id))).toHaveLength(1);
  });

  it('asks about at most 40 deliveries a sweep, least recently heard of first, so each is reached in turn', async () => {
    const asked: string[] = [];
    const s = await setup(() => ({ status: 500 }), {
      wrapReader: (client) => ({
        messages: {
          get(id) {
            asked.push(id);
            return client.messages.get(id);
          },
        },
      }),
    });
    s.q.loseCallbacksTo(s.callbackUrl);
    const events = Array.from({ length: 100 }, (_, i) => orderCreated(`bulk-${i}`));
    expect((await s.mesh.post(events)).status).toBe(202);
    expect(await s.transport.publishDue()).toEqual({ published: 100, failed: 0 });
    await s.q.deliverDue();
    s.mesh.clock.advance(GRACE);

    for (const expected of [40, 40, 20, 0]) {
      const from = s.q.calls.messages;
      expect(await s.reconciler.reconcile()).toEqual({
        checked: expected,
        held: expected,
        lost: 0,
        unanswered: 0,
      });
      expect(s.q.calls.messages - from).toBe(expected);
    }
    // Each of the 100 was asked about once; the next round comes a grace later.
    expect(new Set(asked)).toEqual(new Set(userMessages(s.q).map((m) => m.id)));
    expect(asked).toHaveLength(100);
    s.mesh.clock.advance(GRACE);
    expect((await s.reconciler.reconcile()).checked).toBe(40);
  });

  it('QStash not answering: nothing is published again; asked again a grace later', async () => {
    const s = await setup(() => ({ status: 200 }));
    s.q.loseCallbacksTo(s.callbackUrl);
    await publishAndAttempt(s, 'e1');
    s.mesh.clock.advance(GRACE);
    s.q.setDown(true);

    expect(await s.reconciler.reconcile()).toEqual({ checked: 1, held: 0, lost: 0, unanswered: 1 });
    expect(s.errors).toHaveLength(1);
    expect((await deliveryOf(s.mesh, 'e1')).status).toBe('in_flight');
    expect(await s.reconciler.reconcile()).toEqual(none);

    s.q.setDown(false);
    s.mesh.clock.advance(GRACE);
    expect(await s.reconciler.reconcile()).toMatchObject({ checked: 1, lost: 1 });
    expect(await s.transport.publishDue()).toEqual({ published: 1, failed: 0 });
  });
});
