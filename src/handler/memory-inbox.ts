import {
  INBOX_PURGE_EVERY_MS,
  INBOX_TOKEN_PURGE_EVERY_MS,
  type Inbox,
  type InboxClaimResult,
  type InboxKey,
  type InboxRetentionOptions,
  type InboxTokenResult,
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
  // By handler, then by event id: no key string to build per call, and no separator that could
  // make two different pairs collide.
  const entries = new Map<string, Map<string, Entry>>();
  const entriesOf = (handler: string) => {
    let byId = entries.get(handler);
    if (byId === undefined) {
      byId = new Map();
      entries.set(handler, byId);
    }
    return byId;
  };
  let purgedAt = Number.NEGATIVE_INFINITY;
  const purge = (nowMs: number) => {
    if (nowMs - purgedAt < INBOX_PURGE_EVERY_MS) return;
    purgedAt = nowMs;
    for (const byId of entries.values()) {
      for (const [eventId, entry] of byId) {
        if (entry.status === 'done' && entry.finishedAt < nowMs - retainMs) byId.delete(eventId);
      }
    }
  };
  const tokens = new Map<string, InboxKey & { expiresAtMs: number }>();
  let tokensPurgedAt = Number.NEGATIVE_INFINITY;
  const purgeTokens = (nowMs: number) => {
    if (nowMs - tokensPurgedAt < INBOX_TOKEN_PURGE_EVERY_MS) return;
    tokensPurgedAt = nowMs;
    for (const [jti, token] of tokens) if (token.expiresAtMs <= nowMs) tokens.delete(jti);
  };

  // Synchronous cores: `recordTokenAndClaim` runs both in one turn, without two more async frames.
  const claim = (input: Parameters<Inbox['claim']>[0]): InboxClaimResult => {
    const byId = entriesOf(input.handler);
    const entry = byId.get(input.eventId);
    if (entry?.status === 'done') return 'done';
    if (entry?.status === 'running' && entry.leaseExpiresAt > input.nowMs) return 'running';
    byId.set(input.eventId, {
      status: 'running',
      claimedAt: input.nowMs,
      leaseExpiresAt: input.nowMs + input.leaseMs,
    });
    return 'claimed';
  };
  const recordToken = (input: Parameters<Inbox['recordToken']>[0]): InboxTokenResult => {
    purgeTokens(input.nowMs);
    const seen = tokens.get(input.jti);
    if (seen !== undefined && seen.expiresAtMs > input.nowMs) {
      const key = { handler: seen.handler, eventId: seen.eventId };
      return {
        status: 'replay',
        key,
        handled: entries.get(key.handler)?.get(key.eventId)?.status === 'done',
      };
    }
    tokens.set(input.jti, {
      handler: input.handler,
      eventId: input.eventId,
      expiresAtMs: input.expiresAtMs,
    });
    return { status: 'new' };
  };

  return {
    async claim(input) {
      return claim(input);
    },
    async complete(input) {
      entriesOf(input.handler).set(input.eventId, { status: 'done', finishedAt: input.nowMs });
      purge(input.nowMs);
    },
    async release(input) {
      // Never forget a done key (a late release must not let a handled event run again), nor a
      // claim another run took over after this one lapsed.
      const byId = entries.get(input.handler);
      const entry = byId?.get(input.eventId);
      if (entry?.status === 'running' && entry.claimedAt === input.claimedAt) byId?.delete(input.eventId);
    },
    async extend(input) {
      const entry = entries.get(input.handler)?.get(input.eventId);
      if (entry?.status !== 'running' || entry.claimedAt !== input.claimedAt) return false;
      entry.leaseExpiresAt = input.nowMs + input.leaseMs;
      return true;
    },
    async recordToken(input) {
      return recordToken(input);
    },
    async recordTokenAndClaim(input) {
      const token = recordToken(input);
      if (token.status === 'replay') return { token, claim: null };
      return { token, claim: claim(input) };
    },
  };
}
