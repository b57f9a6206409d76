import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * Checkpoints a libSQL file's write-ahead log from a worker thread, so the writer's thread does not
 * copy the log into the database and wait for that copy's fsync inside a commit (SQLite's
 * auto-checkpoint runs in whichever commit crosses its threshold: a stall of 10–15 ms every
 * thousand pages under ingest, issue 12).
 */
export interface LibsqlCheckpointer {
  /** Says a commit happened: the thread checkpoints within `intervalMs`. Cheap (an atomic add). */
  committed(): void;
  /** Stops the thread after the checkpoint it is running, closing its connection. Idempotent. */
  close(): Promise<void>;
}

export interface LibsqlCheckpointerOptions {
  /** Commits are left to gather this long before a checkpoint copies them (default 50 ms). */
  readonly intervalMs?: number;
  /**
   * The thread starts at this commit (default the 256th): a connection that writes a little (most
   * tests, a quiet mesh) never pays for a thread; a log that small costs SQLite's own checkpoint
   * next to nothing.
   */
  readonly startAfterCommits?: number;
}

/** Slots of the shared counters: commits seen by the writer, and the stop flag. */
const COMMITS = 0;
const STOP = 1;

const DEFAULT_INTERVAL_MS = 50;
const DEFAULT_START_AFTER_COMMITS = 256;

/**
 * A checkpointer for the file at `path` (already in WAL mode); its thread, with a connection of its
 * own, starts once the writer has committed `startAfterCommits` times. Its checkpoints are PASSIVE: they copy what is committed without taking the write lock, so the
 * writer never waits for them, nor they for it. A PASSIVE checkpoint cannot restart the log while
 * writes keep coming, so the writer's own auto-checkpoint stays on to restart it — it then finds
 * nearly every page already copied, and the log stays as bounded as before.
 * @example const checkpointer = startLibsqlCheckpointer('./data/hookmesh.db'); checkpointer.committed();
 */
export function startLibsqlCheckpointer(
  path: string,
  options: LibsqlCheckpointerOptions = {},
): LibsqlCheckpointer {
  const shared = new Int32Array(new SharedArrayBuffer(8));
  let untilStart = options.startAfterCommits ?? DEFAULT_START_AFTER_COMMITS;
  let worker: Worker | null = null;
  let exited: Promise<void> = Promise.resolve();
  let closing: Promise<void> | undefined;

  const start = () => {
    worker = new Worker(CHECKPOINTER_SOURCE, {
      eval: true,
      execArgv: [],
      workerData: {
        libsql: createRequire(import.meta.url).resolve('libsql'),
        path,
        intervalMs: options.intervalMs ?? DEFAULT_INTERVAL_MS,
        shared: shared.buffer,
      },
    });
    // A waiting checkpointer never keeps the process alive.
    worker.unref();
    // An error ends the thread (the writer's auto-checkpoint still bounds the log), not the process.
    worker.on('error', () => undefined);
    const thread = worker;
    exited = new Promise<void>((ok) => thread.once('exit', () => ok()));
  };

  return {
    committed() {
      if (worker === null) {
        if (closing !== undefined || --untilStart > 0) return;
        try {
          start();
        } catch {
          // A runtime without eval'd worker threads: SQLite's own auto-checkpoint carries on alone,
          // and the commit that got here stays a success.
          closing = Promise.resolve();
          return;
        }
      }
      Atomics.add(shared, COMMITS, 1);
      Atomics.notify(shared, COMMITS);
    },
    close() {
      closing ??= (async () => {
        // The count moves too: a thread not yet waiting then does not wait at all.
        Atomics.store(shared, STOP, 1);
        Atomics.add(shared, COMMITS, 1);
        Atomics.notify(shared, COMMITS);
        await exited;
      })();
      return closing;
    },
  };
}

/**
 * The thread's program: plain JavaScript run with `eval` (as `LIBSQL_WORKER_SOURCE`), blocking in
 * `Atomics.wait` between checkpoints — it has nothing else to do, so no event loop is needed.
 */
const CHECKPOINTER_SOURCE = `'use strict';
const { workerData } = process.getBuiltinModule('node:worker_threads');
const Database = process.getBuiltinModule('node:module').createRequire(workerData.libsql)(workerData.libsql);
const shared = new Int32Array(workerData.shared);
const pause = new Int32Array(new SharedArrayBuffer(4));
// No busy wait: a checkpoint that meets another (the writer's own) skips its turn.
const db = new Database(workerData.path, { timeout: 0 });
db.exec('PRAGMA synchronous = FULL');
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
let seen = 0;
try {
  for (;;) {
    Atomics.wait(shared, ${COMMITS}, seen);
    if (Atomics.load(shared, ${STOP}) === 1) break;
    // Let commits gather: a page written again meanwhile is copied once.
    Atomics.wait(pause, 0, 0, workerData.intervalMs);
    if (Atomics.load(shared, ${STOP}) === 1) break;
    seen = Atomics.load(shared, ${COMMITS});
    try {
      checkpoint.all();
    } catch {
      // Busy or locked: the next commit brings another try.
    }
  }
} finally {
  db.close();
}
`;
