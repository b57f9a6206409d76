// `@libsql/client` only as a type and a lazy `import()`: `hookmesh/handler` must not load libSQL's
// native binding for users of the memory or D1 inbox (test/architecture.test.ts holds this).
import type { Client, InStatement, InValue } from '@libsql/client';
import type { Inbox, InboxRetentionOptions } from './inbox.ts';
import { createSqlInbox, type SqlInboxExecutor, type SqlInboxStatement } from './sql-inbox.ts';

export interface LibsqlInboxOptions extends InboxRetentionOptions {
  /** `file:./data/inbox.db`, `libsql://…` (Turso), `http(s)://…` (sqld). */
  readonly url: string;
  readonly authToken?: string | undefined;
}

/** For an inbox on a client of yours. */
export interface LibsqlClientInboxOptions extends InboxRetentionOptions {
  /**
   * Concurrent claims and completes share a transaction (default on). Turn it off in a Worker
   * (libSQL over HTTP there): in workerd one request's promise settled by another's I/O hangs.
   */
  readonly groupCommit?: boolean | undefined;
}

/** An inbox on a client it opened itself, and so closes. */
export interface LibsqlInbox extends Inbox {
  /** Closes the client; later calls are refused. Waits for nothing in flight: stop serving first. */
  close(): Promise<void>;
}

/** Waits for another process's write lock instead of failing at once (several instances, one file). */
const BUSY_TIMEOUT_MS = 10_000;

/**
 * The inbox in a libSQL database, with group commit on: concurrent deliveries share fsyncs
 * instead of queueing for one each (one process owns its batcher, unlike a Worker).
 *
 * Given options, it opens its own client on first use — a `file:` database in WAL mode with
 * `synchronous = FULL`, so an entry is on disk before the handler route answers 2xx — and returns
 * `close()` for it. Given a client, the client stays yours: its settings are used as they are (a
 * client from `createClient` keeps SQLite's durable default, `synchronous = FULL`), and closing it
 * is up to you, so no `close()` is offered. (On Node, `hookmesh/handler` opens a local file
 * through the `libsql` binding instead, statements prepared once: src/handler/node.ts.)
 * @example const inbox = createLibsqlInbox({ url: 'file:./data/inbox.db' });
 * @example const inbox = createLibsqlInbox(createClient({ url: process.env.DATABASE_URL }));
 */
export function createLibsqlInbox(options: LibsqlInboxOptions): LibsqlInbox;
export function createLibsqlInbox(client: Client, options?: LibsqlClientInboxOptions): Inbox;
export function createLibsqlInbox(
  source: LibsqlInboxOptions | Client,
  clientOptions: LibsqlClientInboxOptions = {},
): Inbox | LibsqlInbox {
  if (isLibsqlInboxClient(source)) {
    const client = source;
    return createSqlInbox({
      executor: toExecutor(async () => client),
      groupCommit: clientOptions.groupCommit ?? true,
      retainMs: clientOptions.retainMs,
    });
  }

  let opening: Promise<Client> | undefined;
  let closed = false;
  const getClient = () => {
    if (closed) return Promise.reject(new Error('the inbox is closed'));
    opening ??= openClient(source).catch((error: unknown) => {
      opening = undefined;
      throw error;
    });
    return opening;
  };
  const inbox = createSqlInbox({
    executor: source.url.startsWith('file:') ? toGatheringExecutor(getClient) : toExecutor(getClient),
    groupCommit: true,
    retainMs: source.retainMs,
  });
  return {
    ...inbox,
    async close() {
      if (closed) return;
      closed = true;
      const client = await opening?.catch(() => undefined);
      client?.close();
    },
  };
}

/** The client type, for the Node entry's overloads (only this file names `@libsql/client`). */
export type LibsqlInboxClient = Client;

export function isLibsqlInboxClient(source: LibsqlInboxOptions | Client): source is Client {
  return typeof (source as Partial<Client>).batch === 'function';
}

async function openClient(options: LibsqlInboxOptions): Promise<Client> {
  const { createClient } = await import('@libsql/client');
  const client = createClient({
    url: options.url,
    ...(options.authToken ? { authToken: options.authToken } : {}),
    timeout: BUSY_TIMEOUT_MS,
  });
  if (options.url.startsWith('file:')) {
    try {
      // The inbox's calls on a file take turns (`toGatheringExecutor`), so every statement uses the
      // client's one idle connection and these per-connection settings hold for all of them.
      await client.execute('PRAGMA journal_mode = WAL');
      await client.execute('PRAGMA synchronous = FULL');
    } catch (error) {
      client.close();
      throw error;
    }
  }
  return client;
}

/** The inbox's statements as the client takes them, in a batch or a transaction's batch. */
function toClientStatements(statements: readonly SqlInboxStatement[]): InStatement[] {
  return statements.map((s) => ({ sql: s.sql, args: s.args as InValue[] }));
}

function toExecutor(getClient: () => Promise<Client>): SqlInboxExecutor {
  return {
    async run(statements) {
      const client = await getClient();
      const results = await client.batch(toClientStatements(statements), 'write');
      return results.map((r) => r.rowsAffected);
    },
    async query(sql, args) {
      const client = await getClient();
      const result = await client.execute({ sql, args: args as InValue[] });
      return result.rows;
    },
    isStatementFault,
  };
}

/**
 * `toExecutor` with `runExpecting`, for a client the inbox opened itself on a local file: group
 * commit then runs a group's like statements as a few multi-row ones (sql-inbox.ts, issue 12: the
 * client prepares every statement anew, so fewer statements cut the route's CPU most here). It
 * needs an interactive transaction, which holds a connection across awaits; so every call of the
 * executor waits for the one before it to end. Otherwise the client would lend another of its
 * connections to a write meanwhile, whose wait for the lock would hold the event loop — and with
 * it the commit it waits for — until the busy timeout; and the inbox's settings (`openClient`)
 * hold on the connection they were made on, which one call at a time keeps reusing. Over the
 * network, and on a client of yours (which your code may use meanwhile), the inbox keeps to `batch`.
 */
export function toGatheringExecutor(getClient: () => Promise<Client>): SqlInboxExecutor {
  const executor = toExecutor(getClient);
  let last: Promise<unknown> = Promise.resolve();
  const inTurn = <T>(call: () => Promise<T>): Promise<T> => {
    const result = last.then(call);
    last = result.catch(() => undefined);
    return result;
  };
  return {
    run: (statements) => inTurn(() => executor.run(statements)),
    query: (sql, args) => inTurn(() => executor.query(sql, args)),
    runExpecting: (statements, expected) =>
      inTurn(async () => {
        const tx = await (await getClient()).transaction('write');
        try {
          const results = await tx.batch(toClientStatements(statements));
          const changed = results.map((r) => r.rowsAffected);
          if (changed.some((n, i) => expected[i] !== undefined && n !== expected[i])) {
            await tx.rollback();
            return null;
          }
          await tx.commit();
          return changed;
        } finally {
          tx.close();
        }
      }),
    isStatementFault,
  };
}

/**
 * A statement's own fault: a constraint, or a value SQLite or the client refuses. Such a failure
 * rolls back the shared transaction, so the group is retried statement by statement and only the
 * faulty caller fails. Trouble of the database itself (busy, I/O, full, a lost connection) fails
 * the whole group at once: retried alone, each statement would only wait for the same error again.
 * (The Node file inbox, libsql-file-inbox.ts, reads its native binding's errors the same way.)
 */
export function isStatementFault(error: unknown): boolean {
  if (error instanceof TypeError || error instanceof RangeError) return true;
  const codes = [(error as { code?: unknown })?.code, (error as { cause?: { code?: unknown } })?.cause?.code];
  return codes.some(
    (code) => typeof code === 'string' && /^SQLITE_(CONSTRAINT|TOOBIG|MISMATCH|RANGE)/.test(code),
  );
}
