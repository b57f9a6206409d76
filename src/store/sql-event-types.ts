import type { SqlStatement } from './sql-driver.ts';

// Domain and integration events hold their type's number in `event_types` (0009), not its name:
// the example's names cost ~14 B on every domain event, ~14 B more in its type index and ~16 B on
// every integration event (pages included: bytes-per-event.test.ts). The stores keep speaking names — converted in the SQL both ways, as ids are
// (sql-ids.ts) — so answers, filters and the `ce-type` header are the same strings as before.
// Lookups are scalar subqueries by `event_types`' primary key or unique name index: they leave
// the plans of the queries around them as they were.

/**
 * SQL: the name of the type numbered `column`.
 * @example `SELECT ${typeNameOf('de.type_ref')} AS type FROM domain_events de`
 */
export function typeNameOf(column: string): string {
  return `(SELECT name FROM event_types WHERE ref = ${column})`;
}

/**
 * SQL: the number of the type named `name` (an SQL expression: `?`, `column2`); NULL when no
 * event has had that type.
 * @example `SELECT … FROM domain_events WHERE type_ref = ${typeRefOf('?')}`
 */
export function typeRefOf(name: string): string {
  return `(SELECT ref FROM event_types WHERE name = ${name})`;
}

/**
 * SQL: the numbers of the types a `prefix.*` pattern matches (two bound values: the length of the
 * prefix with its dot, and that prefix). Compared with substr, since `_` in a type is a LIKE
 * wildcard. A subquery SQLite runs once per statement, over a table of a few rows.
 */
export const TYPE_PREFIX_REFS = 'SELECT ref FROM event_types WHERE substr(name, 1, ?) = ?';

/**
 * Numbers the names a batch is about to use that no event has used yet, before the INSERTs that
 * refer to them (`typeRefOf`), in the same transaction. One single-row statement per name (a
 * group holds few): SQLite knows a single row added to a parent table cannot settle a foreign key
 * violation, so it skips the check that would otherwise read `integration_events` (no index on
 * `type_ref`: that would cost what this saves) for children of the new row.
 */
export function toTypeInserts(names: Iterable<string>): SqlStatement[] {
  return [...names].map((name) => ({
    sql: 'INSERT OR IGNORE INTO event_types (name) VALUES (?)',
    args: [name],
  }));
}
