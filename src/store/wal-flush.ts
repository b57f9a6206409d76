/** The file operations a flusher needs: `nodeWalFiles` on Node; tests observe or hold them. */
export interface WalFiles {
  /** The file's identity (its inode), or null when there is no file at `path`. */
  identity(path: string): number | null;
  /** Opens the file for syncing (never written) and its identity. */
  open(path: string): { readonly fd: number; readonly identity: number };
  close(fd: number): void;
  /** fdatasync(2) off the event loop (Node: libuv's thread pool), the callback on it. */
  fdatasync(fd: number, done: (error: Error | null) => void): void;
}

/**
 * A connection's commits made durable off the event loop. The connection commits at
 * `synchronous = NORMAL` — in WAL mode SQLite then writes the commit's frames to the log and syncs
 * nothing — and whoever acts on a commit first waits for `durable(seq)`: an fdatasync of the log
 * started after that commit. That is `synchronous = FULL`'s promise (the log synced before anything
 * depends on the commit), with the sync on the thread pool instead of inside COMMIT, so the event
 * loop serves other work while the disk flushes, and one sync covers every commit before it
 * (group commit, across the connections of every process: the log is one file, appended in order).
 *
 * A checkpoint stays SQLite's: at NORMAL it syncs the log before copying it into the database and
 * the database after, and a log restarted from its beginning has its header synced first.
 *
 * A failed sync poisons the flusher: after a failed fdatasync Linux may have dropped the dirty
 * pages and reports the error once, so a later sync's success proves nothing. Every commit after
 * it then fails to become durable (the store answers 503) until the process restarts and SQLite
 * recovers from the file as it is.
 * @example const flusher = createWalFlusher('/srv/data/hookmesh.db-wal', nodeWalFiles); await flusher.durable(flusher.committed());
 */
export interface WalFlusher {
  /** Counts a commit just made on the connection; the number `durable` waits for. */
  committed(): number;
  /** Resolves once an fdatasync of the log, started after commit `seq`, has completed. */
  durable(seq: number): Promise<void>;
  /** Resolves once every commit counted so far is durable (for reads, which may show them). */
  settled(): Promise<void>;
  /** Whether commits were counted that no completed sync covers yet. */
  readonly pending: boolean;
  /**
   * Closes the log's file descriptor once no sync runs. Commits counted before still become
   * durable: a sync asked for later opens the log again (or finds it gone: the connection that
   * closed last checkpointed it into the database, synced, and removed it).
   */
  close(): void;
}

interface Sync {
  /** The last commit counted when the sync started: the sync covers it and every one before. */
  readonly covers: number;
  readonly done: Promise<void>;
}

/**
 * A flusher for the write-ahead log at `walPath` (the database's absolute path plus `-wal`).
 * @example const flusher = createWalFlusher(`${path}-wal`, nodeWalFiles);
 */
export function createWalFlusher(walPath: string, files: WalFiles): WalFlusher {
  let counted = 0;
  let synced = 0;
  let running: Sync | null = null;
  /** Waiters for the sync that starts when `running` ends: they committed after it started. */
  let next: Promise<void> | null = null;
  let failure: Error | null = null;
  let fd: number | null = null;
  let ino = -1;
  let closed = false;

  return {
    committed: () => ++counted,
    durable,
    settled: () => durable(counted),
    get pending() {
      return synced < counted;
    },
    close() {
      closed = true;
      // A sync in flight keeps the descriptor until it completes (`finish`, `fail`).
      if (running === null) closeFd();
    },
  };

  function durable(seq: number): Promise<void> {
    if (failure !== null) return Promise.reject(failure);
    if (synced >= seq) return Promise.resolve();
    if (running === null) return start().done;
    if (running.covers >= seq) return running.done;
    next ??= running.done.then(
      () => {
        next = null;
        return durable(seq);
      },
      (error: unknown) => {
        next = null;
        throw error;
      },
    );
    return next;
  }

  function start(): Sync {
    const covers = counted;
    let settle!: { resolve: () => void; reject: (error: Error) => void };
    const done = new Promise<void>((resolve, reject) => {
      settle = { resolve, reject };
    });
    const sync: Sync = { covers, done };
    // Set before the sync can finish: `finish` and `fail` clear it, even when that happens at once.
    running = sync;
    let target: number | null;
    try {
      target = logFd();
    } catch (error) {
      fail(error as Error, settle.reject);
      return sync;
    }
    if (target === null) {
      // SQLite removes the log only as the last connection closes, after checkpointing it into
      // the database and syncing that; while ours is open a missing log means a wrong path.
      if (closed) finish(covers, settle.resolve);
      else fail(new Error(`no write-ahead log at ${walPath}`), settle.reject);
    } else
      files.fdatasync(target, (error) => {
        if (error) fail(error, settle.reject);
        else finish(covers, settle.resolve);
      });
    return sync;
  }

  function finish(covers: number, resolve: () => void) {
    synced = Math.max(synced, covers);
    running = null;
    if (closed) closeFd();
    resolve();
  }

  function fail(error: Error, reject: (error: Error) => void) {
    failure = new Error(`syncing the write-ahead log failed: ${error.message}`, { cause: error });
    running = null;
    if (closed) closeFd();
    reject(failure);
  }

  function closeFd() {
    if (fd !== null) files.close(fd);
    fd = null;
  }

  /**
   * The log's descriptor, reopened when the file at `walPath` is another one. While the mesh's
   * connection is open SQLite keeps its log, but a stat costs ~1 µs a sync and makes that no
   * assumption of ours; the sync runs on the descriptor, which stays valid if the file goes.
   */
  function logFd(): number | null {
    const identity = files.identity(walPath);
    if (identity === null) return null;
    if (fd !== null && identity === ino) return fd;
    closeFd();
    const opened = files.open(walPath);
    fd = opened.fd;
    ino = opened.identity;
    return fd;
  }
}
