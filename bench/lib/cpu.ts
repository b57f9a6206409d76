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
