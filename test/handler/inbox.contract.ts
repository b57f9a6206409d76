import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Inbox } from '../../src/handler/inbox.ts';

export interface InboxFixture {
  readonly inbox: Inbox;
  dispose(): Promise<void>;
}

const T0 = 1_800_000_000_000;
const LEASE = 60_000;
const key = { handler: 'billing', eventId: 'ie_01' };

/** The one contract every Inbox adapter honours (STYLE.md rule 15). */
export function describeInboxContract(name: string, create: () => Promise<InboxFixture>) {
  describe(`Inbox contract: ${name}`, () => {
    let fixture: InboxFixture;
    let inbox: Inbox;
    beforeEach(async () => {
      fixture = await create();
      inbox = fixture.inbox;
    });
    afterEach(async () => {
      await fixture.dispose();
    });

    it('a fresh key is claimed; while the claim lives, it is running', async () => {
      expect(await inbox.claim({ ...key, nowMs: T0, leaseMs: LEASE })).toBe('claimed');
      expect(await inbox.claim({ ...key, nowMs: T0, leaseMs: LEASE })).toBe('running');
      expect(await inbox.claim({ ...key, nowMs: T0 + LEASE - 1, leaseMs: LEASE })).toBe('running');
    });

    it('a completed key is done for good: after any time, after a late release', async () => {
      await inbox.claim({ ...key, nowMs: T0, leaseMs: LEASE });
      await inbox.complete({ ...key, nowMs: T0 + 10 });
      expect(await inbox.claim({ ...key, nowMs: T0 + 20, leaseMs: LEASE })).toBe('done');
      await inbox.release({ ...key, claimedAt: T0 });
      expect(await inbox.claim({ ...key, nowMs: T0 + 10 * LEASE, leaseMs: LEASE })).toBe('done');
    });

    it('a released claim can be claimed again at once', async () => {
      await inbox.claim({ ...key, nowMs: T0, leaseMs: LEASE });
      await inbox.release({ ...key, claimedAt: T0 });
      expect(await inbox.claim({ ...key, nowMs: T0 + 1, leaseMs: LEASE })).toBe('claimed');
    });

    it("a late release after a takeover leaves the new holder's claim alone", async () => {
      await inbox.claim({ ...key, nowMs: T0, leaseMs: LEASE });
      // The first run outlived its lease; a retry elsewhere took the key over.
      expect(await inbox.claim({ ...key, nowMs: T0 + LEASE, leaseMs: LEASE })).toBe('claimed');
      await inbox.release({ ...key, claimedAt: T0 });
      expect(await inbox.claim({ ...key, nowMs: T0 + LEASE + 1, leaseMs: LEASE })).toBe('running');
      await inbox.release({ ...key, claimedAt: T0 + LEASE });
      expect(await inbox.claim({ ...key, nowMs: T0 + LEASE + 2, leaseMs: LEASE })).toBe('claimed');
    });

    it('an expired claim can be claimed again, and the new claim gets its own lease', async () => {
      await inbox.claim({ ...key, nowMs: T0, leaseMs: LEASE });
      expect(await inbox.claim({ ...key, nowMs: T0 + LEASE, leaseMs: LEASE })).toBe('claimed');
      expect(await inbox.claim({ ...key, nowMs: T0 + LEASE + 1, leaseMs: LEASE })).toBe('running');
      expect(await inbox.claim({ ...key, nowMs: T0 + 2 * LEASE, leaseMs: LEASE })).toBe('claimed');
    });

    it('complete without a claim still records the key as done', async () => {
      await inbox.complete({ ...key, nowMs: T0 });
      expect(await inbox.claim({ ...key, nowMs: T0, leaseMs: LEASE })).toBe('done');
    });

    it('releasing an unknown key is harmless', async () => {
      await inbox.release({ ...key, claimedAt: T0 });
      expect(await inbox.claim({ ...key, nowMs: T0, leaseMs: LEASE })).toBe('claimed');
    });

    it('keys are the pair: another handler or another event is independent', async () => {
      await inbox.claim({ ...key, nowMs: T0, leaseMs: LEASE });
      await inbox.complete({ ...key, nowMs: T0 });
      expect(await inbox.claim({ handler: 'audit', eventId: 'ie_01', nowMs: T0, leaseMs: LEASE })).toBe(
        'claimed',
      );
      expect(await inbox.claim({ handler: 'billing', eventId: 'ie_02', nowMs: T0, leaseMs: LEASE })).toBe(
        'claimed',
      );
      // No separator trick makes two pairs one key.
      expect(await inbox.claim({ handler: 'a:b', eventId: 'c', nowMs: T0, leaseMs: LEASE })).toBe('claimed');
      expect(await inbox.claim({ handler: 'a', eventId: 'b:c', nowMs: T0, leaseMs: LEASE })).toBe('claimed');
    });

    it('concurrent claims of one key: exactly one is claimed', async () => {
      const results = await Promise.all(
        Array.from({ length: 10 }, () => inbox.claim({ ...key, nowMs: T0, leaseMs: LEASE })),
      );
      expect(results.filter((r) => r === 'claimed')).toHaveLength(1);
      expect(results.filter((r) => r === 'running')).toHaveLength(9);
    });
  });
}
