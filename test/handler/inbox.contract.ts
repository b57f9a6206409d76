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

    it('extend pushes the lease of the running claim, so a retry cannot take it over', async () => {
      await inbox.claim({ ...key, nowMs: T0, leaseMs: LEASE });
      expect(await inbox.extend({ ...key, claimedAt: T0, nowMs: T0 + LEASE - 1, leaseMs: LEASE })).toBe(true);
      // Without the extension the claim would have lapsed at T0 + LEASE.
      expect(await inbox.claim({ ...key, nowMs: T0 + LEASE, leaseMs: LEASE })).toBe('running');
      expect(await inbox.claim({ ...key, nowMs: T0 + 2 * LEASE - 2, leaseMs: LEASE })).toBe('running');
      // Extended from T0 + LEASE - 1: lapses one lease after that, like any claim left alone.
      expect(await inbox.claim({ ...key, nowMs: T0 + 2 * LEASE - 1, leaseMs: LEASE })).toBe('claimed');
    });

    it('extend touches only the claim made at claimedAt: not a takeover, not a done or released key', async () => {
      await inbox.claim({ ...key, nowMs: T0, leaseMs: LEASE });
      expect(await inbox.claim({ ...key, nowMs: T0 + LEASE, leaseMs: LEASE })).toBe('claimed');
      // The first run's heartbeat, late: the new holder's lease is left as it was.
      expect(await inbox.extend({ ...key, claimedAt: T0, nowMs: T0 + 10 * LEASE, leaseMs: LEASE })).toBe(
        false,
      );
      expect(await inbox.claim({ ...key, nowMs: T0 + 2 * LEASE, leaseMs: LEASE })).toBe('claimed');

      const other = { handler: 'billing', eventId: 'ie_02' };
      await inbox.claim({ ...other, nowMs: T0, leaseMs: LEASE });
      await inbox.complete({ ...other, nowMs: T0 + 1 });
      expect(await inbox.extend({ ...other, claimedAt: T0, nowMs: T0 + 2, leaseMs: LEASE })).toBe(false);
      expect(await inbox.claim({ ...other, nowMs: T0 + 3, leaseMs: LEASE })).toBe('done');

      const third = { handler: 'billing', eventId: 'ie_03' };
      await inbox.claim({ ...third, nowMs: T0, leaseMs: LEASE });
      await inbox.release({ ...third, claimedAt: T0 });
      expect(await inbox.extend({ ...third, claimedAt: T0, nowMs: T0 + 1, leaseMs: LEASE })).toBe(false);
      expect(await inbox.claim({ ...third, nowMs: T0 + 2, leaseMs: LEASE })).toBe('claimed');
    });

    const token = { jti: 'jwt_1', ...key, expiresAtMs: T0 + 305_000 };

    it('a token is new once; presented again it is a replay of the key it first came with', async () => {
      expect(await inbox.recordToken({ ...token, nowMs: T0 })).toEqual({ status: 'new' });
      // Whatever key the second presentation claims, the answer names the first one's.
      expect(await inbox.recordToken({ ...token, eventId: 'ie_forged', nowMs: T0 + 1 })).toEqual({
        status: 'replay',
        key,
        handled: false,
      });
      expect(await inbox.recordToken({ ...token, jti: 'jwt_2', nowMs: T0 + 1 })).toEqual({ status: 'new' });
    });

    it('a replay says whether its key is handled: not while running or released, yes once done', async () => {
      await inbox.recordToken({ ...token, nowMs: T0 });
      await inbox.claim({ ...key, nowMs: T0, leaseMs: LEASE });
      expect(await inbox.recordToken({ ...token, nowMs: T0 + 1 })).toMatchObject({ handled: false });
      await inbox.release({ ...key, claimedAt: T0 });
      expect(await inbox.recordToken({ ...token, nowMs: T0 + 2 })).toMatchObject({ handled: false });
      await inbox.complete({ ...key, nowMs: T0 + 3 });
      expect(await inbox.recordToken({ ...token, nowMs: T0 + 4 })).toEqual({
        status: 'replay',
        key,
        handled: true,
      });
    });

    it('a token is remembered until it expires, then forgotten (no verifier accepts it any more)', async () => {
      await inbox.recordToken({ ...token, nowMs: T0 });
      expect(await inbox.recordToken({ ...token, nowMs: token.expiresAtMs - 1 })).toMatchObject({
        status: 'replay',
      });
      const later = { ...token, eventId: 'ie_later', expiresAtMs: token.expiresAtMs + 305_000 };
      expect(await inbox.recordToken({ ...later, nowMs: token.expiresAtMs })).toEqual({ status: 'new' });
      expect(await inbox.recordToken({ ...later, nowMs: token.expiresAtMs + 1 })).toEqual({
        status: 'replay',
        key: { handler: key.handler, eventId: 'ie_later' },
        handled: false,
      });
    });

    it('concurrent presentations of one token: exactly one is new', async () => {
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => inbox.recordToken({ ...token, eventId: `ie_${i}`, nowMs: T0 })),
      );
      expect(results.filter((r) => r.status === 'new')).toHaveLength(1);
      const replays = results.filter((r) => r.status === 'replay');
      expect(replays).toHaveLength(9);
      // All name the one key that was recorded.
      expect(new Set(replays.map((r) => JSON.stringify(r.status === 'replay' ? r.key : null))).size).toBe(1);
    });

    it('concurrent claims of one key: exactly one is claimed', async () => {
      const results = await Promise.all(
        Array.from({ length: 10 }, () => inbox.claim({ ...key, nowMs: T0, leaseMs: LEASE })),
      );
      expect(results.filter((r) => r === 'claimed')).toHaveLength(1);
      expect(results.filter((r) => r === 'running')).toHaveLength(9);
    });

    describe('recordTokenAndClaim: recordToken, then claim only for a new token, in one write', () => {
      const admit = (input: Partial<typeof token> & { nowMs: number }) => {
        if (inbox.recordTokenAndClaim === undefined)
          throw new Error('the adapter has no recordTokenAndClaim');
        return inbox.recordTokenAndClaim({ ...token, leaseMs: LEASE, ...input });
      };

      it('a new token on a fresh key claims it; while the claim lives, the key is running', async () => {
        expect(await admit({ nowMs: T0 })).toEqual({ token: { status: 'new' }, claim: 'claimed' });
        expect(await inbox.claim({ ...key, nowMs: T0 + 1, leaseMs: LEASE })).toBe('running');
        // The claim is the one made at nowMs: release and extend name it by that time.
        expect(await inbox.extend({ ...key, claimedAt: T0, nowMs: T0 + 2, leaseMs: LEASE })).toBe(true);
        await inbox.release({ ...key, claimedAt: T0 });
        expect(await inbox.claim({ ...key, nowMs: T0 + 3, leaseMs: LEASE })).toBe('claimed');
      });

      it('a new token on a running or done key says so, and the token is recorded all the same', async () => {
        await inbox.claim({ ...key, nowMs: T0, leaseMs: LEASE });
        expect(await admit({ nowMs: T0 + 1 })).toEqual({ token: { status: 'new' }, claim: 'running' });
        await inbox.complete({ ...key, nowMs: T0 + 2 });
        expect(await admit({ jti: 'jwt_2', nowMs: T0 + 3 })).toEqual({
          token: { status: 'new' },
          claim: 'done',
        });
        expect(await inbox.recordToken({ ...token, nowMs: T0 + 4 })).toMatchObject({ status: 'replay' });
        expect(await inbox.recordToken({ ...token, jti: 'jwt_2', nowMs: T0 + 4 })).toMatchObject({
          status: 'replay',
        });
      });

      it('an expired claim is taken over, as claim does', async () => {
        await inbox.claim({ ...key, nowMs: T0, leaseMs: LEASE });
        expect(await admit({ nowMs: T0 + LEASE })).toEqual({ token: { status: 'new' }, claim: 'claimed' });
        expect(await inbox.claim({ ...key, nowMs: T0 + LEASE + 1, leaseMs: LEASE })).toBe('running');
      });

      it('a replayed token never claims, not even a key that is free again, and names its first key', async () => {
        expect(await admit({ nowMs: T0 })).toMatchObject({ claim: 'claimed' });
        await inbox.release({ ...key, claimedAt: T0 });
        expect(await admit({ eventId: 'ie_forged', nowMs: T0 + 1 })).toEqual({
          token: { status: 'replay', key, handled: false },
          claim: null,
        });
        expect(await admit({ nowMs: T0 + 2 })).toEqual({
          token: { status: 'replay', key, handled: false },
          claim: null,
        });
        // Neither the key nor the forged one was claimed by the replays.
        expect(await inbox.claim({ ...key, nowMs: T0 + 3, leaseMs: LEASE })).toBe('claimed');
        expect(await inbox.claim({ ...key, eventId: 'ie_forged', nowMs: T0 + 3, leaseMs: LEASE })).toBe(
          'claimed',
        );
        await inbox.complete({ ...key, nowMs: T0 + 4 });
        expect(await admit({ nowMs: T0 + 5 })).toEqual({
          token: { status: 'replay', key, handled: true },
          claim: null,
        });
      });

      it('a token recorded by recordToken is a replay here too, and an expired one is new again', async () => {
        await inbox.recordToken({ ...token, nowMs: T0 });
        expect(await admit({ nowMs: T0 + 1 })).toMatchObject({ token: { status: 'replay' }, claim: null });
        const later = { eventId: 'ie_later', expiresAtMs: token.expiresAtMs + 305_000 };
        expect(await admit({ ...later, nowMs: token.expiresAtMs })).toEqual({
          token: { status: 'new' },
          claim: 'claimed',
        });
      });

      it('concurrently: one token presented for ten keys is new once; ten tokens for one key claim it once', async () => {
        const sameToken = await Promise.all(
          Array.from({ length: 10 }, (_, i) => admit({ eventId: `ie_${i}`, nowMs: T0 })),
        );
        expect(sameToken.filter((r) => r.token.status === 'new')).toHaveLength(1);
        expect(sameToken.filter((r) => r.claim === 'claimed')).toHaveLength(1);
        expect(sameToken.filter((r) => r.claim === null)).toHaveLength(9);

        const other = { handler: 'billing', eventId: 'ie_one' };
        const sameKey = await Promise.all(
          Array.from({ length: 10 }, (_, i) => admit({ ...other, jti: `jwt_k${i}`, nowMs: T0 })),
        );
        expect(sameKey.every((r) => r.token.status === 'new')).toBe(true);
        expect(sameKey.filter((r) => r.claim === 'claimed')).toHaveLength(1);
        expect(sameKey.filter((r) => r.claim === 'running')).toHaveLength(9);
      });
    });
  });
}
