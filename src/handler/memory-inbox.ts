import {
  INBOX_PURGE_EVERY_MS,
  INBOX_TOKEN_PURGE_EVERY_MS,
  type Inbox,
  type InboxKey,
  type InboxRetentionOptions,
  toInboxRetentionMs,
} from './inbox.ts';

type Entry =
  | { status: 'running'; claimedAt: number; leaseExpiresAt: number }
  | { status: 'done'; finishedAt: number };

/**
 * An inbox in this process's memory: for tests, and for a single-process service that accepts
 * that a restart forgets what was handled (copies that arrive after a restart run again).
 * Done entries are kept as long as a durable inbox keeps them (21 days by default), then dropped;
 * request tokens until they expire.
 * @example const webhooks = createWebhookApp({ handlers, signingKeys, publicUrl, inbox: createMemoryInbox() });
 */
export function createMemoryInbox(options: InboxRetentionOptions = {}): Inbox {
  const retainMs = toInboxRetentionMs(options);
  const entries = new Map<string, Entry>();
  let purgedAt = Number.NEGATIVE_INFINITY;
  const purge = (nowMs: number) => {
    if (nowMs - purgedAt < INBOX_PURGE_EVERY_MS) return;
    purgedAt = nowMs;
    for (const [key, entry] of entries) {
      if (entry.status === 'done' && entry.finishedAt < nowMs - retainMs) entries.delete(key);
    }
  };
  // JSON of the pair, not a joined string: no separator can make two different keys collide.
  const keyOf = (key: InboxKey) => JSON.stringify([key.handler, key.eventId]);
  const tokens = new Map<string, InboxKey & { expiresAtMs: number }>();
  let tokensPurgedAt = Number.NEGATIVE_INFINITY;
  const purgeTokens = (nowMs: number) => {
    if (nowMs - tokensPurgedAt < INBOX_TOKEN_PURGE_EVERY_MS) return;
    tokensPurgedAt = nowMs;
    for (const [jti, token] of tokens) if (token.expiresAtMs <= nowMs) tokens.delete(jti);
  };

  const inbox: Inbox = {
    async claim(input) {
      const key = keyOf(input);
      const entry = entries.get(key);
      if (entry?.status === 'done') return 'done';
      if (entry?.status === 'running' && entry.leaseExpiresAt > input.nowMs) return 'running';
      entries.set(key, {
        status: 'running',
        claimedAt: input.nowMs,
        leaseExpiresAt: input.nowMs + input.leaseMs,
      });
      return 'claimed';
    },
    async complete(input) {
      entries.set(keyOf(input), { status: 'done', finishedAt: input.nowMs });
      purge(input.nowMs);
    },
    async release(input) {
      const key = keyOf(input);
      // Never forget a done key (a late release must not let a handled event run again), nor a
      // claim another run took over after this one lapsed.
      const entry = entries.get(key);
      if (entry?.status === 'running' && entry.claimedAt === input.claimedAt) entries.delete(key);
    },
    async extend(input) {
      const entry = entries.get(keyOf(input));
      if (entry?.status !== 'running' || entry.claimedAt !== input.claimedAt) return false;
      entry.leaseExpiresAt = input.nowMs + input.leaseMs;
      return true;
    },
    async recordToken(input) {
      purgeTokens(input.nowMs);
      const seen = tokens.get(input.jti);
      if (seen !== undefined && seen.expiresAtMs > input.nowMs) {
        const key = { handler: seen.handler, eventId: seen.eventId };
        return { status: 'replay', key, handled: entries.get(keyOf(key))?.status === 'done' };
      }
      tokens.set(input.jti, {
        handler: input.handler,
        eventId: input.eventId,
        expiresAtMs: input.expiresAtMs,
      });
      return { status: 'new' };
    },
    async recordTokenAndClaim(input) {
      const token = await inbox.recordToken(input);
      if (token.status === 'replay') return { token, claim: null };
      return { token, claim: await inbox.claim(input) };
    },
  };
  return inbox;
}
