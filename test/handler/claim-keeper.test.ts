import { describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/core/clock.ts';
import { createClaimKeeper } from '../../src/handler/claim-heartbeat.ts';
import { createMemoryInbox, createWebhookApp, defineHandler } from '../../src/handler/index.ts';
import {
  CURRENT,
  countingInbox,
  deferred,
  delivery,
  manualRepeat,
  NOW,
  OrderCreatedV1,
  PUBLIC_URL,
  send,
  setup,
} from './webhook-fixtures.ts';

// The claims an app holds share one heartbeat timer (armed while any is kept), and a handler that
// returns without a promise arms none: no time passes in which its lease could need extending.

const LEASE = 30_000;

/** A keeper beating every third of a lease on `timer`, driven by the test. */
const keeperOn = (
  inbox: Parameters<typeof createClaimKeeper>[0]['inbox'],
  clock: ReturnType<typeof createManualClock>,
  timer: ReturnType<typeof manualRepeat>,
) => createClaimKeeper({ inbox, clock, leaseMs: LEASE, intervalMs: LEASE / 3, repeat: timer.repeat });

describe('createClaimKeeper', () => {
  it('extends every kept claim on one timer, armed while any is kept and cancelled after the last', async () => {
    const inbox = createMemoryInbox();
    const clock = createManualClock(NOW);
    const timer = manualRepeat();
    const keeper = keeperOn(inbox, clock, timer);
    const a = { handler: 'h', eventId: 'a' };
    const b = { handler: 'h', eventId: 'b' };
    expect(await inbox.claim({ ...a, nowMs: NOW, leaseMs: LEASE })).toBe('claimed');
    expect(await inbox.claim({ ...b, nowMs: NOW, leaseMs: LEASE })).toBe('claimed');
    const errors: unknown[] = [];
    const stopA = keeper.keep({ key: a, claimedAt: NOW, onError: (e) => errors.push(e) });
    const stopB = keeper.keep({ key: b, claimedAt: NOW, onError: (e) => errors.push(e) });
    expect(timer.intervals()).toEqual([LEASE / 3]);

    // A whole lease later, both claims are still held: the ticks extended both.
    for (let i = 0; i < 3; i++) {
      clock.advance(LEASE / 3);
      timer.tick();
      await new Promise((resolve) => setImmediate(resolve));
    }
    const now = clock.now();
    expect(await inbox.claim({ ...a, nowMs: now, leaseMs: LEASE })).toBe('running');
    expect(await inbox.claim({ ...b, nowMs: now, leaseMs: LEASE })).toBe('running');

    await stopA();
    expect(timer.intervals()).toEqual([LEASE / 3]);
    await stopB();
    expect(timer.intervals()).toEqual([]);
    // Stopped claims are extended no more: a whole lease later, each may be taken over.
    clock.advance(LEASE);
    timer.tick();
    expect(await inbox.claim({ ...a, nowMs: clock.now(), leaseMs: LEASE })).toBe('claimed');

    // The next kept claim arms the timer again.
    const stopC = keeper.keep({ key: b, claimedAt: now, onError: (e) => errors.push(e) });
    expect(timer.intervals()).toEqual([LEASE / 3]);
    await stopC();
    expect(timer.intervals()).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('never overlaps two beats of one claim, and stop waits for the beat in flight', async () => {
    const inner = createMemoryInbox();
    const clock = createManualClock(NOW);
    const timer = manualRepeat();
    const gate = deferred();
    let extends_ = 0;
    const inbox = {
      ...inner,
      extend: async (input: Parameters<typeof inner.extend>[0]) => {
        extends_++;
        await gate.promise;
        return inner.extend(input);
      },
    };
    const key = { handler: 'h', eventId: 'a' };
    await inner.claim({ ...key, nowMs: NOW, leaseMs: LEASE });
    const keeper = keeperOn(inbox, clock, timer);
    const stop = keeper.keep({ key, claimedAt: NOW, onError: () => {} });
    timer.tick();
    timer.tick();
    expect(extends_).toBe(1);
    let stopped = false;
    const stopping = stop().then(() => {
      stopped = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toBe(false);
    gate.resolve();
    await stopping;
    expect(stopped).toBe(true);
  });
});

describe('the webhook app’s heartbeat', () => {
  it('keeps two runs in progress on one timer, gone once both end', async () => {
    const timer = manualRepeat();
    const gate = deferred();
    let entered = 0;
    const { app, counts, clock } = setup({
      leaseMs: LEASE,
      repeat: timer.repeat,
      handle: async () => {
        entered++;
        await gate.promise;
      },
    });
    const first = send(app, await delivery({ id: 'e1' }));
    const second = send(app, await delivery({ id: 'e2' }));
    while (entered < 2) await new Promise((resolve) => setImmediate(resolve));
    expect(timer.intervals()).toEqual([LEASE / 3]);
    clock.advance(LEASE / 3);
    timer.tick();
    await new Promise((resolve) => setImmediate(resolve));
    expect(counts.extend).toBe(2);
    gate.resolve();
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
    expect(timer.intervals()).toEqual([]);
  });

  it('arms no timer for a handler that returns without a promise, and still completes its event', async () => {
    const timer = manualRepeat();
    const { inbox, counts } = countingInbox();
    const seen: string[] = [];
    const app = createWebhookApp({
      handlers: [defineHandler(OrderCreatedV1, (event) => void seen.push(event.id))],
      signingKeys: { current: CURRENT },
      inbox,
      publicUrl: PUBLIC_URL,
      clock: createManualClock(NOW),
      repeat: (fn, ms) => {
        expect.unreachable('a synchronous handler needs no heartbeat');
        return timer.repeat(fn, ms);
      },
    });
    const req = await delivery({ id: 'e1' });
    const res = await send(app, req);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'handled' });
    expect(seen).toEqual(['e1']);
    expect(counts.complete).toBe(1);
    const again = await send(app, await delivery({ id: 'e1', messageId: 'msg_2' }));
    expect(await again.json()).toEqual({ status: 'duplicate' });
    expect(seen).toEqual(['e1']);
  });

  it('releases the claim of a synchronous handler that throws, without a timer', async () => {
    const { inbox, counts } = countingInbox();
    const errors: unknown[] = [];
    const app = createWebhookApp({
      handlers: [
        defineHandler(OrderCreatedV1, () => {
          throw new Error('boom');
        }),
      ],
      signingKeys: { current: CURRENT },
      inbox,
      publicUrl: PUBLIC_URL,
      clock: createManualClock(NOW),
      repeat: () => expect.unreachable('a synchronous handler needs no heartbeat'),
      onError: (error) => errors.push(error),
    });
    const res = await send(app, await delivery());
    expect(res.status).toBe(500);
    expect(counts.release).toBe(1);
    expect(counts.complete).toBe(0);
    expect((errors[0] as Error).message).toBe('boom');
  });
});
