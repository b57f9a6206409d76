import { spawn } from 'node:child_process';

export interface WrkOptions {
  url: string;
  script: string;
  durationSeconds: number;
  connections: number;
  /** Passed to the Lua script so that event ids never repeat across runs. */
  nonce: string;
  /** CPU list for `taskset -c`, or null to run unpinned. */
  cpus: string | null;
  /** More arguments for the Lua script, after the nonce. */
  scriptArgs?: readonly string[];
}

export interface WrkResult {
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  /** Successful (< 400) responses per second: what the ratio is computed from. */
  okPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** wrk's "Non-2xx or 3xx responses" (it counts status ≥ 400). */
  non2xx: number;
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  statuses: { s202: number; s200: number; other: number };
  raw: string;
}

/** Runs wrk (optionally pinned) and parses its report. Rejects when wrk fails or its output is unreadable. */
export async function runWrk(options: WrkOptions): Promise<WrkResult> {
  const wrkArgs = [
    '-t1',
    `-c${options.connections}`,
    `-d${options.durationSeconds}s`,
    '--latency',
    '-s',
    options.script,
    options.url,
    '--',
    options.nonce,
    ...(options.scriptArgs ?? []),
  ];
  const [command, args] =
    options.cpus === null ? ['wrk', wrkArgs] : ['taskset', ['-c', options.cpus, 'wrk', ...wrkArgs]];
  const raw = await new Promise<string>((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`wrk exited with ${code}:\n${out}`));
    });
  });
  return parseWrk(raw);
}

/** Parses the report of `wrk --latency` plus the status line printed by post-event.lua. */
export function parseWrk(raw: string): WrkResult {
  const total = match(raw, /(\d+) requests in ([\d.]+)(us|ms|s|m|h)/);
  const requests = Number(total[1]);
  const seconds = toMs(total[2]!, total[3]!) / 1000;
  const requestsPerSecond = Number(match(raw, /Requests\/sec:\s+([\d.]+)/)[1]);
  const p50 = match(raw, /^\s+50%\s+([\d.]+)(us|ms|s|m|h)/m);
  const p99 = match(raw, /^\s+99%\s+([\d.]+)(us|ms|s|m|h)/m);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(raw)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(raw);
  const statuses = match(raw, /bench-statuses 202=(\d+) 200=(\d+) other=(\d+)/);
  return {
    requests,
    seconds,
    requestsPerSecond,
    okPerSecond: (requests - non2xx) / seconds,
    p50Ms: toMs(p50[1]!, p50[2]!),
    p99Ms: toMs(p99[1]!, p99[2]!),
    non2xx,
    socketErrors: {
      connect: Number(socket?.[1] ?? 0),
      read: Number(socket?.[2] ?? 0),
      write: Number(socket?.[3] ?? 0),
      timeout: Number(socket?.[4] ?? 0),
    },
    statuses: { s202: Number(statuses[1]), s200: Number(statuses[2]), other: Number(statuses[3]) },
    raw,
  };
}

export function socketErrorCount(result: WrkResult): number {
  const { connect, read, write, timeout } = result.socketErrors;
  return connect + read + write + timeout;
}

function match(raw: string, pattern: RegExp): RegExpExecArray {
  const found = pattern.exec(raw);
  if (found === null) throw new Error(`cannot find ${pattern} in wrk output:\n${raw}`);
  return found;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function toMs(value: string, unit: string): number {
  return Number(value) * (UNIT_MS[unit] ?? Number.NaN);
}
