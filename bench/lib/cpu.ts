import { readFileSync } from 'node:fs';

// The machine may be shared (other builds, tests): measure how much CPU went to neither the server
// nor wrk during a run, so a skewed figure is visible instead of silently believed.

export interface CpuSnapshot {
  /** Clock ticks since boot, all cores: elapsed and busy. */
  total: number;
  busy: number;
  /** Clock ticks used by the server process (all threads). */
  server: number;
  /** Clock ticks used by this process and its reaped children (wrk). */
  harness: number;
}

export interface CpuShares {
  /** Percent of one core. */
  server: number;
  wrk: number;
  other: number;
}

/** Reads /proc; null where it is missing (not Linux). */
export function snapshotCpu(serverPid: number, cores: number): CpuSnapshot | null {
  try {
    const fields = readFileSync('/proc/stat', 'utf8')
      .split('\n')[0]!
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields;
    const self = processTicks('self');
    return {
      total: (user + nice + system + idle + iowait + irq + softirq + steal) / cores,
      busy: user + nice + system + irq + softirq + steal,
      server: processTicks(String(serverPid)).own,
      harness: self.own + self.children,
    };
  } catch {
    return null;
  }
}

export function cpuShares(before: CpuSnapshot, after: CpuSnapshot): CpuShares {
  const elapsed = after.total - before.total || 1;
  const percent = (ticks: number) => Math.max(0, (100 * ticks) / elapsed);
  const server = after.server - before.server;
  const wrk = after.harness - before.harness;
  return {
    server: percent(server),
    wrk: percent(wrk),
    other: percent(after.busy - before.busy - server - wrk),
  };
}

function processTicks(pid: string): { own: number; children: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime is the 14th field of the whole line.
  const fields = stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
  const [utime = 0, stime = 0, cutime = 0, cstime = 0] = fields.slice(11, 15);
  return { own: utime + stime, children: cutime + cstime };
}

/** Clock ticks of several processes at once, for runs with more than one process under test. */
export interface ProcessesSnapshot {
  total: number;
  busy: number;
  /** Ticks of each watched process, in the order given; null once a process is gone. */
  processes: (number | null)[];
  harness: number;
}

/** Percent of one core, per watched process (null when it could not be read) and for the rest. */
export interface ProcessesShares {
  processes: (number | null)[];
  harness: number;
  other: number;
}

/** Like `snapshotCpu`, for any number of processes; null where /proc is missing (not Linux). */
export function snapshotProcesses(pids: readonly number[], cores: number): ProcessesSnapshot | null {
  const machine = snapshotCpu(process.pid, cores);
  if (machine === null) return null;
  const processes = pids.map((pid) => {
    try {
      return processTicks(String(pid)).own;
    } catch {
      return null;
    }
  });
  return { total: machine.total, busy: machine.busy, processes, harness: machine.harness };
}

export function processesShares(before: ProcessesSnapshot, after: ProcessesSnapshot): ProcessesShares {
  const elapsed = after.total - before.total || 1;
  const percent = (ticks: number) => Math.max(0, (100 * ticks) / elapsed);
  const used = before.processes.map((ticks, i) => {
    const end = after.processes[i];
    return ticks === null || end === null || end === undefined ? null : end - ticks;
  });
  const harness = after.harness - before.harness;
  const known = used.reduce<number>((sum, ticks) => sum + (ticks ?? 0), harness);
  return {
    processes: used.map((ticks) => (ticks === null ? null : percent(ticks))),
    harness: percent(harness),
    other: percent(after.busy - before.busy - known),
  };
}

/**
 * Waits (up to `maxMs`) for a `windowMs` window in which processes other than this one and the
 * given idle-but-running ones use under `thresholdPercent` of a core, so a run starts in a lull
 * of a shared machine. Returns the load of the last window (percent of one core), null off Linux.
 */
export async function waitForQuiet(options: {
  pids: readonly number[];
  cores: number;
  thresholdPercent: number;
  maxMs: number;
  windowMs?: number;
}): Promise<number | null> {
  const windowMs = options.windowMs ?? 500;
  const deadline = Date.now() + options.maxMs;
  for (;;) {
    const before = snapshotProcesses(options.pids, options.cores);
    await new Promise((resolve) => setTimeout(resolve, windowMs));
    const after = snapshotProcesses(options.pids, options.cores);
    if (before === null || after === null) return null;
    const shares = processesShares(before, after);
    const load = shares.other + shares.processes.reduce<number>((sum, p) => sum + (p ?? 0), 0);
    if (load < options.thresholdPercent || Date.now() + windowMs > deadline) return load;
  }
}
