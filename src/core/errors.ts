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
  | 'conversion';

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

export class TransportError extends HookmeshError {
  constructor(message: string, options?: ErrorOptions) {
    super('transport', message, options);
    this.name = 'TransportError';
  }
}
