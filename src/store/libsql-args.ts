import type { SqlValue } from './sql-driver.ts';

/**
 * Values as the libSQL native binding takes them; callers outside the typed paths may pass
 * booleans or dates. Plain values only, so they also cross to a worker thread as they are.
 * @example statement.run(toSqlArgs(args));
 */
export function toSqlArgs(args: readonly SqlValue[]): SqlValue[] {
  for (const value of args) {
    if (typeof value !== 'string' && typeof value !== 'number' && value !== null) {
      return args.map(toSqlValue);
    }
  }
  return args as SqlValue[];
}

function toSqlValue(value: unknown): SqlValue {
  switch (typeof value) {
    case 'string':
    case 'number':
      return value;
    case 'boolean':
      return value ? 1 : 0;
    case 'bigint':
      return value as unknown as number;
    case 'undefined':
      throw new TypeError('undefined cannot be passed as argument to the database');
    default:
      if (value === null) return null;
      if (value instanceof Date) return value.valueOf();
      return value as SqlValue;
  }
}
