import { beforeEach, describe, expect, it } from 'vitest';
import { type CallbackReport, settleCallback } from '../../src/core/callback-outcome.ts';
import type { EventStore } from '../../src/core/event-store.ts';
import type { PublishQueue } from '../../src/core/publish-queue.ts';
import { defaultRetryDelayMs } from '../../src/core/retry-policy.ts';
import type { SubscriptionStore } from '../../src/core/subscription-store.ts';
import { deliveryIdIn, deliveryIdOut } from '../../src/store/sql-ids.ts';
import {
  domainEvent,
  exactCreated,
  type OpenHarness,
  RECEIVED_AT,
  useHarness,
} from './store-contract-fixtures.ts';

/**
 * What every `PublishQueue` adapter owes the reconciliation of silent publishes (QStash callbacks
 * that never came): finding the overdue, marking them checked, republishing the lost under a new
 * generation — never moving a settled delivery. Run by `describePublishQueueContract`.
 * @example describeOverduePublishContract('libSQL file', openLibsqlHarness);
 */
export function describeOverduePublishContract(name: string, open: OpenHarness): void {
  describe(`PublishQueue contract (overdue publishes): ${name}`, () => {
    const h = useHarness(open);
    let events: EventStore;
    let subscriptions: SubscriptionStore;
    let publish: PublishQueue;
    const T0 = RECEIVED_AT;

    beforeEach(() => {
      ({ events, subscriptions, publish } = h.stores);
    });

    const report = (messageId: string, fields: Partial<CallbackReport> = {}): CallbackReport => ({
      messageId,
      status: 200,
      retried: 0,
      maxRetries: 10,
      nonRetryable: false,
      failure: false,
      at: T0 + 10,
      error: null,
      responseExcerpt: null,
      ...fields,
    });

    /** The row as no port shows it. */
    const row = async (deliveryId: string) => {
      const [r] = await h.harness.query(
        `SELECT status, generation, message_id, retried, attempts, next_attempt_at, updated_at
         FROM deliveries WHERE id = ${deliveryIdIn('?1')}`,
        [deliveryId],
      );
      return r;
    };

    /**
     * One event per name, each with one delivery (to `exactCreated`), all published at T0 under
     * `msg-<name>`; `evt-waiting` is left unpublished. Returns the delivery ids by name.
     */
    const scene = async (names: readonly string[]): Promise<Record<string, string>> => {
      await subscriptions.syncCodeSubscriptions([exactCreated], 1);
      await events.appendEvents([...names, 'waiting'].map((n) => domainEvent(`evt-${n}`)));
      const leased = await publish.leaseForPublish({ owner: 'p', now: T0, leaseMs: 30_000, limit: 1000 });
      const rows = await h.harness.query(
        `SELECT ${deliveryIdOut('d.id')} AS id, de.id AS event FROM deliveries d
         JOIN integration_events ie ON ie.ref = d.integration_event_ref
         JOIN domain_events de ON de.ref = ie.domain_event_ref`,
      );
      const ids = Object.fromEntries(rows.map((r) => [String(r.event).slice('evt-'.length), String(r.id)]));
      await publish.markPublished(
        names.map((n) => ({
          deliveryId: ids[n]!,
          owner: 'p',
          generation: 0,
          messageId: `msg-${n}`,
          at: T0,
        })),
      );
      expect(leased).toHaveLength(names.length + 1);
      return ids;
    };

    const settle = (r: CallbackReport) => settleCallback(publish, r);

    it('findOverdue: published deliveries silent past their next expected report, least recently heard of first', async () => {
      const ids = await scene(['quiet', 'retry', 'done', 'dead']);
      // `retry` failed once at T0 + 10: its next attempt is due e^2.5 s later.
      await settle(report('msg-retry', { status: 500 }));
      await settle(report('msg-done', { status: 200 }));
      await settle(report('msg-dead', { status: 489, nonRetryable: true }));
      const retryDue = T0 + 10 + defaultRetryDelayMs(0);
      expect((await row(ids.retry!))?.next_attempt_at).toBe(retryDue);

      expect(await publish.findOverdue({ before: T0 - 1, limit: 50 })).toEqual([]);
      // Published at T0 and not a word since: overdue from then on (the grace is the caller's).
      expect(await publish.findOverdue({ before: T0, limit: 50 })).toEqual([
        { deliveryId: ids.quiet, messageId: 'msg-quiet' },
      ]);
      // Heard of at T0 + 10, but its next attempt is not due before `retryDue`.
      expect(await publish.findOverdue({ before: retryDue - 1, limit: 50 })).toHaveLength(1);
      expect(await publish.findOverdue({ before: retryDue, limit: 50 })).toEqual([
        { deliveryId: ids.quiet, messageId: 'msg-quiet' },
        { deliveryId: ids.retry, messageId: 'msg-retry' },
      ]);
      expect(await publish.findOverdue({ before: retryDue, limit: 1 })).toEqual([
        { deliveryId: ids.quiet, messageId: 'msg-quiet' },
      ]);
      // Delivered, dead and never-published deliveries are never overdue, however late it is.
      expect(
        (await publish.findOverdue({ before: T0 + 365 * 86_400_000, limit: 50 })).map((d) => d.deliveryId),
      ).toEqual([ids.quiet, ids.retry]);
      expect(await publish.findOverdue({ before: T0 + 1, limit: 0 })).toEqual([]);
    });

    it('markChecked: only the last word moves (never back), under the same message id, while unsettled', async () => {
      const ids = await scene(['quiet', 'done']);
      await settle(report('msg-done', { status: 200, at: T0 + 10 }));
      const before = await row(ids.quiet!);

      await publish.markChecked([
        { deliveryId: ids.quiet!, messageId: 'msg-quiet', at: T0 + 5000 },
        { deliveryId: ids.done!, messageId: 'msg-done', at: T0 + 5000 },
      ]);

      expect(await row(ids.quiet!)).toEqual({ ...before, updated_at: T0 + 5000 });
      expect((await row(ids.done!))?.updated_at).toBe(T0 + 10);
      expect(await publish.findOverdue({ before: T0 + 4999, limit: 50 })).toEqual([]);
      expect(await publish.findOverdue({ before: T0 + 5000, limit: 50 })).toHaveLength(1);
      // An older check, or one under another message id, changes nothing.
      await publish.markChecked([
        { deliveryId: ids.quiet!, messageId: 'msg-quiet', at: T0 + 100 },
        { deliveryId: ids.quiet!, messageId: 'msg-other', at: T0 + 9000 },
      ]);
      expect((await row(ids.quiet!))?.updated_at).toBe(T0 + 5000);
      await publish.markChecked([]);
    });

    it('markLost: pending under a new generation, due at once, a fresh retry budget; never a settled one', async () => {
      const ids = await scene(['quiet', 'retry', 'done', 'dead']);
      await settle(report('msg-retry', { status: 500 }));
      await settle(report('msg-done', { status: 200 }));
      await settle(report('msg-dead', { status: 489, nonRetryable: true }));
      const at = T0 + 7_200_000;
      const lost = (n: string, messageId = `msg-${n}`) => ({ deliveryId: ids[n]!, messageId, at });

      const changed = await publish.markLost([
        lost('quiet'),
        lost('retry'),
        lost('done'),
        lost('dead'),
        lost('waiting', 'msg-waiting'),
      ]);

      expect([...changed].sort()).toEqual([ids.quiet, ids.retry].sort());
      expect(await row(ids.quiet!)).toEqual({
        status: 'pending',
        generation: 1,
        message_id: null,
        retried: 0,
        attempts: 0,
        next_attempt_at: at,
        updated_at: at,
      });
      // The attempt heard of stays, and counting goes on from it.
      expect(await row(ids.retry!)).toMatchObject({
        status: 'pending',
        generation: 1,
        retried: 0,
        attempts: 1,
      });
      expect(await row(ids.done!)).toMatchObject({
        status: 'delivered',
        generation: 0,
        message_id: 'msg-done',
      });
      expect(await row(ids.dead!)).toMatchObject({ status: 'dead', generation: 0, message_id: 'msg-dead' });
      expect(await row(ids.waiting!)).toMatchObject({ status: 'pending', generation: 0 });
      // Once is enough: the message id is gone, so a repeat (another sweep) changes nothing.
      expect(await publish.markLost([lost('quiet'), lost('retry')])).toEqual([]);
      expect(await publish.findOverdue({ before: at + 86_400_000, limit: 50 })).toEqual([]);

      // Published again, under the new generation, with a new message id; the old one is unknown.
      const again = await publish.leaseForPublish({ owner: 'q', now: at, leaseMs: 30_000, limit: 10 });
      const byId = new Map(again.map((d) => [d.id, d]));
      expect(byId.size).toBe(3);
      // A fresh start: the first failed publish backs off from the shortest delay.
      expect(byId.get(ids.quiet!)).toMatchObject({ generation: 1, lastPublishDelayMs: 0 });
      expect(byId.get(ids.retry!)).toMatchObject({ generation: 1, lastPublishDelayMs: 0, attempts: 1 });
      expect(byId.get(ids.waiting!)).toMatchObject({ generation: 0 });
      await publish.markPublished(
        again
          .filter((d) => d.generation === 1)
          .map((d) => ({ deliveryId: d.id, owner: 'q', generation: 1, messageId: `msg2-${d.id}`, at })),
      );
      expect(await settle(report('msg-retry', { status: 200, retried: 1, at: at + 1 }))).toBe('unknown');
      expect(await settle(report(`msg2-${ids.retry}`, { status: 200, at: at + 1 }))).toBe('applied');
      const view = await events.getEvent('evt-retry');
      const d = view!.integrationEvents[0]!.deliveries[0]!;
      expect(d.status).toBe('delivered');
      expect(d.attempts.map((a) => [a.number, a.status])).toEqual([
        [1, 500],
        [2, 200],
      ]);
    });

    it('markLost and markChecked take any number of records (chunked to the parameter limit)', async () => {
      // D1 binds at most 100 parameters: 3 a record, so 40 records take two statements.
      const names = Array.from({ length: 40 }, (_, i) => `many-${i}`);
      const ids = await scene(names);
      const records = names.map((n) => ({ deliveryId: ids[n]!, messageId: `msg-${n}`, at: T0 + 1000 }));

      await publish.markChecked(records);
      expect(await publish.findOverdue({ before: T0 + 999, limit: 100 })).toEqual([]);
      const changed = await publish.markLost(records);

      expect(new Set(changed)).toEqual(new Set(names.map((n) => ids[n])));
      expect(await h.harness.query(`SELECT count(*) AS n FROM deliveries WHERE generation = 1`)).toEqual([
        { n: 40 },
      ]);
    });
  });
}
