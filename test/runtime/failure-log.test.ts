import { describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/core/errors.ts';
import { createFailureLog, type Logger } from '../../src/runtime/log.ts';

// A full disk fails every request and every dispatcher poll: the log says so once per reason
// every 10 s, with a count, instead of a line each; other failures are logged one by one.
describe('createFailureLog', () => {
  it('folds "cannot write" failures per message and reason into one line per 10 s', () => {
    const lines: { level: string; message: string; fields: Record<string, unknown> | undefined }[] = [];
    const log: Logger = (level, message, fields) => lines.push({ level, message, fields });
    let now = 0;
    const logFailure = createFailureLog(log, () => now);
    const full = new StoreUnavailableError('full', { cause: new Error('database or disk is full') });

    for (let i = 0; i < 100; i++) logFailure('request failed', full);
    logFailure('request failed', new StoreUnavailableError('busy'));
    logFailure('dispatcher error', full);
    logFailure('request failed', new Error('boom'));
    logFailure('request failed', new Error('boom'));
    now = 10_000;
    logFailure('request failed', full);

    expect(
      lines.map((l) => [l.level, l.message, l.fields?.reason, l.fields?.alsoSince, l.fields?.error]),
    ).toEqual([
      ['error', 'request failed', 'full', undefined, 'database full'],
      ['error', 'request failed', 'busy', undefined, 'database locked by another writer'],
      ['error', 'dispatcher error', 'full', undefined, 'database full'],
      ['error', 'request failed', undefined, undefined, 'boom'],
      ['error', 'request failed', undefined, undefined, 'boom'],
      ['error', 'request failed', 'full', 99, 'database full'],
    ]);
  });
});
