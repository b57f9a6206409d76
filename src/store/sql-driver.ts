import type { StoreUnavailableError } from '../core/errors.ts';

/** A value SQLite stores; integers beyond 2^53 never occur in hookmesh's schema. */
export type SqlValue = string | number | null;

export interface SqlStatement {
  readonly sql: string;
  readonly args: readonly SqlValue[];
}

export type SqlRow = Record<string, unknown>;

/**
 * The few raw operations every SQL store runs on, implemented once per database driver (libSQL,
 * D1). The stores write plain parameterised SQL over it; nothing at run time needs Drizzle.
 */
export interface SqlDriver {
  query(sql: string, args?: readonly SqlValue[]): Promise<SqlRow[]>;
  /** Runs the statements in one transaction; all or nothing. Returns rows changed per statement. */
  batch(statements: readonly SqlStatement[]): Promise<number[]>;
  /**
   * Runs the statements, then the query `sql`, in one transaction and one round trip, answering
   * the query's rows — where the database can (D1: one `batch()`); stores do without it.
   */
  queryAfter?(
    statements: readonly SqlStatement[],
    sql: string,
    args?: readonly SqlValue[],
  ): Promise<SqlRow[]>;
  /** Bound parameters one statement may carry (D1: 100). Multi-row writes are chunked to fit. */
  readonly maxParams: number;
  /** Whether an error means a UNIQUE / PRIMARY KEY constraint refused a row. */
  isConstraintError(error: unknown): boolean;
  /**
   * Hands freed pages back to the file system and truncates the write-ahead log, where the driver
   * owns a file (libSQL `file:`); D1 and remote libSQL manage their storage themselves.
   */
  reclaimSpace?(): Promise<{ readonly pagesFreed: number }>;
  /**
   * The latest "cannot write now" failure no successful write has cleared (recent ones only), for
   * `/healthz`: a read-only check cannot see a full disk. Set by `withStoreUnavailable`.
   */
  writeFailure?(): StoreUnavailableError | null;
  close(): Promise<void>;
}
