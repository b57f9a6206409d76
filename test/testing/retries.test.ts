import { afterEach, describe, expect, it } from 'vitest';
import { defineMesh } from '../../src/core/mesh-definition.ts';
import { defineSubscription } from '../../src/core/subscription.ts';
import { defineHandler } from '../../src/handler/index.ts';
import { createTestMesh, type TestMesh } from '../../src/testing/index.ts';
import { BookLent, BookLentV1, converters, LOANS_URL, lending, libraryMesh } from './library.ts';

// Retry schedules, dead deliveries and duplicates, played out on the manual clock in milliseconds.

let t: TestMesh | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const START = Date.UTC(2027, 4, 1, 9, 0, 0);
/** QStash's default: the delay before retry n is min(86400, e^(2.5·n)) seconds. */
const delayMs = (n: number) => Math.round(Math.min(86_400, Math.exp(2.5 * n)) * 1000);

describe('retries with the test mesh', () => {
  it('a handler failing twice then succeeding: attempts 12 s and 2 m 28 s apart, then delivered', async () => {
    let failures = 2;
    const onBookLent = defineHandler(BookLentV1, () => {
      if (failures-- > 0) throw new Error('ledger offline');
    });
    t = await createTestMesh({ mesh: libraryMesh, handlers: [onBookLent], now: START });
    await t.publish(BookLent, lending('loan-1'), { id: 'lent-1' });

    const [first] = await t.deliver();
    expect(first).toMatchObject({ number: 1, status: 500, outcome: 'retrying' });
    expect(first!.nextAttemptAt).toEqual(new Date(START + 12_182));
    expect(await t.nextAttemptAt()).toEqual(new Date(START + 12_182));

    t.advance({ seconds: 12 });
    expect(await t.deliver()).toEqual([]); // not due yet
    t.advance(182);
    const [second] = await t.deliver();
    expect(second).toMatchObject({
      number: 2,
      status: 500,
      outcome: 'retrying',
      at: new Date(START + 12_182),
    });
    expect(second!.nextAttemptAt).toEqual(new Date(START + 12_182 + 148_413));

    t.advance({ minutes: 2, seconds: 28 });
    expect(await t.deliver()).toEqual([]);
    t.advance(413);
    const [third] = await t.deliver();
    expect(third).toMatchObject({ number: 3, status: 200, outcome: 'delivered', nextAttemptAt: null });

    expect(t.runs(onBookLent).map((r) => [r.attempt, r.outcome])).toEqual([
      [1, 'threw'],
      [2, 'threw'],
      [3, 'completed'],
    ]);
    expect((t.runs()[0]!.error as Error).message).toBe('ledger offline');
    const [delivery] = await t.deliveries({ event: 'lent-1' });
    expect(delivery!.status).toBe('delivered');
    expect(delivery!.attempts.map((a) => [a.number, a.status, a.at.getTime() - START])).toEqual([
      [1, 500, 0],
      [2, 500, 12_182],
      [3, 200, 12_182 + 148_413],
    ]);
  });

  it('a handler that always fails: dead after 11 attempts on QStash’s schedule, then replayed once fixed', async () => {
    let broken = true;
    const onBookLent = defineHandler(BookLentV1, () => {
      if (broken) throw new Error('bug');
    });
    t = await createTestMesh({ mesh: libraryMesh, handlers: [onBookLent], now: START });
    await t.publish(BookLent, lending('loan-1'), { id: 'lent-1' });

    const attempts = await t.drain();
    expect(attempts).toHaveLength(11);
    expect(attempts.map((a) => a.outcome)).toEqual([...Array(10).fill('retrying'), 'dead']);
    const gaps = attempts.slice(1).map((a, i) => a.at.getTime() - attempts[i]!.at.getTime());
    expect(gaps).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(delayMs));
    expect(t.now().getTime() - START).toBe(gaps.reduce((a, b) => a + b, 0)); // about 6.3 days, in ms
    const [dead] = await t.deliveries({ status: 'dead' });
    expect(dead!.attempts).toHaveLength(11);
    expect(await t.nextAttemptAt()).toBeNull();

    broken = false;
    expect(await t.replay({ type: 'book.lent.v1' })).toBe(1);
    expect(await t.deliveries({ status: 'pending' })).toHaveLength(1);
    const [replayed] = await t.deliver();
    expect(replayed).toMatchObject({ number: 12, status: 200, outcome: 'delivered' });
    expect((await t.deliveries({ event: 'lent-1' }))[0]).toMatchObject({
      status: 'delivered',
      generation: 1,
    });
    expect(t.runs().filter((r) => r.outcome === 'completed')).toHaveLength(1);
  });

  it('honours a subscription’s own retries and a handler’s retryLater', async () => {
    const mesh = defineMesh({
      converters,
      subscriptions: [defineSubscription(BookLentV1, `${LOANS_URL}/webhooks/book.lent.v1`, { retries: 2 })],
    });
    let calls = 0;
    const onBookLent = defineHandler(BookLentV1, (_event, ctx) => {
      calls++;
      ctx.retryLater({ seconds: 90 });
    });
    t = await createTestMesh({ mesh, handlers: [onBookLent], now: START });
    await t.publish(BookLent, lending('loan-1'));

    const attempts = await t.drain();
    expect(attempts.map((a) => [a.status, a.outcome, a.at.getTime() - START])).toEqual([
      [503, 'retrying', 0],
      [503, 'retrying', 90_000],
      [503, 'dead', 180_000],
    ]);
    expect(calls).toBe(3);
    expect(t.runs().map((r) => r.outcome)).toEqual(['retry_later', 'retry_later', 'retry_later']);
  });

  it('drains only as far as told: `within` lets that much time pass', async () => {
    const onBookLent = defineHandler(BookLentV1, () => {
      throw new Error('down');
    });
    t = await createTestMesh({ mesh: libraryMesh, handlers: [onBookLent], now: START });
    await t.publish(BookLent, lending('loan-1'));
    const attempts = await t.drain({ within: { minutes: 5 } });
    expect(attempts.map((a) => a.at.getTime() - START)).toEqual([0, 12_182, 12_182 + 148_413]);
    expect(t.now()).toEqual(new Date(START + 5 * 60_000));
    expect(await t.deliveries({ status: 'retrying' })).toHaveLength(1);
    expect(() => t!.advanceTo(START)).toThrow(/forward only/);
  });
});

describe('duplicates with the test mesh', () => {
  it('the same event to the same service twice runs the handler once (memory inbox)', async () => {
    const mesh = defineMesh({
      converters,
      subscriptions: [
        defineSubscription(BookLentV1, `${LOANS_URL}/webhooks/book.lent.v1`, { id: 'loans' }),
        defineSubscription(BookLentV1, `${LOANS_URL}/webhooks/book.lent.v1?copy=audit`, {
          id: 'loans-audit',
        }),
        // Another service with its own inbox handles it once too.
        defineSubscription(BookLentV1, 'https://audit.example.com/webhooks/book.lent.v1', { id: 'audit' }),
      ],
    });
    const onBookLent = defineHandler(BookLentV1, () => {});
    t = await createTestMesh({ mesh, handlers: [onBookLent], now: START });
    await t.publish(BookLent, lending('loan-1'), { id: 'lent-1' });

    const attempts = await t.deliver();
    expect(attempts.map((a) => [a.subscriptionId, a.status]).sort()).toEqual([
      ['audit', 200],
      ['loans', 200],
      ['loans-audit', 200],
    ]);
    expect(new Set(attempts.map((a) => a.integrationEventId)).size).toBe(1);
    expect(
      t
        .runs(onBookLent)
        .map((r) => r.origin)
        .sort(),
    ).toEqual(['https://audit.example.com', LOANS_URL]);
  });

  it('a lost acknowledgement is retried, and the retry is acknowledged without running again', async () => {
    const onBookLent = defineHandler(BookLentV1, () => {});
    t = await createTestMesh({ mesh: libraryMesh, handlers: [onBookLent], now: START });
    const restore = t.intercept(async (request, next) => {
      await next(request); // the handler ran…
      throw new Error('socket hang up'); // …but its answer never reached the mesh
    });
    await t.publish(BookLent, lending('loan-1'), { id: 'lent-1' });
    const [lost] = await t.deliver();
    expect(lost).toMatchObject({ status: null, error: 'socket hang up', outcome: 'retrying' });

    restore();
    const [retry] = await t.deliverNext();
    expect(retry).toMatchObject({ number: 2, status: 200, outcome: 'delivered' });
    expect(t.runs(onBookLent)).toHaveLength(1);
  });

  it('a replayed delivery of an event the handler already completed does not run it again', async () => {
    const onBookLent = defineHandler(BookLentV1, () => {});
    t = await createTestMesh({ mesh: libraryMesh, handlers: [onBookLent], now: START });
    const restore = t.intercept(async (request, next) => {
      await next(request);
      throw new Error('connection reset');
    });
    await t.publish(BookLent, lending('loan-1'), { id: 'lent-1' });
    expect(await t.drain()).toHaveLength(11);
    const [dead] = await t.deliveries({ status: 'dead' });

    restore();
    expect(await t.replay(dead!.id)).toBe(1);
    expect(await t.replay(dead!.id)).toBe(0); // already pending: replaying again changes nothing
    const [replayed] = await t.deliver();
    expect(replayed).toMatchObject({ number: 12, status: 200, outcome: 'delivered' });
    expect(t.runs(onBookLent)).toHaveLength(1);
    await expect(t.replay(dead!.id)).rejects.toMatchObject({ status: 409 });
  });

  it('attempts several deliveries side by side when asked to', async () => {
    // Each run waits until all four have started: one at a time, this would never finish.
    let started = 0;
    let allStarted!: () => void;
    const barrier = new Promise<void>((resolve) => {
      allStarted = resolve;
    });
    const onBookLent = defineHandler(BookLentV1, async () => {
      if (++started === 4) allStarted();
      await barrier;
    });
    t = await createTestMesh({ mesh: libraryMesh, handlers: [onBookLent], concurrency: 4 });
    for (const id of ['a', 'b', 'c', 'd']) await t.publish(BookLent, lending(id));
    const attempts = await t.deliver();
    expect(attempts.map((a) => a.outcome)).toEqual(['delivered', 'delivered', 'delivered', 'delivered']);
    expect(t.runs()).toHaveLength(4);
  });
});
