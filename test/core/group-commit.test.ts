import { describe, expect, it } from 'vitest';
import { createGroupCommit } from '../../src/core/group-commit.ts';

class Conflict extends Error {
  constructor(readonly item: string) {
    super(`duplicate ${item}`);
  }
}

/** A write that records what it was given, and refuses items listed in `conflicts`. */
function createFakeWrite(options: { conflicts?: readonly string[]; fail?: Error } = {}) {
  const writes: string[][] = [];
  return {
    writes,
    async write(items: readonly string[]) {
      writes.push([...items]);
      if (options.fail) throw options.fail;
      const bad = items.find((i) => options.conflicts?.includes(i));
      if (bad !== undefined) throw new Conflict(bad);
    },
  };
}

const isConflict = (error: unknown) => error instanceof Conflict;

/** A promise plus the means to settle it from outside. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('createGroupCommit', () => {
  it('writes a lone request without waiting for company', async () => {
    const fake = createFakeWrite();
    const commit = createGroupCommit({ write: fake.write, isIsolatable: isConflict, maxItems: 100 });

    await commit.submit(['a']);

    expect(fake.writes).toEqual([['a']]);
  });

  it('puts requests submitted in the same tick into one write, in order', async () => {
    const fake = createFakeWrite();
    const commit = createGroupCommit({ write: fake.write, isIsolatable: isConflict, maxItems: 100 });

    await Promise.all([commit.submit(['a']), commit.submit(['b', 'c']), commit.submit(['d'])]);

    expect(fake.writes).toEqual([['a', 'b', 'c', 'd']]);
  });

  it('answers a request only once its write has finished', async () => {
    const started = deferred();
    const release = deferred();
    const commit = createGroupCommit<string>({
      async write() {
        started.resolve();
        await release.promise;
      },
      isIsolatable: isConflict,
      maxItems: 100,
    });
    let answered = false;
    const submitted = commit.submit(['a']).then(() => {
      answered = true;
    });

    await started.promise;
    await Promise.resolve();
    expect(answered).toBe(false);
    release.resolve();
    await submitted;
    expect(answered).toBe(true);
  });

  it('gathers what queues during a write into the next write', async () => {
    const writes: string[][] = [];
    const firstStarted = deferred();
    const releaseFirst = deferred();
    const commit = createGroupCommit<string>({
      async write(items) {
        writes.push([...items]);
        if (writes.length === 1) {
          firstStarted.resolve();
          await releaseFirst.promise;
        }
      },
      isIsolatable: isConflict,
      maxItems: 100,
    });

    const first = commit.submit(['a']);
    await firstStarted.promise;
    const later = [commit.submit(['b']), commit.submit(['c']), commit.submit(['d'])];
    releaseFirst.resolve();
    await Promise.all([first, ...later]);

    expect(writes).toEqual([['a'], ['b', 'c', 'd']]);
  });

  it('retries each request alone when the shared write hits a conflict, so only the culprit fails', async () => {
    const fake = createFakeWrite({ conflicts: ['bad'] });
    const commit = createGroupCommit({ write: fake.write, isIsolatable: isConflict, maxItems: 100 });

    const results = await Promise.allSettled([
      commit.submit(['a']),
      commit.submit(['bad', 'b2']),
      commit.submit(['c']),
    ]);

    expect(results[0]).toEqual({ status: 'fulfilled', value: undefined });
    expect(results[1]).toMatchObject({ status: 'rejected', reason: { item: 'bad' } });
    expect(results[2]).toEqual({ status: 'fulfilled', value: undefined });
    expect(fake.writes).toEqual([['a', 'bad', 'b2', 'c'], ['a'], ['bad', 'b2'], ['c']]);
  });

  it('rejects a lone request with its conflict without writing twice', async () => {
    const fake = createFakeWrite({ conflicts: ['bad'] });
    const commit = createGroupCommit({ write: fake.write, isIsolatable: isConflict, maxItems: 100 });

    await expect(commit.submit(['bad'])).rejects.toBeInstanceOf(Conflict);

    expect(fake.writes).toEqual([['bad']]);
  });

  it('rejects the whole group, without retrying, when the write fails for another reason', async () => {
    const failure = new Error('disk I/O error');
    const fake = createFakeWrite({ fail: failure });
    const commit = createGroupCommit({ write: fake.write, isIsolatable: isConflict, maxItems: 100 });

    const results = await Promise.allSettled([
      commit.submit(['a']),
      commit.submit(['b']),
      commit.submit(['c']),
    ]);

    expect(results).toEqual([
      { status: 'rejected', reason: failure },
      { status: 'rejected', reason: failure },
      { status: 'rejected', reason: failure },
    ]);
    expect(fake.writes).toEqual([['a', 'b', 'c']]);
  });

  it('keeps working after a failed write', async () => {
    let fail = true;
    const writes: string[][] = [];
    const commit = createGroupCommit<string>({
      async write(items) {
        writes.push([...items]);
        if (fail) throw new Error('transient');
      },
      isIsolatable: isConflict,
      maxItems: 100,
    });

    await expect(commit.submit(['a'])).rejects.toThrow('transient');
    fail = false;
    await commit.submit(['b']);

    expect(writes).toEqual([['a'], ['b']]);
  });

  it('never puts more than maxItems in one write, and never splits a request', async () => {
    const fake = createFakeWrite();
    const commit = createGroupCommit({ write: fake.write, isIsolatable: isConflict, maxItems: 3 });

    await Promise.all([
      commit.submit(['1', '2']),
      commit.submit(['3']),
      commit.submit(['4']),
      commit.submit(['5', '6', '7']),
      commit.submit(['8']),
      commit.submit(['9']),
    ]);

    expect(fake.writes).toEqual([['1', '2', '3'], ['4'], ['5', '6', '7'], ['8', '9']]);
  });

  it('writes a request bigger than maxItems alone and whole', async () => {
    const fake = createFakeWrite();
    const commit = createGroupCommit({ write: fake.write, isIsolatable: isConflict, maxItems: 2 });

    await Promise.all([commit.submit(['a']), commit.submit(['b', 'c', 'd', 'e']), commit.submit(['f'])]);

    expect(fake.writes).toEqual([['a'], ['b', 'c', 'd', 'e'], ['f']]);
  });

  // Node's turns of the event loop (setImmediate), which group commit gathers over there.
  const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
  /** A group commit that gathers over up to 4 turns, as the event store's does. */
  const gathering = (fake: ReturnType<typeof createFakeWrite>) =>
    createGroupCommit({ write: fake.write, isIsolatable: isConflict, maxItems: 100, gatherTurns: 4 });

  it('takes the first turn without gatherTurns', async () => {
    const fake = createFakeWrite();
    const commit = createGroupCommit({ write: fake.write, isIsolatable: isConflict, maxItems: 100 });

    const all = [commit.submit(['a']), commit.submit(['b'])];
    await nextTurn();
    all.push(commit.submit(['c']));
    await Promise.all(all);

    expect(fake.writes).toEqual([['a', 'b'], ['c']]);
  });

  it('waits a further turn of the event loop while each turn brings more requests', async () => {
    const fake = createFakeWrite();
    const commit = gathering(fake);

    // Two in one turn, one more in each of the next two: the answers of a commit coming back.
    const all = [commit.submit(['a']), commit.submit(['b'])];
    await nextTurn();
    all.push(commit.submit(['c']));
    await nextTurn();
    all.push(commit.submit(['d']));
    await Promise.all(all);

    expect(fake.writes).toEqual([['a', 'b', 'c', 'd']]);
  });

  it('writes a lone request at once, without waiting a turn for company', async () => {
    const fake = createFakeWrite();
    const commit = gathering(fake);

    const first = commit.submit(['a']);
    await nextTurn();
    await Promise.all([first, commit.submit(['b'])]);

    expect(fake.writes).toEqual([['a'], ['b']]);
  });

  it('stops gathering after a few turns when requests keep coming', async () => {
    const fake = createFakeWrite();
    const commit = gathering(fake);

    const all = [commit.submit(['a']), commit.submit(['b'])];
    for (let turn = 0; turn < 20; turn++) {
      await nextTurn();
      all.push(commit.submit([`t${turn}`]));
    }
    await Promise.all(all);

    expect(fake.writes.length).toBeGreaterThan(1);
    expect(fake.writes[0]!.length).toBeLessThan(10);
    expect(fake.writes.flat()).toEqual(['a', 'b', ...Array.from({ length: 20 }, (_, t) => `t${t}`)]);
  });

  it('stops gathering once maxItems are queued', async () => {
    const fake = createFakeWrite();
    const commit = createGroupCommit({
      write: fake.write,
      isIsolatable: isConflict,
      maxItems: 3,
      gatherTurns: 4,
    });

    const all = [commit.submit(['a']), commit.submit(['b']), commit.submit(['c'])];
    await nextTurn();
    all.push(commit.submit(['d']));
    await Promise.all(all);

    expect(fake.writes).toEqual([['a', 'b', 'c'], ['d']]);
  });
});
