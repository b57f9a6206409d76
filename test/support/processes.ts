import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Proc {
  readonly child: ChildProcess;
  readonly output: () => string;
  /** SIGKILL: no shutdown code runs, exactly like a crash. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts `node --import tsx <script>` from the repository root, in its own process group. */
export function startProcess(script: string, env: Record<string, string>): Proc {
  return startCommand(process.execPath, ['--import', 'tsx', script], env);
}

/**
 * Starts any command in its own process group, collecting its output; from the repository root
 * unless `options.cwd` says otherwise (a user's project outside the repository).
 */
export function startCommand(
  command: string,
  args: readonly string[],
  env: Record<string, string>,
  options: { readonly cwd?: string } = {},
): Proc {
  const child = spawn(command, args, {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    out += d;
  });
  return {
    child,
    output: () => out,
    kill(signal = 'SIGKILL') {
      return new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        try {
          process.kill(-child.pid!, signal);
        } catch {
          resolve();
        }
      });
    },
  };
}

/** Waits until the process prints a line matching `pattern`, or fails with its output. */
export function waitForOutput(proc: Proc, pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const match = proc.output().match(pattern);
      if (match) {
        cleanup();
        resolve(match);
      }
    };
    const onExit = () => {
      cleanup();
      reject(new Error(`process exited before printing ${pattern}:\n${proc.output()}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out waiting for ${pattern}:\n${proc.output()}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      proc.child.stdout!.off('data', check);
      proc.child.stderr!.off('data', check);
      proc.child.off('exit', onExit);
    };
    proc.child.stdout!.on('data', check);
    proc.child.stderr!.on('data', check);
    proc.child.once('exit', onExit);
    check();
  });
}

/** Polls `probe` until it returns a value, or fails after `timeoutMs` with the last value seen. */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
