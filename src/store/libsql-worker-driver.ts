import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import Database from 'libsql';
import { toSqlArgs } from './libsql-args.ts';
import { createBusyRetry } from './libsql-busy-retry.ts';
import {
  DEFAULT_BUSY_WAIT_MS,
  isLibsqlConstraintError,
  type LibsqlFileDriver,
  type LibsqlFileDriverOptions,
  waitOnTimer,
} from './libsql-file-driver.ts';
import {
  LIBSQL_WORKER_SOURCE,
  type WorkerError,
  type WorkerReply,
  type WorkerRequest,
  type WorkerRows,
  type WorkerSetup,
} from './libsql-worker-script.ts';
import type { SqlRow } from './sql-driver.ts';

/** Prepared statements kept by the worker's connection, as the in-thread driver keeps them. */
const STATEMENT_CACHE_SIZE = 256;

type Request = WorkerRequest extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;

interface Waiter {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/**
 * libSQL on a local file like `openLibsqlFileDriver` — its own connection, cached prepared
 * statements, WAL + `synchronous=FULL`, a batch one `BEGIN IMMEDIATE … COMMIT`, the same busy
 * handling — but the connection lives in a worker thread: every commit's fsync happens there, and
 * the event loop parses, validates and answers other requests meanwhile. Statements run in the
 * order they were called, each to completion; those called in the same turn go over in one
 * message. Errors come back as the native binding's (`SqliteError` with `code` and `rawCode`), so
 * `isConstraintError` and the store's error mapping read them unchanged.
 *
 * The worker does not keep the process alive while nothing is pending.
 * @example const driver = openLibsqlWorkerDriver('./data/hookmesh.db', { busyTimeoutMs: 10 });
 */
export function openLibsqlWorkerDriver(path: string, options: LibsqlFileDriverOptions): LibsqlFileDriver {
  const setup: WorkerSetup = {
    libsql: createRequire(import.meta.url).resolve('libsql'),
    path,
    busyTimeoutMs: options.busyTimeoutMs,
    cacheSize: STATEMENT_CACHE_SIZE,
  };
  // No inherited flags: the script is plain JavaScript and needs no loader (tsx) in its thread.
  const worker = new Worker(LIBSQL_WORKER_SOURCE, { eval: true, workerData: setup, execArgv: [] });
  worker.unref();
  const waiters = new Map<number, Waiter>();
  let nextId = 0;
  let outbox: WorkerRequest[] = [];
  /** Set once the worker can take nothing more: closed, or exited on its own. */
  let gone: Error | null = null;
  let closing = false;
  const exited = new Promise<void>((ok) => worker.once('exit', () => ok()));

  worker.on('message', (replies: WorkerReply[]) => {
    for (const reply of replies) {
      settle(reply.id, (waiter) =>
        reply.ok ? waiter.resolve(reply.value) : waiter.reject(fromWorkerError(reply.error)),
      );
    }
  });
  worker.on('error', (error) => fail(error));
  worker.once('exit', (code) => fail(new Error(`the libSQL worker thread exited (code ${code})`)));

  const flush = () => {
    const requests = outbox;
    outbox = [];
    try {
      worker.postMessage(requests);
    } catch {
      // A value that cannot be copied (a function among the args) fails its own statement only.
      for (const request of requests) {
        try {
          worker.postMessage([request]);
        } catch (error) {
          settle(request.id, (waiter) => waiter.reject(error));
        }
      }
    }
  };

  function settle(id: number, how: (waiter: Waiter) => void) {
    const waiter = waiters.get(id);
    if (waiter === undefined) return;
    waiters.delete(id);
    how(waiter);
    if (waiters.size === 0) {
      worker.unref();
      if (closing) void worker.terminate();
    }
  }

  const call = (request: Request): Promise<unknown> => {
    if (gone !== null) return Promise.reject(gone);
    const id = nextId++;
    if (waiters.size === 0) worker.ref();
    if (outbox.length === 0) queueMicrotask(flush);
    outbox.push({ ...request, id } as WorkerRequest);
    return new Promise((resolve, reject) => waiters.set(id, { resolve, reject }));
  };

  function fail(error: Error) {
    gone ??= error;
    for (const waiter of waiters.values()) waiter.reject(error);
    waiters.clear();
  }

  const whileBusy = createBusyRetry({
    busyWaitMs: options.busyWaitMs ?? DEFAULT_BUSY_WAIT_MS,
    wait: options.wait ?? waitOnTimer,
  });

  function closeNow() {
    if (closing) return;
    closing = true;
    // After what is already queued: those statements run (and answer) first, as they were called.
    void call({ op: 'close' }).catch(() => undefined);
    gone = new TypeError('The database connection is not open');
  }

  return {
    maxParams: 30_000,
    query(sql, args = []) {
      return whileBusy(
        async () => toRows((await call({ op: 'query', sql, args: toSqlArgs(args) })) as WorkerRows),
        false,
      );
    },
    batch(statements) {
      return whileBusy(
        () =>
          call({
            op: 'batch',
            statements: statements.map((s) => ({ sql: s.sql, args: toSqlArgs(s.args) })),
          }),
        true,
      ) as Promise<number[]>;
    },
    isConstraintError: isLibsqlConstraintError,
    async close() {
      closeNow();
      await exited;
    },
    closeNow,
    async exec(sql) {
      await call({ op: 'exec', sql });
    },
  };
}

/** The error as the in-thread driver would have thrown it. */
function fromWorkerError(error: WorkerError): Error {
  if (error.name === 'SqliteError' && typeof error.code === 'string') {
    return new Database.SqliteError(
      error.message,
      error.code,
      typeof error.rawCode === 'number' ? error.rawCode : undefined,
    );
  }
  const ErrorType = error.name === 'TypeError' ? TypeError : error.name === 'RangeError' ? RangeError : Error;
  const copy = new ErrorType(error.message);
  if (error.code !== undefined) Object.assign(copy, { code: error.code });
  return copy;
}

/** Rows as the native binding returns them: one object per row, a later column of a name winning. */
function toRows(result: WorkerRows): SqlRow[] {
  if (result === null) return [];
  const { columns, rows } = result;
  return rows.map((values) => {
    const row: SqlRow = {};
    for (let i = 0; i < columns.length; i++) {
      const value = values[i];
      // Raw mode returns a blob as a Buffer (a Uint8Array once copied); object mode as an ArrayBuffer.
      row[columns[i]!] =
        value instanceof Uint8Array
          ? value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength)
          : value;
    }
    return row;
  });
}
