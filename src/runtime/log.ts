/** One line per record, JSON, to stdout/stderr. Callers never pass secrets in `fields`. */
export type Logger = (
  level: 'info' | 'warn' | 'error',
  message: string,
  fields?: Record<string, unknown>,
) => void;

export const consoleLogger: Logger = (level, message, fields = {}) => {
  const line = JSON.stringify({ time: new Date().toISOString(), level, message, ...fields });
  if (level === 'error') console.error(line);
  else console.log(line);
};

/** An error's message and kind, without the request or config it may carry. */
export function describeError(error: unknown): Record<string, unknown> {
  if (error instanceof Error) {
    return {
      error: error.message,
      errorName: error.name,
      ...(error.cause ? { cause: String(error.cause) } : {}),
    };
  }
  return { error: String(error) };
}
