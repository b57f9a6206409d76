/** A statement for the worker thread, as `openLibsqlWorkerDriver` posts it (several per message). */
export type WorkerRequest =
  | { readonly id: number; readonly op: 'query'; readonly sql: string; readonly args: readonly unknown[] }
  | {
      readonly id: number;
      readonly op: 'batch';
      readonly statements: readonly { readonly sql: string; readonly args: readonly unknown[] }[];
    }
  | { readonly id: number; readonly op: 'exec' | 'close'; readonly sql?: string };

/** What a failed statement's error keeps across the thread: what the error mapping reads. */
export interface WorkerError {
  readonly name: string;
  readonly message: string;
  readonly code?: unknown;
  readonly rawCode?: unknown;
}

/**
 * A query's rows as arrays under their column names (cheaper to copy across than an object per
 * row), or null for a statement that returns none.
 */
export type WorkerRows = { readonly columns: readonly string[]; readonly rows: readonly unknown[][] } | null;

/** The answer to one request: a value (`WorkerRows`, the changes per statement of a batch) or an error. */
export type WorkerReply =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: WorkerError };

/** What the worker is started with (`workerData`). */
export interface WorkerSetup {
  /** The `libsql` package's entry, resolved by the main thread (an eval worker resolves from the cwd). */
  readonly libsql: string;
  readonly path: string;
  readonly busyTimeoutMs: number;
  readonly cacheSize: number;
}

/**
 * The worker thread's program: plain JavaScript, given to `new Worker(source, { eval: true })`, so
 * it runs the same from the TypeScript sources (tsx, vitest) and from the published `dist/` — no
 * second file to locate, no transpiling. It owns the connection and runs what it is sent strictly
 * in order, each request to completion: a batch is one `BEGIN IMMEDIATE … COMMIT` nothing slips
 * into, as in the in-thread driver. Busy retries stay with the main thread (one try here, SQLite's
 * short native wait included), so reads queued behind a locked write still run between tries.
 */
export const LIBSQL_WORKER_SOURCE = String.raw`'use strict';
// Loaded through process.getBuiltinModule, not require: eval'd code is CommonJS or an ES module
// depending on the flags it runs with (--input-type=module makes it a module without require).
const { parentPort, workerData } = process.getBuiltinModule('node:worker_threads');
const Database = process.getBuiltinModule('node:module').createRequire(workerData.libsql)(workerData.libsql);

let db = null;
let openError = null;
const cache = new Map();
let begin = null;
let commit = null;
try {
  db = new Database(workerData.path, { timeout: workerData.busyTimeoutMs });
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = FULL');
  begin = prepare('BEGIN IMMEDIATE');
  commit = prepare('COMMIT');
} catch (error) {
  openError = error;
}

function prepare(sql) {
  let statement = cache.get(sql);
  if (statement !== undefined) return statement;
  statement = db.prepare(sql);
  if (cache.size >= workerData.cacheSize) cache.delete(cache.keys().next().value);
  cache.set(sql, statement);
  return statement;
}

/** Column names per reading statement: rows cross as arrays, cheaper to copy than objects. */
const columnsOf = new WeakMap();

function query(sql, args) {
  const statement = prepare(sql);
  if (!statement.reader) {
    statement.run(args);
    return null;
  }
  let columns = columnsOf.get(statement);
  if (columns === undefined) {
    statement.raw(true);
    columns = statement.columns().map((column) => column.name);
    columnsOf.set(statement, columns);
  }
  return { columns, rows: statement.all(args) };
}

function run(statement) {
  const prepared = prepare(statement.sql);
  // Like @libsql/client: a statement that returns rows reports no changed rows.
  if (prepared.reader) {
    prepared.all(statement.args);
    return 0;
  }
  return prepared.run(statement.args).changes;
}

function batch(statements) {
  begin.run([]);
  try {
    const changes = statements.map(run);
    commit.run([]);
    return changes;
  } finally {
    if (db.inTransaction) db.exec('ROLLBACK');
  }
}

function close() {
  if (db === null || !db.open) return;
  cache.clear();
  db.close();
}

function answer(request) {
  if (request.op === 'close') return close();
  if (openError !== null) throw openError;
  if (!db.open) throw new TypeError('The database connection is not open');
  switch (request.op) {
    case 'query':
      return query(request.sql, request.args);
    case 'batch':
      return batch(request.statements);
    case 'exec':
      db.exec(request.sql);
      return null;
  }
  throw new TypeError('unknown request ' + request.op);
}

function toPlainError(error) {
  if (error === null || typeof error !== 'object') return { name: 'Error', message: String(error) };
  return { name: error.name, message: error.message, code: error.code, rawCode: error.rawCode };
}

parentPort.on('message', (requests) => {
  const replies = [];
  for (const request of requests) {
    try {
      replies.push({ id: request.id, ok: true, value: answer(request) });
    } catch (error) {
      replies.push({ id: request.id, ok: false, error: toPlainError(error) });
    }
  }
  parentPort.postMessage(replies);
});
`;
