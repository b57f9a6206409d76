import type { Client, InValue } from '@libsql/client';
import type { SqlDriver } from './sql-driver.ts';

/**
 * libSQL (`file:`, `libsql:`, `https:`). Statements run through `client.batch` (one transaction,
 * no interactive transactions), so every statement uses the client's single idle connection and
 * the PRAGMAs set at open hold for all of them.
 */
export function createLibsqlDriver(client: Client): SqlDriver {
  return {
    maxParams: 30_000,
    async query(sql, args = []) {
      const result = await client.execute({ sql, args: args as InValue[] });
      return result.rows as unknown as Record<string, unknown>[];
    },
    async batch(statements) {
      const results = await client.batch(
        statements.map((s) => ({ sql: s.sql, args: s.args as InValue[] })),
        'write',
      );
      return results.map((r) => r.rowsAffected);
    },
    async queryAfter(statements, sql, args = []) {
      // The read as the batch's last statement: in its transaction, and one round trip to a
      // libSQL server (sqld, Turso) where a read after the batch is a second.
      const results = await client.batch(
        [
          ...statements.map((s) => ({ sql: s.sql, args: s.args as InValue[] })),
          { sql, args: args as InValue[] },
        ],
        'write',
      );
      return results[results.length - 1]!.rows as unknown as Record<string, unknown>[];
    },
    isConstraintError(error) {
      const codes = [
        (error as { code?: unknown })?.code,
        (error as { cause?: { code?: unknown } })?.cause?.code,
      ];
      return codes.some((code) => typeof code === 'string' && code.startsWith('SQLITE_CONSTRAINT'));
    },
    async close() {
      client.close();
    },
  };
}
