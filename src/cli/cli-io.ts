/** What a command reads and writes: the environment, two line sinks and where relative paths start. */
export interface CliIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  /** Where relative paths (`--mesh`, `--baseline`) start; the process's own by default. */
  readonly cwd?: string;
}

/** A wrong command line: one line on stderr, exit 2 (as most CLIs do). */
export function usage(io: CliIo, message: string): number {
  io.err(`hookmesh: ${message}; see hookmesh --help`);
  return 2;
}

/** An error as one line, its cause included, never a stack. */
export function oneLine(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error; e && parts.length < 3; e = (e as { cause?: unknown }).cause) {
    parts.push(e instanceof Error ? e.message : String(e));
  }
  return parts.join(': ').replace(/\s+/g, ' ');
}
