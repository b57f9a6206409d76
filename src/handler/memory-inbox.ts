import type { Inbox, InboxKey } from './inbox.ts';

type Entry =
  | { status: 'running'; claimedAt: number; leaseExpiresAt: number }
  | { status: 'done'; finishedAt: number };

/**
 * An inbox in this process's memory: for tests, and for a single-process service that accepts
 * that a restart forgets what was handled (copies that arrive after a restart run again).
 * Done entries are kept for the life of the process.
 * @example const webhooks = createWebhookApp({ handlers, signingKeys, inbox: createMemoryInbox() });
 */
export function createMemoryInbox(): Inbox {
  const entries = new Map<string, Entry>();
  // JSON of the pair, not a joined string: no separator can make two different keys collide.
  const keyOf = (key: InboxKey) => JSON.stringify([key.handler, key.eventId]);

  return {
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
    },
    async release(input) {
      const key = keyOf(input);
      // Never forget a done key (a late release must not let a handled event run again), nor a
      // claim another run took over after this one lapsed.
      const entry = entries.get(key);
      if (entry?.status === 'running' && entry.claimedAt === input.claimedAt) entries.delete(key);
    },
  };
}
