import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  freePort,
  killServerNow,
  type ServerProcess,
  startServer,
  stopServer,
  tail,
  waitUntilReady,
} from './server.ts';

/**
 * What every phase of a multi-process bench shares: a temp dir, the pinning decision and the
 * processes to kill whatever happens — exit, error or Ctrl-C (servers run in their own process
 * groups, so a Ctrl-C does not reach them).
 */
export interface BenchContext {
  readonly root: string;
  readonly dir: string;
  readonly pinned: boolean;
  readonly cores: number;
  /**
   * Starts a node process (`--import tsx <script>`; a `.mjs`/`.js` script on plain Node) as a
   * server, pinned when possible, and waits for /healthz.
   */
  start(options: {
    name: string;
    script: string;
    env: Record<string, string>;
    core: 0 | 1;
    ready?: boolean;
    /** Extra node options, e.g. `--cpu-prof`. */
    nodeOptions?: readonly string[];
  }): Promise<ServerProcess>;
  stop(server: ServerProcess, signal?: NodeJS.Signals): Promise<void>;
  /** Spawns a node script pinned to a core with stdout piped, in its own process group. */
  spawnPiped(script: string, env: Record<string, string>, core: 0 | 1): ChildProcess;
}

export function createBenchContext(root: string, cores: number, pinned: boolean): BenchContext {
  const dir = mkdtempSync(join(tmpdir(), 'hookmesh-bench-delivery-'));
  const servers = new Set<ServerProcess>();
  const children = new Set<ChildProcess>();

  process.on('exit', () => {
    for (const server of servers) killServerNow(server);
    for (const child of children) killGroup(child);
    rmSync(dir, { recursive: true, force: true });
  });
  process.on('SIGINT', () => process.exit(130));
  process.on('SIGTERM', () => process.exit(143));

  const nodeArgs = (script: string, options: readonly string[] = []) =>
    // A compiled script (.mjs, .js) runs on plain Node, without tsx's loader thread.
    /\.m?js$/.test(script) ? [...options, script] : [...options, '--import', 'tsx', script];
  let serial = 0;

  return {
    root,
    dir,
    pinned,
    cores,
    async start({ name, script, env, core, ready = true, nodeOptions = [] }) {
      const server = startServer({
        name,
        args: nodeArgs(script, nodeOptions),
        env,
        port: await freePort(),
        cwd: root,
        cpus: pinned ? String(core) : null,
        logFile: join(dir, `${name}-${++serial}.log`),
      });
      servers.add(server);
      if (ready) await waitUntilReady(server);
      return server;
    },
    async stop(server, signal = 'SIGTERM') {
      await stopServer(server, signal);
      servers.delete(server);
    },
    spawnPiped(script, env, core) {
      const node = [process.execPath, ...nodeArgs(script)];
      const [command, args] = pinned ? ['taskset', ['-c', String(core), ...node]] : [node[0]!, node.slice(1)];
      const child = spawn(command, args, {
        cwd: root,
        detached: true,
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, ...env },
      });
      children.add(child);
      child.once('exit', () => children.delete(child));
      return child;
    },
  };
}

/** Runs `work`; an error it throws comes back with the tail of the server's log attached. */
export async function withServerLog<T>(server: ServerProcess, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`${message}\n${server.name} log (tail):\n${tail(server.logFile).trimEnd()}`, {
      cause: error,
    });
  }
}

/**
 * With BENCH_CPU_PROF=<dir>, node options that make a process write a V8 CPU profile to
 * `<dir>/<tag>/` when it exits (inspect it in Chrome DevTools or speedscope); none otherwise.
 */
export function cpuProfileOptions(tag: string): string[] {
  const dir = process.env.BENCH_CPU_PROF;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${join(dir, tag)}`] : [];
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
