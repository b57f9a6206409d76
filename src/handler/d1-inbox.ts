import type { Inbox, InboxRetentionOptions } from './inbox.ts';
import { createSqlInbox, type SqlInboxValue } from './sql-inbox.ts';

/**
 * The part of Cloudflare's `D1Database` binding the inbox uses, declared here so the handler SDK
 * needs neither `@cloudflare/workers-types` nor the mesh's store. A Worker's `env.DB` and
 * miniflare's `getD1Database()` both fit.
 */
export interface D1InboxDatabase {
  prepare(query: string): D1InboxStatement;
  /** Runs the statements as one transaction: all or nothing. */
  batch(statements: D1InboxStatement[]): Promise<D1InboxResult[]>;
}

export interface D1InboxStatement {
  bind(...values: unknown[]): D1InboxStatement;
  all(): Promise<D1InboxResult>;
}

export interface D1InboxResult {
  readonly results?: unknown[];
  readonly meta: { readonly changes?: number };
}

/**
 * The inbox in a D1 database, created on first use if missing (it may be the mesh's own database:
 * the table is the one `migrations/` creates). Ungrouped: in workerd a batcher — or a pending
 * CREATE TABLE — shared across requests would settle one request's promise from another's I/O
 * context, where it hangs once that request has answered or was cancelled.
 * @example const webhooks = createWebhookApp({ handlers, signingKeys, publicUrl, inbox: createD1Inbox(env.DB) });
 */
export function createD1Inbox(d1: D1InboxDatabase, options: InboxRetentionOptions = {}): Inbox {
  const prepare = (sql: string, args: readonly SqlInboxValue[]) => {
    const statement = d1.prepare(sql);
    return args.length === 0 ? statement : statement.bind(...args);
  };
  return createSqlInbox({
    executor: {
      async run(statements) {
        // D1 rejects an empty batch ("No SQL statements detected").
        if (statements.length === 0) return [];
        const results = await d1.batch(statements.map((s) => prepare(s.sql, s.args)));
        return results.map((r) => Number(r.meta.changes ?? 0));
      },
      async query(sql, args) {
        const { results } = await prepare(sql, args).all();
        return (results ?? []) as Record<string, unknown>[];
      },
    },
    groupCommit: false,
    retainMs: options.retainMs,
  });
}
