import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, freePort, type Proc, startCommand, waitForOutput } from '../support/processes.ts';

// STYLE.md rule 16: the Deno entry under the real `deno` (the npm devDependency's binary), with
// the permissions of `npm run start:deno`. The example chain runs inside the Deno process:
// OrderCreated → billing → OrderPaid → notifications, all over loopback HTTP.

// The binary itself, not `.bin/deno`: without its install script (npm here runs none) that is a
// Node shim which runs deno as a child and would take the test's SIGTERM in its place. The deno
// package's own resolver finds the binary in its platform package (@deno/<target>).
const DENO: string = createRequire(import.meta.url)('deno/install_api.cjs').runInstall();
/** What `npm run start:deno` passes, plus the two flags that forbid any download. */
const DENO_ARGS = [
  'run',
  // Everything comes from node_modules: a clean clone must start without network.
  '--cached-only',
  '--no-remote',
  '--allow-net',
  '--allow-env',
  '--allow-read=.',
  '--allow-write',
  '--allow-ffi=node_modules/@libsql',
  '--allow-sys=hostname,cpus,networkInterfaces',
  'src/example/deno-main.ts',
];
/** Deno's first start type-strips and caches every module. */
const START_TIMEOUT_MS = 60_000;

const PRODUCER = 'deno-producer-token-0123456789';
const ADMIN = 'deno-admin-token-0123456789';

let proc: Proc | undefined;
let dir: string | undefined;
afterEach(async () => {
  await proc?.kill('SIGKILL');
  proc = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function startDeno(env: Record<string, string>): Proc {
  return startCommand(DENO, DENO_ARGS, { DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1', ...env });
}

function exited(p: Proc): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const { child } = p;
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

interface EventView {
  integrationEvents: { id: string; deliveries: { status: string }[] }[];
}

describe('the Deno entry', () => {
  it(
    'runs the example chain under deno and stops cleanly on SIGTERM',
    async () => {
      dir = mkdtempSync(join(tmpdir(), 'hookmesh-deno-'));
      const port = await freePort();
      proc = startDeno({
        PORT: String(port),
        HOST: '127.0.0.1',
        DATABASE_URL: `file:${join(dir, 'mesh.db')}`,
        HOOKMESH_PRODUCER_TOKENS: `shop:${PRODUCER}`,
        HOOKMESH_ADMIN_TOKEN: ADMIN,
        QSTASH_CURRENT_SIGNING_KEY: 'deno-signing-key-0123456789',
      });
      const running = proc;
      try {
        const [, url] = await waitForOutput(
          running,
          /"message":"hookmesh listening","url":"([^"]+)"/,
          START_TIMEOUT_MS,
        );
        expect(url).toBe(`http://127.0.0.1:${port}`);

        const res = await fetch(`${url}/v1/events`, {
          method: 'POST',
          headers: { authorization: `Bearer ${PRODUCER}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            id: 'order-1',
            type: 'OrderCreated',
            data: { order: { id: 'o-1', customerId: 'c-1', total: 42.5, currency: 'EUR' } },
          }),
        });
        expect(res.status).toBe(202);
        const { integrationEvents } = (await res.json()) as { integrationEvents: { id: string }[] };

        const getEvent = async (id: string) => {
          const r = await fetch(`${url}/v1/events/${encodeURIComponent(id)}`, {
            headers: { authorization: `Bearer ${ADMIN}` },
          });
          if (r.status === 200) return (await r.json()) as EventView;
          await r.body?.cancel();
          return undefined;
        };
        // billing posted OrderPaid back to the mesh, and notifications received it.
        await eventually(
          async () => {
            const paid = await getEvent(`paid-${integrationEvents[0]!.id}`);
            return paid?.integrationEvents[0]?.deliveries[0]?.status === 'delivered' ? paid : undefined;
          },
          15_000,
          'OrderPaid delivered',
        );
        const created = await getEvent('order-1');
        expect(created!.integrationEvents[0]!.deliveries[0]!.status).toBe('delivered');
        expect(running.output()).toContain('"message":"billing: charging order"');
        expect(running.output()).toContain('"message":"notifications: order paid"');

        const exit = exited(running);
        process.kill(running.child.pid!, 'SIGTERM');
        expect(await exit).toEqual({ code: 0, signal: null });
      } catch (error) {
        // Deno's own words (permission errors, stack traces) say more than a timeout.
        console.error(`deno output:\n${running.output()}`);
        throw error;
      }
    },
    START_TIMEOUT_MS + 30_000,
  );
});
