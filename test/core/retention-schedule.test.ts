import { describe, expect, it } from 'vitest';
import {
  LOCAL_RETENTION_BATCH,
  lockSharePauseMs,
  nextRetentionDelay,
  RETENTION_CATCH_UP_MS,
  RETENTION_EVERY_MS,
  RETENTION_LOCK_SHARE,
  type RetentionStore,
  runRetentionPass,
} from '../../src/core/retention.ts';

/** A store holding `backlog` purgeable events, purged `limit` at a time like the SQL one. */
function backlogStore(backlog: number): RetentionStore & { left(): number } {
  let left = backlog;
  return {
    left: () => left,
    async purge({ limit }) {
      const events = Math.min(limit, left);
      left -= events;
      return {
        events,
        integrationEvents: events,
        deliveries: events,
        attempts: events,
        next: left > 0 ? { receivedAt: 0, id: String(left) } : null,
      };
    },
    async prune() {
      return { eventTypes: 0, endpoints: 0, subscriptionRefs: 0 };
    },
    async reclaim() {
      return { pagesFreed: 0 };
    },
  };
}

describe('the retention schedule', () => {
  it('runs the next pass an hour later once a pass purged all it could', () => {
    expect(nextRetentionDelay({ done: true })).toBe(RETENTION_EVERY_MS);
  });

  it('runs passes back to back (a second apart) while a backlog is left, so 100 events/s stay bounded', async () => {
    // 100 events/s for an hour: 360,000 events, more than one pass (200 batches of 500) takes.
    const store = backlogStore(360_000);
    const delays: number[] = [];
    for (;;) {
      const pass = await runRetentionPass(store, { before: 0 });
      delays.push(nextRetentionDelay(pass));
      if (pass.done) break;
    }
    expect(store.left()).toBe(0);
    expect(delays).toEqual([
      RETENTION_CATCH_UP_MS,
      RETENTION_CATCH_UP_MS,
      RETENTION_CATCH_UP_MS,
      RETENTION_EVERY_MS,
    ]);
    // An hour's arrivals are worked off in minutes, not in the 3.6 hours one pass an hour needs.
    expect((delays.length - 1) * RETENTION_CATCH_UP_MS).toBeLessThan(60_000);
  });
});

describe('runRetentionPass: the pause between batches', () => {
  it('awaits `between` after every batch but the last, with how long that batch took', async () => {
    let t = 1_000;
    const store = backlogStore(7);
    const purge = store.purge.bind(store);
    let call = 0;
    // Each batch takes longer than the one before: 5, 10, 15 ms on the injected clock.
    store.purge = async (input) => {
      t += 5 * ++call;
      return purge(input);
    };
    const pauses: number[] = [];
    const removed = await runRetentionPass(store, {
      before: 0,
      batch: 3,
      now: () => t,
      between: async (batchMs) => {
        pauses.push(batchMs);
        t += batchMs;
      },
    });
    expect(removed).toMatchObject({ events: 7, done: true });
    expect(pauses).toEqual([5, 10]);
  });

  it('never pauses after a pass stops at its batch limit (the next pass is scheduled instead)', async () => {
    const pauses: number[] = [];
    const removed = await runRetentionPass(backlogStore(100), {
      before: 0,
      batch: 10,
      maxBatches: 3,
      now: () => 0,
      between: async (batchMs) => {
        pauses.push(batchMs);
      },
    });
    expect(removed).toMatchObject({ events: 30, done: false });
    expect(pauses).toEqual([0, 0]);
  });
});

describe('runRetentionPass: the lookup rows’ prune', () => {
  it('prunes once a pass has purged what was left, not while a backlog is being worked off', async () => {
    const store = backlogStore(25);
    const prunes: { limit: number; holderRows: number }[] = [];
    store.prune = async ({ limit, holderRows }) => {
      prunes.push({ limit, holderRows });
      return { eventTypes: 1, endpoints: 2, subscriptionRefs: 3 };
    };
    expect(await runRetentionPass(store, { before: 0, batch: 10, maxBatches: 2 })).toMatchObject({
      events: 20,
      done: false,
      eventTypes: 0,
    });
    expect(prunes).toEqual([]);
    expect(await runRetentionPass(store, { before: 0, batch: 10, holderRows: 7 })).toMatchObject({
      events: 5,
      done: true,
      eventTypes: 1,
      endpoints: 2,
      subscriptionRefs: 3,
    });
    expect(prunes).toEqual([{ limit: 10, holderRows: 7 }]);
    // Nothing purged: nothing can have become unreferenced.
    expect(await runRetentionPass(store, { before: 0 })).toMatchObject({ events: 0, eventTypes: 0 });
    expect(prunes).toHaveLength(1);
  });
});

describe('pauseForLockShare: the write lock’s share a purge takes', () => {
  it('pauses (1 - share) / share times the batch, in whole ms and at least 1', () => {
    expect(lockSharePauseMs(3, RETENTION_LOCK_SHARE)).toBe(57);
    expect(lockSharePauseMs(3, 0.2)).toBe(12);
    expect(lockSharePauseMs(4.2, 0.5)).toBe(5);
    expect(lockSharePauseMs(0, 0.2)).toBe(1);
  });

  it('keeps a backlog going far faster than the 100 events/s the store is sized for', () => {
    // A batch of 50 took 3–6 ms (p50) beside wrk's ingest (bench:scale --purge), read included:
    // with its pause, 50 events per 60–120 ms.
    const slowestBatchMs = 6;
    const perSecond =
      (LOCAL_RETENTION_BATCH * 1000) /
      (slowestBatchMs + lockSharePauseMs(slowestBatchMs, RETENTION_LOCK_SHARE));
    expect(perSecond).toBeGreaterThan(4 * 100);
  });
});
