import type { SqlInboxStatement, SqlInboxValue } from './sql-inbox.ts';

/** The inbox's one-row statements (sql-inbox.ts) this module recognises, by their text. */
export interface GatherableStatements {
  /** RECORD_TOKEN: (jti, handler, event_id, expires_at, now). */
  readonly recordToken: string;
  /** CLAIM_IF_TOKEN_NEW: CLAIM's arguments, gated on the record just before it. */
  readonly claimIfTokenNew: string;
  /** CLAIM: (handler, event_id, lease_expires_at, now). */
  readonly claim: string;
  /** COMPLETE: (handler, event_id, now). */
  readonly complete: string;
  readonly release: string;
  readonly extend: string;
}

/** One caller's statement in a group: what it runs and, once committed, the rows it changed. */
export interface BatchableWrite {
  readonly statement: SqlInboxStatement;
  changed: number;
}

/**
 * A group's writes as a few multi-row statements — one per kind and chunk rather than one per
 * caller — or null when they must run one by one. Each statement costs a call into SQLite and a
 * step of its program whatever it writes, a large part of a one-row upsert (issue 12).
 *
 * The answers stay those of the statements run one by one, in order, because:
 * - Each statement touches one row, named by its key: a token's (expires_at, jti) in `inbox_jtis`,
 *   an event's (handler, event_id) in `inbox`. Gathered only when no key appears twice in a table
 *   (`isPlainKey` makes keys that differ here differ in SQLite too), so no two of them touch one
 *   row, and in any order each finds the row as it would have found it. The one exception is the
 *   purge of expired tokens, which goes first either way.
 * - Each caller's answer is 1 or 0, and a multi-row statement answers only its sum. So a group is
 *   kept only when every gathered row changed (`expected`): then each answer is 1. Otherwise the
 *   executor rolls it back and the group runs one by one (rare: a replay, a refused claim).
 * - CLAIM_IF_TOKEN_NEW claims only if its caller's token was new: kept, every token was new, so
 *   every such claim is a plain CLAIM. Tokens are recorded before claims, in another table.
 * - RECORD_TOKEN takes over a record expired by its caller's clock; gathered, by the earliest clock
 *   among them: a record it then takes over, each caller's own clock would have too, and one it
 *   leaves changes fewer rows than expected, so the group runs one by one.
 */
export function toBatchedWrite(
  writes: readonly BatchableWrite[],
  sql: GatherableStatements,
): BatchedWrite | null {
  const records: BatchableWrite[] = [];
  const claims: BatchableWrite[] = [];
  const completes: BatchableWrite[] = [];
  const others: BatchableWrite[] = [];
  const tokenKeys = new Map<SqlInboxValue | undefined, Set<string>>();
  const eventKeys = new Map<string, Set<string>>();
  let earliest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < writes.length; i++) {
    const w = writes[i]!;
    const { args } = w.statement;
    const text = w.statement.sql;
    if (text === sql.recordToken) {
      const [jti, , , expiresAt, nowMs] = args;
      if (!isPlainKey(jti) || !Number.isSafeInteger(expiresAt) || typeof nowMs !== 'number') return null;
      if (isSeen(tokenKeys, expiresAt, jti)) return null;
      earliest = Math.min(earliest, nowMs);
      records.push(w);
      continue;
    }
    const [handler, eventId] = args;
    if (!isPlainKey(handler) || !isPlainKey(eventId)) return null;
    if (isSeen(eventKeys, handler, eventId)) return null;
    if (text === sql.claimIfTokenNew) {
      // Its gate is the statement just before it, its caller's own record.
      if (writes[i - 1]?.statement.sql !== sql.recordToken) return null;
      claims.push(w);
    } else if (text === sql.claim) claims.push(w);
    else if (text === sql.complete) completes.push(w);
    else if (text === sql.release || text === sql.extend) others.push(w);
    else return null;
  }
  if (records.length < 2 && claims.length < 2 && completes.length < 2) return null;

  const statements: SqlInboxStatement[] = [];
  const expected: (number | undefined)[] = [];
  const add = (statement: SqlInboxStatement, rows: number | undefined) => {
    statements.push(statement);
    expected.push(rows);
  };
  for (const chunk of toChunks(records)) {
    if (chunk.length === 1) add(chunk[0]!.statement, 1);
    else {
      const args: SqlInboxValue[] = [earliest];
      for (const { statement: s } of chunk) args.push(s.args[3]!, s.args[0]!, s.args[1]!, s.args[2]!);
      add({ sql: recordTokens(chunk.length), args }, chunk.length);
    }
  }
  for (const chunk of toChunks(claims)) {
    // A lone claim as CLAIM, not CLAIM_IF_TOKEN_NEW: the statement before it is no longer its record.
    if (chunk.length === 1) add({ sql: sql.claim, args: chunk[0]!.statement.args }, 1);
    else add({ sql: claimEvents(chunk.length), args: toRowArgs(chunk) }, chunk.length);
  }
  for (const chunk of toChunks(completes)) {
    if (chunk.length === 1) add(chunk[0]!.statement, 1);
    else add({ sql: completeEvents(chunk.length), args: toRowArgs(chunk) }, chunk.length);
  }
  for (const w of others) add(w.statement, undefined);
  return {
    statements,
    expected,
    answer(changed) {
      for (const w of records) w.changed = 1;
      for (const w of claims) w.changed = 1;
      for (const w of completes) w.changed = 1;
      const offset = statements.length - others.length;
      others.forEach((w, i) => {
        w.changed = changed[offset + i] ?? 0;
      });
    },
  };
}

/** Whether the key (a, b) was seen already; remembers it. Two levels, so no key is built. */
function isSeen<TFirst>(seen: Map<TFirst, Set<string>>, a: TFirst, b: string): boolean {
  let second = seen.get(a);
  if (second === undefined) {
    second = new Set();
    seen.set(a, second);
  } else if (second.has(b)) return true;
  second.add(b);
  return false;
}

/** The arguments of a multi-row statement whose rows are each write's own arguments. */
function toRowArgs(chunk: readonly BatchableWrite[]): SqlInboxValue[] {
  const args: SqlInboxValue[] = [];
  for (const w of chunk) for (const arg of w.statement.args) args.push(arg);
  return args;
}

interface BatchedWrite {
  readonly statements: readonly SqlInboxStatement[];
  /** Rows each statement must change for the group to be kept; undefined: any. */
  readonly expected: readonly (number | undefined)[];
  /** Sets each write's answer from the rows changed per statement of a kept group. */
  answer(changed: readonly number[]): void;
}

/**
 * A text SQLite stores as the very same text, so that two keys differ in the database exactly when
 * they differ here: no NUL (a binding might cut the text there) and no lone surrogate (the binding
 * replaces each with U+FFFD). Anything else, however unlikely as a key, leaves its group one by one.
 */
function isPlainKey(value: SqlInboxValue | undefined): value is string {
  return typeof value === 'string' && value.isWellFormed() && !value.includes('\0');
}

/**
 * Rows in chunks whose sizes are powers of two, largest first: every multi-row text the inbox
 * prepares is one of a few (2 to MAX_ROWS rows), however many callers a group holds.
 */
function toChunks<TItem>(items: readonly TItem[]): TItem[][] {
  const chunks: TItem[][] = [];
  let at = 0;
  while (at < items.length) {
    let size = MAX_ROWS;
    while (size > items.length - at) size /= 2;
    chunks.push(items.slice(at, at + size));
    at += size;
  }
  return chunks;
}

/** Most rows in one multi-row statement (4 parameters a row: far below SQLite's 32,766). */
const MAX_ROWS = 128;

/** `(?a, ?b, …)` for each of `rows` rows of `width` parameters, numbered from `first`. */
function toValueRows(rows: number, width: number, first: number, row: (p: string[]) => string): string {
  const out: string[] = [];
  for (let r = 0; r < rows; r++) {
    const p = Array.from({ length: width }, (_, c) => `?${first + r * width + c}`);
    out.push(`(${row(p)})`);
  }
  return out.join(', ');
}

const multiRow = new Map<string, string>();
/** The multi-row text of `kind` for `rows` rows, built once. */
function cachedText(kind: string, rows: number, build: () => string): string {
  const key = `${kind}${rows}`;
  let sql = multiRow.get(key);
  if (sql === undefined) {
    sql = build();
    multiRow.set(key, sql);
  }
  return sql;
}

// The multi-row statements: each says for every row what its one-row statement in sql-inbox.ts
// says (a change to one is a change to both; test/handler/sql-inbox-batch.test.ts compares them).

/** RECORD_TOKEN for many tokens: ?1 the earliest clock, then (expires_at, jti, handler, event_id). */
const recordTokens = (rows: number) =>
  cachedText(
    'record',
    rows,
    () =>
      `INSERT INTO inbox_jtis (expires_at, jti, handler, event_id) VALUES ${toValueRows(rows, 4, 2, (p) => p.join(', '))}
  ON CONFLICT (expires_at, jti) DO UPDATE SET handler = excluded.handler, event_id = excluded.event_id
  WHERE inbox_jtis.expires_at <= ?1`,
  );

/** CLAIM for many events, each row CLAIM's own arguments. */
const claimEvents = (rows: number) =>
  cachedText(
    'claim',
    rows,
    () =>
      `INSERT INTO inbox (handler, event_id, status, lease_expires_at, started_at, finished_at)
  VALUES ${toValueRows(rows, 4, 1, ([h, e, lease, now]) => `${h}, ${e}, 'running', ${lease}, ${now}, NULL`)}
  ON CONFLICT (handler, event_id) DO UPDATE SET lease_expires_at = excluded.lease_expires_at,
    started_at = excluded.started_at
  WHERE inbox.status = 'running' AND inbox.lease_expires_at <= excluded.started_at`,
  );

/** COMPLETE for many events, each row COMPLETE's own arguments. */
const completeEvents = (rows: number) =>
  cachedText(
    'complete',
    rows,
    () =>
      `INSERT INTO inbox (handler, event_id, status, lease_expires_at, started_at, finished_at)
  VALUES ${toValueRows(rows, 3, 1, ([h, e, now]) => `${h}, ${e}, 'done', NULL, ${now}, ${now}`)}
  ON CONFLICT (handler, event_id) DO UPDATE SET status = 'done', lease_expires_at = NULL,
    finished_at = excluded.finished_at`,
  );
