import { describe, expect, it } from 'vitest';
import {
  type CallbackReport,
  decideCallbackOutcome,
  recordCallback,
  settleCallback,
  toCallbackTransition,
} from '../../src/core/callback-outcome.ts';
import type { CallbackTransition, PublishedDelivery, PublishQueue } from '../../src/core/publish-queue.ts';
import { defaultRetryDelayMs } from '../../src/core/retry-policy.ts';

const AT = Date.UTC(2026, 0, 15, 9, 30, 0);

const report = (fields: Partial<CallbackReport> = {}): CallbackReport => ({
  messageId: 'msg-1',
  status: 200,
  retried: 0,
  maxRetries: 10,
  nonRetryable: false,
  failure: false,
  at: AT,
  error: null,
  responseExcerpt: null,
  ...fields,
});

const delivery: PublishedDelivery = {
  id: 'd-1',
  messageId: 'msg-1',
  subscriptionId: 'sub-1',
  orderingKey: null,
  retryDelay: null,
  earlierAttempts: 0,
};

describe('decideCallbackOutcome (pure, as a local attempt is decided)', () => {
  it('2xx delivers; 489 non-retryable dies; the last retry dies; otherwise retries', () => {
    expect(decideCallbackOutcome(report({ status: 204 }), null)).toEqual({ status: 'delivered' });
    expect(decideCallbackOutcome(report({ status: 489, nonRetryable: true }), null)).toEqual({
      status: 'dead',
      reason: 'non_retryable',
    });
    expect(decideCallbackOutcome(report({ status: 489 }), null)).toMatchObject({ status: 'retrying' });
    expect(decideCallbackOutcome(report({ status: 500, retried: 10 }), null)).toMatchObject({
      status: 'dead',
      reason: 'retries_exhausted',
    });
    expect(decideCallbackOutcome(report({ status: null, retried: 2 }), null)).toEqual({
      status: 'retrying',
      delayMs: defaultRetryDelayMs(2),
    });
  });

  it('a failure callback is dead whatever the status says', () => {
    expect(decideCallbackOutcome(report({ status: 200, failure: true }), null)).toMatchObject({
      status: 'dead',
    });
  });

  it("uses the delivery's delay expression, and the default back-off for one that does not parse", () => {
    expect(decideCallbackOutcome(report({ status: 500, retried: 3 }), '1000 * retried')).toEqual({
      status: 'retrying',
      delayMs: 3000,
    });
    expect(decideCallbackOutcome(report({ status: 500 }), 'nope(')).toEqual({
      status: 'retrying',
      delayMs: defaultRetryDelayMs(0),
    });
  });
});

describe('toCallbackTransition', () => {
  it('numbers the attempt after earlier generations and schedules a retry from the callback time', () => {
    const t = toCallbackTransition(
      report({ status: 503, retried: 2, durationMs: 4, responseExcerpt: 'busy' }),
      { ...delivery, retryDelay: '500', earlierAttempts: 5 },
    );
    expect(t).toEqual({
      deliveryId: 'd-1',
      messageId: 'msg-1',
      number: 8,
      at: AT,
      status: 503,
      durationMs: 4,
      error: null,
      responseExcerpt: 'busy',
      next: 'retrying',
      nextAttemptAt: AT + 500,
      retried: 3,
    });
  });

  it('a settled attempt is due at its own time', () => {
    expect(toCallbackTransition(report(), delivery)).toMatchObject({ next: 'delivered', nextAttemptAt: AT });
  });
});

describe('settleCallback', () => {
  it('finds, decides and applies; an unknown message is `unknown` and nothing is applied', async () => {
    const applied: CallbackTransition[] = [];
    const queue = {
      findPublished: async (id: string) => (id === 'msg-1' ? delivery : null),
      applyCallback: async (t: CallbackTransition) => {
        applied.push(t);
        return 'applied' as const;
      },
    } as unknown as PublishQueue;

    expect(await settleCallback(queue, report({ messageId: 'msg-x' }))).toBe('unknown');
    expect(await settleCallback(queue, report({ status: 500 }))).toBe('applied');
    expect(applied.map((t) => [t.number, t.next])).toEqual([[1, 'retrying']]);
  });
});

describe('recordCallback', () => {
  const keyed: PublishedDelivery = { ...delivery, orderingKey: 'order-1' };
  const queueOf = (found: PublishedDelivery, outcome: 'applied' | 'duplicate' = 'applied') =>
    ({
      findPublished: async (id: string) => (id === found.messageId ? found : null),
      applyCallback: async () => outcome,
    }) as unknown as PublishQueue;
  const released = { subscriptionId: 'sub-1', orderingKey: 'order-1' };

  it('releases the (subscription, key) of a keyed delivery it makes delivered or dead', async () => {
    expect(await recordCallback(queueOf(keyed), report())).toEqual({ outcome: 'applied', released });
    expect(await recordCallback(queueOf(keyed), report({ status: 500, failure: true }))).toEqual({
      outcome: 'applied',
      released,
    });
    expect(await recordCallback(queueOf(keyed), report({ status: 489, nonRetryable: true }))).toEqual({
      outcome: 'applied',
      released,
    });
  });

  it('releases nothing for a retry, a repeat, a delivery without a key or an unknown message', async () => {
    const nothing = (outcome: string) => ({ outcome, released: null });
    expect(await recordCallback(queueOf(keyed), report({ status: 500 }))).toEqual(nothing('applied'));
    expect(await recordCallback(queueOf(keyed, 'duplicate'), report())).toEqual(nothing('duplicate'));
    expect(await recordCallback(queueOf(delivery), report())).toEqual(nothing('applied'));
    expect(await recordCallback(queueOf(keyed), report({ messageId: 'msg-x' }))).toEqual(nothing('unknown'));
  });
});
