// Node only (reached from src/handler/node.ts): the `libsql` package's native binding is loaded
// lazily, when the inbox is first used, so importing the Node entry does not load it.
import type Database from 'libsql';
import { isStatementFault, type LibsqlInbox, type LibsqlInboxOptions } from './libsql-inbox.ts';
import {
  createSqlInbox,
  type SqlInboxExecutor,
  type SqlInboxStatement,
  type SqlInboxValue,
} from './sql-inbox.ts';

/**
 * How long SQLite itself waits for another process's write lock. Its wait blocks the event loop,
 * so it stays short: a neighbour's commit (an fsync, about a millisecond) fits in it.
 */
const NATIVE_BUSY_TIMEOUT_MS = 10;
/**
 * How long a statement keeps retrying a locked database in all, between tries on timers with the
 * event loop free: as long as `@libsql/client` waits in the client inbox (its `timeout`).
 */
const BUSY_WAIT_MS = 10_000;
const FIRST_BACKOFF_MS = 2;
const MAX_BACKOFF_MS = 100;
/**
 * Pages the write-ahead log takes before a commit copies it into the database (SQLite's default is
 * 1,000). That copy runs inside whichever commit crosses the mark, on the event loop: it reads the
 * newest frame of every page in the log, writes each into the database and syncs both files. Each
 * token with a random `jti` (QStash's) lands on a leaf page of its own, so a commit of 20 requests writes
 * some 25 pages and the default log filled every 40 commits; a log four times as long holds most
 * leaves several times over, and each is copied once (issue 12, session 26: reads of the log 64 %
 * fewer, database writes 9 %, the inbox's CPU 8 % less a request). The log file keeps its largest
 * size, about 16 MiB, and is written over in place.
 */
const WAL_AUTOCHECKPOINT_PAGES = 4000;

/** The inbox's connection: its statements prepared once, each transaction one commit. */
interface Connection {
  /**
   * One `BEGIN IMMEDIATE … COMMIT`; the rows each statement changed. With `expected`, rolled back
   * instead at the first statement that changed other than the rows it names, and null.
   */
  run(statements: readonly SqlInboxStatement[], expected?: readonly (number | undefined)[]): number[] | null;
  query(sql: string, args: readonly SqlInboxValue[]): Record<string, unknown>[];
  close(): void;
}

/**
 * The file behind a `file:` URL, or null when the path is not plainly in the URL (in-memory, URL
 * options, or escapes that only `@libsql/client` interprets): such an inbox stays on the client.
 */
export function toInboxFilePath(url: string): string | null {
  if (!url.startsWith('file:') || /[?#%]|:memory:/.test(url)) return null;
  // `file:///abs` and `file://localhost/abs` are URLs (no escapes left to decode); `file:rel` and
  // `file:/abs` are paths.
  if (!url.startsWith('file://')) return url.slice('file:'.length);
  const { pathname } = new URL(url);
  // `file:///C:/inbox.db` names `C:/inbox.db` on Windows.
  return /^\/[A-Za-z]:\//.test(pathname) ? pathname.slice(1) : pathname;
}

/**
 * `createLibsqlInbox({ url: 'file:…' })` on Node: the inbox on a connection of its own, through the
 * `libsql` package's synchronous API, each statement prepared once and kept — `@libsql/client`
 * prepares every statement anew on each call, which cost the handler route more than everything
 * else the inbox does. WAL and `synchronous = FULL` as on the client: an entry is on disk before
 * the route answers 2xx; group commit shares each fsync between the requests that arrive together.
 *
 * The commit runs on the event loop, fsync included. A worker thread owning the connection was
 * measured and lost (issue 12): the round trip per commit and the copies cost more CPU than the
 * fsync it overlapped, on one core and on two. So was committing at `synchronous = NORMAL` and
 * then `fdatasync`ing the WAL on libuv's thread pool before answering (issue 12, branch
 * inbox-s23): as durable, but on this 2-core machine the route's ratio to bare Hono was 0.21–0.51
 * (median 0.30) against FULL's 0.24–0.38 (0.36) in the same runs, server CPU 147–225 against
 * 135–223 µs/request: with group commit serial, the requests in flight wait for the flush either
 * way, and the thread pool's hand-off costs what the fsync cost. So was committing the token and
 * claim transactions at `synchronous = NORMAL` (in WAL visible to other connections at commit,
 * synced by the next FULL commit) in a group commit of their own, `complete` at FULL in another
 * (issue 12, session 25, three alternated runs): WAL fsyncs fell from 0.053 to 0.044 a request,
 * but the ratio (0.32, 0.31, 0.31 against 0.32, 0.29, 0.31), server CPU (104–105 against
 * 101–110 µs/request) and time blocked in fsync (0.71–0.81 against 0.67–0.87 s a run) did not
 * move. It also breaks the replay rule: a power loss during a run loses its token with its `done`,
 * and the captured request replayed under another ce-id then runs the handler for an event that no
 * retry would have run. The route spends as much CPU a request with the memory inbox (102–113
 * µs): what this inbox adds is the event loop held in fsync. A commit costs what it writes: each
 * page it changed is two writes to the log (frame header, page), and each token's random `jti`
 * changes a leaf of its own, so a commit of 20 requests writes some 25 pages — about 550 µs where
 * 20 inserts at the end of one table take 140 (issue 12, session 26). Checkpointing the log from
 * a thread (as the store does, libsql-checkpointer.ts) was measured and lost on the bench's one
 * pinned core: server CPU 85–101 against 80–86 µs/request, its copy competing with the route; the
 * longer log (WAL_AUTOCHECKPOINT_PAGES) won instead. A locked database (another process
 * committing) is waited for on timers, not in SQLite, so the event loop is never held longer than a commit.
 * @example const inbox = createLibsqlFileInbox('./data/inbox.db', {});
 */
export function createLibsqlFileInbox(path: string, options: Omit<LibsqlInboxOptions, 'url'>): LibsqlInbox {
  let opening: Promise<Connection> | undefined;
  let closed = false;
  const connect = () => {
    if (closed) return Promise.reject(new Error('the inbox is closed'));
    opening ??= openConnection(path).catch((error: unknown) => {
      // Forgotten, so the next call tries again (a directory created meanwhile, a lock gone).
      opening = undefined;
      throw error;
    });
    return opening;
  };
  const executor: SqlInboxExecutor = {
    async run(statements) {
      const connection = await connect();
      return (await whileBusy(() => connection.run(statements))) ?? [];
    },
    async runExpecting(statements, expected) {
      const connection = await connect();
      return whileBusy(() => connection.run(statements, expected));
    },
    async query(sql, args) {
      const connection = await connect();
      return whileBusy(() => connection.query(sql, args));
    },
    isStatementFault,
  };
  const inbox = createSqlInbox({ executor, groupCommit: true, retainMs: options.retainMs });
  return {
    ...inbox,
    async close() {
      if (closed) return;
      closed = true;
      const connection = await opening?.catch(() => undefined);
      connection?.close();
    },
  };
}

async function openConnection(path: string): Promise<Connection> {
  const { default: Database } = await import('libsql');
  const db = new Database(path, { timeout: NATIVE_BUSY_TIMEOUT_MS });
  const statements = new Map<string, Database.Statement>();
  const prepare = (sql: string) => {
    let statement = statements.get(sql);
    if (statement === undefined) {
      statement = db.prepare(sql);
      // Never evicted: the inbox runs a few dozen SQL texts, all its own (its multi-row statements
      // come in a few sizes: sql-inbox.ts, toChunks).
      statements.set(sql, statement);
    }
    return statement;
  };
  let begin: Database.Statement;
  let commit: Database.Statement;
  try {
    // Executed, never prepared and kept: SQLite applies `PRAGMA synchronous` while compiling the
    // statement, so merely preparing one (to run it later) switches the connection at once.
    await whileBusy(() => {
      db.exec('PRAGMA journal_mode = WAL');
      db.exec('PRAGMA synchronous = FULL');
      db.exec(`PRAGMA wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
    });
    begin = prepare('BEGIN IMMEDIATE');
    commit = prepare('COMMIT');
  } catch (error) {
    db.close();
    throw error;
  }
  return {
    run(list, expected) {
      begin.run([]);
      try {
        const changes: number[] = [];
        for (let i = 0; i < list.length; i++) {
          const s = list[i]!;
          const changed = prepare(s.sql).run(s.args).changes;
          const wanted = expected?.[i];
          // Rolled back below: nothing of it is kept.
          if (wanted !== undefined && changed !== wanted) return null;
          changes.push(changed);
        }
        commit.run([]);
        return changes;
      } finally {
        if (db.inTransaction) db.exec('ROLLBACK');
      }
    },
    query(sql, args) {
      // Each of the inbox's reads looks up one row by its key (see SqlInboxExecutor.query): `get`
      // skips the row iterator that `all` builds, a sizeable part of a read this small.
      const row = prepare(sql).get(args) as Record<string, unknown> | undefined;
      return row === undefined ? [] : [row];
    },
    close() {
      if (!db.open) return;
      statements.clear();
      db.close();
    },
  };
}

/**
 * Runs `fn` again while another connection holds the lock it needs, backing off on timers. Safe
 * to repeat: a busy statement or `BEGIN IMMEDIATE` wrote nothing, and a failed transaction was
 * rolled back. Past `BUSY_WAIT_MS` the error is the caller's (the webhook app answers 503).
 */
async function whileBusy<T>(fn: () => T): Promise<T> {
  const started = performance.now();
  for (let backoff = FIRST_BACKOFF_MS; ; backoff = Math.min(backoff * 2, MAX_BACKOFF_MS)) {
    try {
      return fn();
    } catch (error) {
      const left = started + BUSY_WAIT_MS - performance.now();
      if (!isBusyError(error) || left <= 0) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.min(backoff, left)));
    }
  }
}

/** Another connection holds the lock this statement needs (the native binding's error codes). */
function isBusyError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && /^SQLITE_(BUSY|LOCKED)/.test(code);
}
