import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

export interface ServerProcess {
  name: string;
  url: string;
  child: ChildProcess;
  logFile: string;
  /** Set when the process could not be spawned at all. */
  spawnError: Error | null;
}

export interface StartOptions {
  name: string;
  /** Node arguments, e.g. `['--import', 'tsx', 'bench/baseline-server.ts']`. */
  args: string[];
  env: Record<string, string>;
  port: number;
  cwd: string;
  /** CPU list for `taskset -c`, or null to run unpinned. */
  cpus: string | null;
  /** stdout and stderr go here, not through the harness, so logging costs the harness nothing. */
  logFile: string;
}

/** Starts a server in its own process group; register it for cleanup, then `waitUntilReady`. */
export function startServer(options: StartOptions): ServerProcess {
  const node = [process.execPath, ...options.args];
  const [command, args] =
    options.cpus === null ? [node[0]!, node.slice(1)] : ['taskset', ['-c', options.cpus, ...node]];
  const log = openSync(options.logFile, 'w');
  const child = spawn(command, args, {
    cwd: options.cwd,
    detached: true,
    stdio: ['ignore', log, log],
    env: { ...process.env, ...options.env, PORT: String(options.port), HOST: '127.0.0.1' },
  });
  closeSync(log);
  const server: ServerProcess = {
    name: options.name,
    url: `http://127.0.0.1:${options.port}`,
    child,
    logFile: options.logFile,
    spawnError: null,
  };
  child.once('error', (error) => {
    server.spawnError = error;
  });
  return server;
}

/** Polls `GET /healthz` until it answers 200; throws with the server's log when it exits or times out. */
export async function waitUntilReady(server: ServerProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.spawnError !== null) throw server.spawnError;
    if (hasExited(server)) {
      throw new Error(`${server.name} exited before it was ready:\n${tail(server.logFile)}`);
    }
    try {
      const response = await fetch(`${server.url}/healthz`);
      await response.arrayBuffer();
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${server.name} was not ready within ${timeoutMs} ms:\n${tail(server.logFile)}`);
}

/** Signals the server's whole process group and waits for it to exit (SIGKILL after 5 s). */
export async function stopServer(server: ServerProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const { child } = server;
  if (hasExited(server)) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  killGroup(child, signal);
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** Synchronous last resort for `process.on('exit')`. */
export function killServerNow(server: ServerProcess): void {
  if (!hasExited(server)) killGroup(server.child, 'SIGKILL');
}

export function tail(file: string, bytes = 4_000): string {
  try {
    return readFileSync(file, 'utf8').slice(-bytes);
  } catch {
    return '(no log)';
  }
}

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

function hasExited(server: ServerProcess): boolean {
  return server.spawnError !== null || server.child.exitCode !== null || server.child.signalCode !== null;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group is already gone
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
