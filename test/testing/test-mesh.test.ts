import * as v from 'valibot';
import { afterEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import { defineIntegrationEvent } from '../../src/core/integration-event.ts';
import { defineMesh } from '../../src/core/mesh-definition.ts';
import { defineSubscription } from '../../src/core/subscription.ts';
import { defineHandler } from '../../src/handler/index.ts';
import { createTestMesh, MeshApiError, type TestMesh } from '../../src/testing/index.ts';
import {
  BookLent,
  BookLentV1,
  converters,
  LOANS_URL,
  lending,
  libraryMesh,
  ReminderDue,
  ReminderDueV1,
} from './library.ts';

// The kit as a user's test drives it: only `hookmesh/testing` and the app's own definitions.

let t: TestMesh | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const START = Date.UTC(2027, 4, 1, 9, 0, 0);

describe('createTestMesh', () => {
  it('runs a handler once with typed data, through the real API, dispatcher and webhook app', async () => {
    const seen: string[] = [];
    const onBookLent = defineHandler(BookLentV1, (event, ctx) => {
      expectTypeOf(event.data).toEqualTypeOf<{
        loanId: string;
        isbn: string;
        memberId: string;
        days: number;
      }>();
      seen.push(`${event.data.loanId}:${event.data.isbn}:${ctx.attempt}`);
    });
    t = await createTestMesh({ mesh: libraryMesh, handlers: [onBookLent], now: START });

    const receipt = await t.publish(BookLent, lending('loan-1'), { id: 'lent-1' });
    expect(receipt).toMatchObject({
      id: 'lent-1',
      status: 202,
      integrationEvents: [{ type: 'book.lent.v1' }],
    });
    expect(seen).toEqual([]); // nothing is delivered until the test says so

    const attempts = await t.deliver();
    expect(attempts).toEqual([
      expect.objectContaining({
        integrationEventId: receipt.integrationEvents[0]!.id,
        url: `${LOANS_URL}/webhooks/book.lent.v1`,
        number: 1,
        status: 200,
        error: null,
        outcome: 'delivered',
        nextAttemptAt: null,
        at: new Date(START),
      }),
    ]);
    expect(seen).toEqual(['loan-1:978-0-00-000000-1:1']);

    const runs = t.runs(onBookLent);
    expect(runs).toHaveLength(1);
    expectTypeOf(runs[0]!.event.data.memberId).toBeString();
    expect(runs[0]).toMatchObject({
      handler: 'book.lent.v1',
      origin: LOANS_URL,
      outcome: 'completed',
      event: { id: receipt.integrationEvents[0]!.id, source: '/producers/test', data: { loanId: 'loan-1' } },
    });

    const [delivery] = await t.deliveries({ event: 'lent-1' });
    expect(delivery).toMatchObject({
      status: 'delivered',
      subscriptionId: 'loans',
      data: { loanId: 'loan-1', isbn: '978-0-00-000000-1', memberId: 'm-7', days: 14 },
      nextAttemptAt: null,
      attempts: [{ number: 1, status: 200, error: null, at: new Date(START) }],
    });
    const event = await t.event('lent-1');
    expect(event?.source).toBe('test');
    expect(event?.integrationEvents[0]?.deliveries[0]).toMatchObject({
      status: 'delivered',
      attempts: [{ number: 1, status: 200, error: null }],
    });
    expect(await t.event('nothing-by-that-id')).toBeNull();

    // Nothing is left to do: another run attempts nothing, the handler stays at one run.
    expect(await t.deliver()).toEqual([]);
    expect(await t.drain()).toEqual([]);
    expect(seen).toHaveLength(1);
  });

  it('types publish by the definition and reports a refusal with the problem+json', async () => {
    t = await createTestMesh({ mesh: libraryMesh });
    const bad = { ...lending('loan-1'), days: 0 };
    const refused = await t.publish(BookLent, bad).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(MeshApiError);
    expect(refused).toMatchObject({
      status: 400,
      code: 'mesh_api',
      problem: { type: 'urn:hookmesh:problem:invalid-event', issues: [{ path: '/data/days' }] },
    });

    // @ts-expect-error: `days` is a number in BookLent's schema
    await expect(t.publish(BookLent, { ...lending('loan-2'), days: '14' })).rejects.toMatchObject({
      status: 400,
    });

    // The same id and body again is an idempotent replay; another body under that id a conflict.
    const first = await t.publish(BookLent, lending('loan-3'), { id: 'lent-3' });
    const again = await t.publish(BookLent, lending('loan-3'), { id: 'lent-3' });
    expect(again).toEqual({ ...first, status: 200 });
    await expect(t.publish(BookLent, lending('loan-4'), { id: 'lent-3' })).rejects.toMatchObject({
      status: 409,
      problem: { type: 'urn:hookmesh:problem:conflict' },
    });
    expect(await t.deliveries()).toHaveLength(1);
  });

  it('fails an attempt to a URL nothing serves as a refused connection, and retries it', async () => {
    const elsewhere = defineMesh({
      converters,
      subscriptions: [defineSubscription(BookLentV1, 'https://gone.example.com/hooks/lent')],
    });
    t = await createTestMesh({ mesh: elsewhere, now: START });
    await t.publish(BookLent, lending('loan-1'));
    const [attempt] = await t.deliver();
    expect(attempt).toMatchObject({ status: null, outcome: 'retrying' });
    expect(attempt!.error).toContain('ECONNREFUSED gone.example.com');
    expect(attempt!.nextAttemptAt).toEqual(new Date(START + 12_182));
  });

  it('lets a handler post a follow-up event back to the mesh through the fetch it is given', async () => {
    const reminded: string[] = [];
    t = await createTestMesh({
      mesh: libraryMesh,
      now: START,
      handlers: ({ publicUrl, producerToken, fetch }) => [
        defineHandler(BookLentV1, async (event) => {
          const dueOn = new Date(Date.parse(event.time) + event.data.days * 86_400_000).toISOString();
          const res = await fetch(`${publicUrl}/v1/events`, {
            method: 'POST',
            headers: { authorization: `Bearer ${producerToken}`, 'content-type': 'application/json' },
            body: JSON.stringify({
              id: `reminder-${event.id}`,
              type: 'ReminderDue',
              data: { loanId: event.data.loanId, memberId: event.data.memberId, dueOn },
            }),
          });
          if (!res.ok) throw new Error(`the mesh answered ${res.status}`);
        }),
        defineHandler(ReminderDueV1, (event) => {
          reminded.push(`${event.data.loanId} ${event.data.dueOn}`);
        }),
      ],
    });
    const { integrationEvents } = await t.publish(BookLent, lending('loan-1'), { id: 'lent-1' });

    // One call: the follow-up is due at once, so the same `deliver` carries it too.
    const attempts = await t.deliver();
    expect(attempts.map((a) => [a.type, a.outcome])).toEqual([
      ['book.lent.v1', 'delivered'],
      ['reminder.due.v1', 'delivered'],
    ]);
    expect(reminded).toEqual(['loan-1 2027-05-15T09:00:00.000Z']);
    const reminder = await t.event(`reminder-${integrationEvents[0]!.id}`);
    expect(reminder).toMatchObject({ type: ReminderDue.type, source: 'test' });
    expect(reminder?.integrationEvents[0]?.deliveries[0]).toMatchObject({
      url: `${t.publicUrl}/webhooks/reminder.due.v1`,
      status: 'delivered',
    });
    expect(t.runs().map((r) => [r.handler, r.origin])).toEqual([
      ['book.lent.v1', LOANS_URL],
      ['reminder.due.v1', t.publicUrl],
    ]);
  });

  it('bounds a deliver that never runs dry', async () => {
    // A handler that answers every event with a new one: a loop the kit must not follow forever.
    let n = 0;
    t = await createTestMesh({
      mesh: libraryMesh,
      handlers: ({ publicUrl, producerToken, fetch }) => [
        defineHandler(ReminderDueV1, async (event) => {
          await fetch(`${publicUrl}/v1/events`, {
            method: 'POST',
            headers: { authorization: `Bearer ${producerToken}`, 'content-type': 'application/json' },
            body: JSON.stringify({ type: 'ReminderDue', data: { ...event.data, loanId: `loop-${++n}` } }),
          });
        }),
      ],
    });
    await t.publish(ReminderDue, { loanId: 'loop-0', memberId: 'm', dueOn: 'x' });
    await expect(t.deliver({ maxAttempts: 25 })).rejects.toThrow(/stopped after 25 attempts/);
    expect(n).toBe(25);
  });

  it('verifies real signatures: a body changed on the way is refused before the handler runs', async () => {
    const onBookLent = defineHandler(BookLentV1, () => {});
    t = await createTestMesh({ mesh: libraryMesh, handlers: [onBookLent], now: START });
    const seen: string[] = [];
    const restore = t.intercept(async (request, next) => {
      seen.push(request.headers.get('upstash-signature')!.split('.').length === 3 ? 'jwt' : 'none');
      const body = (await request.text()).replace('m-7', 'm-8');
      return next(new Request(request, { body }));
    });
    await t.publish(BookLent, lending('loan-1'));
    const [attempt] = await t.deliver();
    expect(attempt).toMatchObject({ status: 401, outcome: 'retrying' });
    expect(t.runs()).toEqual([]);

    restore();
    const [retry] = await t.deliverNext();
    expect(retry).toMatchObject({ number: 2, status: 200, outcome: 'delivered' });
    expect(seen).toEqual(['jwt']);
    expect(t.runs(onBookLent)).toHaveLength(1);
  });

  it('checks the payload against the handler’s own schema: a mismatch is dead at once (489)', async () => {
    // The consumer was built against another schema of the same type: `days` a string.
    const OtherBookLentV1 = defineIntegrationEvent(
      'book.lent.v1',
      v.object({ loanId: v.string(), isbn: v.string(), days: v.string() }),
    );
    const onBookLent = defineHandler(OtherBookLentV1, () => {});
    t = await createTestMesh({ mesh: libraryMesh, handlers: [onBookLent], now: START });
    await t.publish(BookLent, lending('loan-1'), { id: 'lent-1' });

    const attempts = await t.drain();
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ status: 489, outcome: 'dead', nextAttemptAt: null });
    expect(attempts[0]!.responseExcerpt).toContain('/days');
    expect(t.runs()).toEqual([]);
    const [delivery] = await t.deliveries({ status: 'dead' });
    expect(delivery!.attempts).toHaveLength(1);
    expect(t.now()).toEqual(new Date(START)); // nothing was scheduled, so no time passed
  });

  it('gives each test mesh a database of its own, and the admin API for anything else', async () => {
    const onBookLent = defineHandler(BookLentV1, () => {});
    t = await createTestMesh({ mesh: libraryMesh, handlers: [onBookLent] });
    const other = await createTestMesh({ mesh: libraryMesh });
    try {
      const { events } = await t.publishMany([
        { event: BookLent, data: lending('loan-1'), id: 'lent-1' },
        { event: BookLent, data: lending('loan-2'), id: 'lent-2' },
      ]);
      expect(events.map((e) => e.id)).toEqual(['lent-1', 'lent-2']);
      expect(await other.deliveries()).toEqual([]);
      expect(await other.event('lent-1')).toBeNull();

      // A subscription made through the admin API gets the events accepted after it.
      const created = await t.request('/v1/subscriptions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'book.*', url: 'https://audit.example.com/webhooks/book.lent.v1' }),
      });
      expect(created.status).toBe(201);
      await t.publish(BookLent, lending('loan-3'), { id: 'lent-3' });
      await t.deliver();
      const listed = await t.request('/v1/deliveries?status=delivered');
      expect(((await listed.json()) as { deliveries: unknown[] }).deliveries).toHaveLength(4);
      // Per subscription in acceptance order; across subscriptions the mesh promises no order (the
      // two deliveries of loan-3 are due at the same moment), so those are compared as a set.
      const runs = t.runs(onBookLent).map((r) => [r.origin, r.event.data.loanId]);
      expect(runs.filter(([origin]) => origin === LOANS_URL)).toEqual([
        [LOANS_URL, 'loan-1'],
        [LOANS_URL, 'loan-2'],
        [LOANS_URL, 'loan-3'],
      ]);
      expect(runs.filter(([origin]) => origin !== LOANS_URL)).toEqual([
        ['https://audit.example.com', 'loan-3'],
      ]);
      expect((await t.request('/v1/deliveries', { headers: { authorization: 'Bearer nope' } })).status).toBe(
        401,
      );
    } finally {
      await other.close();
    }
  });

  it('keeps working when the test fakes timers: nothing in it waits on one', async () => {
    vi.useFakeTimers();
    try {
      const onBookLent = defineHandler(BookLentV1, () => {
        throw new Error('down');
      });
      t = await createTestMesh({ mesh: libraryMesh, handlers: [onBookLent] });
      await t.publish(BookLent, lending('loan-1'));
      expect(await t.drain()).toHaveLength(11);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('createTestMesh — delayed delivery', () => {
  it('publish with notBefore: deliver() attempts nothing before it; after advance it delivers', async () => {
    const seen: string[] = [];
    const onBookLent = defineHandler(BookLentV1, (event) => {
      seen.push(event.data.loanId);
    });
    t = await createTestMesh({ mesh: libraryMesh, handlers: [onBookLent], now: START });

    await t.publish(BookLent, lending('loan-1'), { notBefore: new Date(START + 3_600_000) });
    expect(await t.deliver()).toEqual([]);
    t.advance({ minutes: 59 });
    expect(await t.deliver()).toEqual([]);
    expect(seen).toEqual([]);

    t.advance({ minutes: 1 });
    expect(await t.deliver()).toEqual([
      expect.objectContaining({ number: 1, outcome: 'delivered', at: new Date(START + 3_600_000) }),
    ]);
    expect(seen).toEqual(['loan-1']);
  });
});
