import type { Issue } from './issues.ts';

/**
 * The one error tree of hookmesh. Expected failures (parsing, verifying) are returned as results;
 * these are thrown for what a caller cannot go on from. The API maps them to problem+json in one
 * place (`src/api/problem.ts`).
 */
export type ErrorCode =
  | 'validation'
  | 'not_found'
  | 'conflict'
  | 'signature'
  | 'transport'
  | 'store'
  | 'definition'
  | 'conversion'
  | 'config'
  | 'mesh_api'
  | 'mesh_unavailable';

export class HookmeshError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'HookmeshError';
    this.code = code;
  }
}

/** A definition (event, converter, subscription) is malformed: a programming error, found at start. */
export class DefinitionError extends HookmeshError {
  constructor(message: string) {
    super('definition', message);
    this.name = 'DefinitionError';
  }
}

/** A converter threw or returned a payload its integration schema refuses. Nothing is written. */
export class ConversionError extends HookmeshError {
  readonly converter: string;
  constructor(converter: string, message: string, options?: ErrorOptions) {
    super('conversion', message, options);
    this.name = 'ConversionError';
    this.converter = converter;
  }
}

/**
 * The configuration cannot run (a missing or weak secret, a malformed variable): the mesh refuses
 * to start. The message names the variable, never its value.
 */
export class ConfigError extends HookmeshError {
  constructor(message: string) {
    super('config', message);
    this.name = 'ConfigError';
  }
}

export class NotFoundError extends HookmeshError {
  constructor(message: string) {
    super('not_found', message);
    this.name = 'NotFoundError';
  }
}

export class ConflictError extends HookmeshError {
  constructor(message: string) {
    super('conflict', message);
    this.name = 'ConflictError';
  }
}

export class StoreError extends HookmeshError {
  constructor(message: string, options?: ErrorOptions) {
    super('store', message, options);
    this.name = 'StoreError';
  }
}

/**
 * Why the database cannot take a write for now; each passes on its own (the other writer lets go,
 * space is freed, the service recovers).
 */
export type StoreUnavailableReason =
  | 'busy'
  | 'full'
  | 'io'
  | 'read_only'
  | 'overloaded'
  | 'unreachable'
  | 'not_migrated';

const UNAVAILABLE_WORDS: Record<StoreUnavailableReason, string> = {
  busy: 'database locked by another writer',
  full: 'database full',
  io: 'database I/O error',
  read_only: 'database read-only',
  overloaded: 'database overloaded',
  unreachable: 'database unreachable',
  not_migrated:
    'database not migrated (apply the migrations: hookmesh migrate, or wrangler d1 migrations apply)',
};

/**
 * The database cannot write now — locked past the wait, disk or quota full, an I/O error,
 * read-only, overloaded or unreachable — and nothing was written. An answer, not an outage: the
 * API gives 503 with `Retry-After`, `/healthz` names the reason, background loops try again later.
 * @example throw new StoreUnavailableError('full', { cause: error });
 */
export class StoreUnavailableError extends StoreError {
  readonly reason: StoreUnavailableReason;
  constructor(reason: StoreUnavailableReason, options?: ErrorOptions) {
    super(UNAVAILABLE_WORDS[reason], options);
    this.name = 'StoreUnavailableError';
    this.reason = reason;
  }
}

export class TransportError extends HookmeshError {
  constructor(message: string, options?: ErrorOptions) {
    super('transport', message, options);
    this.name = 'TransportError';
  }
}

/** An RFC 9457 problem document as the mesh's API answers it; `type` is stable to branch on. */
export interface ProblemDetails {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail?: string;
  readonly issues?: readonly Issue[];
  readonly [extension: string]: unknown;
}

/**
 * The mesh's API refused a request (`hookmesh/client`): a final 4xx, or a 429/5xx that outlasted
 * the retries. Carries the problem document; an answer that was not one gets an `about:blank` stand-in.
 */
export class MeshApiError extends HookmeshError {
  readonly status: number;
  readonly problem: ProblemDetails;
  constructor(problem: ProblemDetails, options?: ErrorOptions) {
    super(
      'mesh_api',
      `${problem.status} ${problem.title}${problem.detail ? `: ${problem.detail}` : ''}`,
      options,
    );
    this.name = 'MeshApiError';
    this.status = problem.status;
    this.problem = problem;
  }
}

/**
 * No usable answer came from the mesh (`hookmesh/client`): every attempt failed on the network,
 * timed out or got an unreadable body. `cause` is the last attempt's failure.
 */
export class MeshUnavailableError extends HookmeshError {
  readonly attempts: number;
  constructor(message: string, attempts: number, options?: ErrorOptions) {
    super('mesh_unavailable', message, options);
    this.name = 'MeshUnavailableError';
    this.attempts = attempts;
  }
}
