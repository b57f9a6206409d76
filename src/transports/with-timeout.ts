/** The errors `withTimeout` made: told apart from a client's own without a class of their own. */
const timeouts = new WeakSet<object>();

/**
 * Settles as `promise` does, or rejects after `ms` — for clients with no timeout of their own
 * (`@upstash/qstash`). A late answer is dropped; callers make a repeat safe (dedup ids, re-asking).
 * @example const answers = await withTimeout(client.batch(messages), 10_000);
 */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new Error(`QStash did not answer within ${ms} ms`);
      timeouts.add(error);
      reject(error);
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Whether `error` is one `withTimeout` made (no answer in time), not the client's own.
 * @example if (isTimeout(error)) return 'slow';
 */
export function isTimeout(error: unknown): boolean {
  return typeof error === 'object' && error !== null && timeouts.has(error);
}
