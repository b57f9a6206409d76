import { StoreUnavailableError } from '../core/errors.ts';

/** One line per record, JSON, to stdout/stderr. Callers never pass secrets in `fields`. */
export type Logger = (
  level: 'info' | 'warn' | 'error',
  message: string,
  fields?: Record<string, unknown>,
) => void;

export const consoleLogger: Logger = (level, message, fields = {}) => {
  const line = JSON.stringify({ time: new Date().toISOString(), level, message, ...fields });
  if (level === 'error') console.error(line);
  else console.log(line);
};

/** An error's message and kind, without the request or config it may carry. */
export function describeError(error: unknown): Record<string, unknown> {
  if (error instanceof Error) {
    return {
      error: error.message,
      errorName: error.name,
      ...(error.cause ? { cause: String(error.cause) } : {}),
    };
  }
  return { error: String(error) };
}

/** One line per reason per this long while the database cannot write. */
const UNAVAILABLE_DIGEST_MS = 10_000;

/**
 * Logs failures as errors, except that "the database cannot write" (locked, full, …) is logged
 * once per reason and message every 10 s, counting the ones folded in: under load a full disk
 * fails every request and every dispatcher poll, and a line for each would flood the log.
 * @example const logFailure = createFailureLog(log); logFailure('request failed', error);
 */
export function createFailureLog(
  log: Logger,
  now: () => number = Date.now,
): (message: string, error: unknown) => void {
  const last = new Map<string, { at: number; folded: number }>();
  return (message, error) => {
    if (!(error instanceof StoreUnavailableError)) {
      log('error', message, describeError(error));
      return;
    }
    const key = `${message}\u0000${error.reason}`;
    const seen = last.get(key);
    if (seen && now() - seen.at < UNAVAILABLE_DIGEST_MS) {
      seen.folded++;
      return;
    }
    last.set(key, { at: now(), folded: 0 });
    log('error', message, {
      ...describeError(error),
      reason: error.reason,
      ...(seen ? { alsoSince: seen.folded } : {}),
    });
  };
}
