import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type Proc, startProcess, waitForOutput } from '../../test/support/processes.ts';
import { ADMIN_TOKEN, handlerDbPath, meshEnv, PAID_TYPE, SIGNING_KEY } from './fixture.ts';

// Real processes for a scenario: mesh processes (`bench/reliability/mesh-entry.ts`, i.e. serveMesh
// as `npm start` runs it) and the consuming service, all on loopback, all in one temp directory,
// all killed (by their own pid) when the scenario ends.

export interface Cluster {
  readonly dir: string;
  startMesh(options: {
    port?: number;
    role?: 'all' | 'api' | 'dispatcher';
    env?: Record<string, string>;
  }): Promise<MeshProc>;
  startHandlerService(env?: Record<string, string>): Promise<HandlerService>;
  /** Kills every process still running and removes the directory. */
  close(): Promise<void>;
}

export interface MeshProc {
  readonly proc: Proc;
  readonly url: string;
  readonly port: number;
}

export interface HandlerStats {
  effects: number;
  distinctEffects: number;
  requests: number;
  refusedDown: number;
  failedBefore: number;
  failedAfter: number;
  statuses: Record<string, number>;
}

export interface HandlerService {
  readonly proc: Proc;
  readonly url: string;
  /** The webhook route the harness subscribes. */
  readonly hookUrl: string;
  stats(): Promise<HandlerStats>;
  control(faults: { down?: boolean; failBefore?: number; failAfter?: number }): Promise<void>;
}

/** Clusters not yet closed: an interrupted run still kills its processes. */
const open = new Set<Cluster>();

/** Closes every cluster still open (on SIGINT/SIGTERM of the harness). */
export async function closeAllClusters(): Promise<void> {
  await Promise.all([...open].map((c) => c.close()));
}

export function createCluster(name: string): Cluster {
  const dir = mkdtempSync(join(tmpdir(), `hookmesh-reliability-${name}-`));
  const procs = new Set<Proc>();
  const cluster: Cluster = {
    dir,
    async startMesh({ port, role = 'all', env = {} }) {
      const chosen = port ?? (role === 'dispatcher' ? 0 : await freePort());
      const proc = startProcess('bench/reliability/mesh-entry.ts', {
        ...meshEnv(dir, chosen, env),
        HOOKMESH_ROLE: role,
      });
      procs.add(proc);
      proc.child.once('exit', () => procs.delete(proc));
      const [, url] = await waitForOutput(proc, /"hookmesh listening".*?"url":"(http:\/\/[^"]+)"/, 60_000);
      return { proc, url: url!, port: Number(new URL(url!).port) };
    },
    async startHandlerService(env = {}) {
      const proc = startProcess('bench/reliability/handler-service.ts', {
        HANDLER_DB: handlerDbPath(dir),
        QSTASH_CURRENT_SIGNING_KEY: SIGNING_KEY,
        ...env,
      });
      procs.add(proc);
      proc.child.once('exit', () => procs.delete(proc));
      const [, url] = await waitForOutput(proc, /listening (http:\/\/\S+)/, 60_000);
      return {
        proc,
        url: url!,
        hookUrl: `${url}/webhooks/${PAID_TYPE}`,
        async stats() {
          return (await (await fetch(`${url}/stats`)).json()) as HandlerStats;
        },
        async control(faults) {
          const res = await fetch(`${url}/control`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(faults),
          });
          if (!res.ok) throw new Error(`control answered ${res.status}`);
        },
      };
    },
    async close() {
      open.delete(cluster);
      await Promise.all([...procs].map((p) => p.kill()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  open.add(cluster);
  return cluster;
}

/** Creates a subscription through the admin API; returns its id. */
export async function subscribe(
  meshUrl: string,
  body: { type: string; url: string; retries?: number; retryDelay?: string; pauseAfter?: number },
): Promise<string> {
  const res = await fetch(`${meshUrl}/v1/subscriptions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 201)
    throw new Error(`POST /v1/subscriptions answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns a value or `timeoutMs` passes; then resolves undefined (no throw). */
export async function waitFor<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
  everyMs = 200,
): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) return undefined;
    await sleep(everyMs);
  }
}
