import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.ts';
import { installPackedPackage } from '../support/packed-package.ts';
import { eventually, freePort, type Proc, startCommand } from '../support/processes.ts';
import { type QStashDouble, startQStashDouble } from '../support/qstash-double.ts';

// DESIGN.md "The package" on Cloudflare Workers, as a platform team meets it: the packed tarball
// installed into a project of its own, a `worker.js` with its own definitions and handler
// (`hookmesh/worker`), a `wrangler.toml` whose D1 migrations come from
// `node_modules/hookmesh/migrations` — and the real wrangler: `wrangler d1 migrations apply --local`,
// then `wrangler dev` (its own bundling, its own workerd, local D1). The QStash double is QSTASH_URL:
// the Worker publishes to it, it delivers (signed) to the Worker's handler route and calls the
// Worker's /v1/qstash/callback back, which marks the delivery delivered.
//
// wrangler 4 needs Node >= 22.12: this file runs in CI's second pass (`npm test` under Node 24 from
// .ci/current-node, which also installs wrangler) and is skipped, saying why, under older Node.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WRANGLER_BIN = join(ROOT, '.ci', 'current-node', 'node_modules', '.bin', 'wrangler');
const MIN_NODE = [22, 12] as const;

const PRODUCER_TOKEN = 'shipping-producer-token-0123456789abcdef';
const ADMIN_TOKEN = 'platform-admin-token-0123456789abcdef01';
const QSTASH_TOKEN = 'qstash-token-0123456789abcdef';
const KEY = 'sig_wrangler_current_3hT8qZ1mV6xK9pD2';
const NEXT_KEY = 'sig_wrangler_next_7nB4wR5yJ0cL2fG8';
const TYPE = 'ticket.opened.v1';

/** Installing and starting (pack + install are shared with other files of the run, and may be slow). */
const SETUP_MS = 240_000;
/** wrangler dev's first answer: bundling, workerd's start, the mesh composed on the first request. */
const READY_MS = 60_000;
/** Publish, signed delivery, callback: each step is a loopback request. */
const DELIVERY_MS = 30_000;

/** Why this file cannot run here, or null. */
function skipReason(): string | null {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  if (major < MIN_NODE[0] || (major === MIN_NODE[0] && minor < MIN_NODE[1])) {
    return `wrangler 4 needs Node >= ${MIN_NODE.join('.')}, this is ${process.version} (CI runs it under Node 24)`;
  }
  if (!existsSync(WRANGLER_BIN)) {
    return 'no wrangler in .ci/current-node (`npm ci --prefix .ci/current-node` installs it; .ci/run does)';
  }
  return null;
}

const reason = skipReason();
// The default reporter shows a skipped file without its name's reason: say it once.
if (reason !== null) console.info(`wrangler dev smoke test skipped: ${reason}`);

/**
 * The user's Worker project as the README shows it: test/package/fixtures/worker/worker.mjs (its own
 * definitions, a handler served by the same Worker, `createWorker`) and its wrangler.toml (D1 bound as
 * DB, migrations from the installed package), with the vars a local run needs passed as --var.
 */
const FIXTURES = join(ROOT, 'test', 'package', 'fixtures', 'worker');

interface DeliveryJson {
  id: string;
  url: string;
  status: 'pending' | 'in_flight' | 'retrying' | 'delivered' | 'dead';
  attempts: { number: number; status: number | null; error: string | null }[];
}

interface EventJson {
  id: string;
  source: string;
  integrationEvents: { id: string; type: string; data: unknown; deliveries: DeliveryJson[] }[];
}

const execFileAsync = promisify(execFile);

describe.skipIf(reason !== null)(
  `the real wrangler dev on a user's Worker project (local D1, QStash double)${reason ? ` — skipped: ${reason}` : ''}`,
  () => {
    let dir: string;
    let state: string;
    let q: QStashDouble | undefined;
    let wrangler: Proc | undefined;
    let publicUrl: string;
    /**
     * The running Node (>= 22.12 here) runs wrangler, and comes first on its PATH. Resolved when
     * used: vitest collects this block even when it skips it, and a clone without
     * .ci/current-node installed has no wrangler to resolve.
     */
    const wranglerJs = () => realpathSync(WRANGLER_BIN);
    /** Non-interactive, no metrics; its logs and dev registry in the temp folder, not in ~/.config. */
    const wranglerEnv = () => ({
      CI: 'true',
      WRANGLER_SEND_METRICS: 'false',
      WRANGLER_LOG_PATH: join(state, 'logs'),
      WRANGLER_REGISTRY_PATH: join(state, 'registry'),
      PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`,
    });

    const wranglerRun = async (args: readonly string[]) => {
      try {
        const { stdout, stderr } = await execFileAsync(process.execPath, [wranglerJs(), ...args], {
          cwd: dir,
          env: { ...process.env, ...wranglerEnv() },
          timeout: READY_MS,
          maxBuffer: 16 * 1024 * 1024,
        });
        return stdout + stderr;
      } catch (error) {
        const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
        throw new Error(`wrangler ${args.join(' ')} failed: ${String(error)}\n${stdout}${stderr}`);
      }
    };

    const request = (path: string, init: RequestInit & { token?: string } = {}) => {
      const { token = ADMIN_TOKEN, ...rest } = init;
      const headers = new Headers(rest.headers);
      headers.set('authorization', `Bearer ${token}`);
      if (rest.body !== undefined) headers.set('content-type', 'application/json');
      return fetch(`${publicUrl}${path}`, { ...rest, headers });
    };

    const getEvent = async (id: string): Promise<EventJson> => {
      const res = await request(`/v1/events/${encodeURIComponent(id)}`);
      if (res.status !== 200) throw new Error(`GET /v1/events/${id}: ${res.status} ${await res.text()}`);
      return (await res.json()) as EventJson;
    };

    const deliveryOf = async (id: string): Promise<DeliveryJson> => {
      const delivery = (await getEvent(id)).integrationEvents[0]?.deliveries[0];
      if (!delivery) throw new Error(`event ${id} has no delivery`);
      return delivery;
    };

    /** Fails with wrangler's output: what it printed is the only clue when the Worker misbehaves. */
    const withOutput = (error: unknown) =>
      new Error(
        `${error instanceof Error ? error.message : String(error)}\n--- wrangler dev ---\n${wrangler?.output()}`,
      );

    beforeAll(async () => {
      const project = await installPackedPackage();
      // A folder of its own in the shared project; its node_modules is the project's, so the
      // wrangler.toml reads exactly as in a user's project.
      dir = join(project.dir, 'wrangler-dev');
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      symlinkSync(join(project.dir, 'node_modules'), join(dir, 'node_modules'), 'dir');
      copyFileSync(join(FIXTURES, 'worker.mjs'), join(dir, 'worker.mjs'));
      copyFileSync(join(FIXTURES, 'wrangler.toml'), join(dir, 'wrangler.toml'));
      state = mkdtempSync(join(tmpdir(), 'hookmesh-wrangler-state-'));

      const migrated = await wranglerRun([
        'd1',
        'migrations',
        'apply',
        'support-mesh',
        '--local',
        '--persist-to',
        state,
      ]);
      expect(migrated).toMatch(/0000_init\.sql\s*│\s*✅/);

      q = await startQStashDouble({
        token: QSTASH_TOKEN,
        currentSigningKey: KEY,
        nextSigningKey: NEXT_KEY,
        clock: systemClock,
      });
      const port = await freePort();
      publicUrl = `http://127.0.0.1:${port}`;
      const vars = {
        // A local run: development rules, the Worker reached on loopback.
        NODE_ENV: 'development',
        HOOKMESH_PUBLIC_URL: publicUrl,
        HOOKMESH_PRODUCER_TOKENS: `shipping:${PRODUCER_TOKEN}`,
        HOOKMESH_ADMIN_TOKEN: ADMIN_TOKEN,
        QSTASH_URL: q.url,
        QSTASH_TOKEN,
        QSTASH_CURRENT_SIGNING_KEY: KEY,
        QSTASH_NEXT_SIGNING_KEY: NEXT_KEY,
      };
      const started = performance.now();
      wrangler = startCommand(
        process.execPath,
        [
          wranglerJs(),
          'dev',
          '--port',
          String(port),
          '--ip',
          '127.0.0.1',
          '--persist-to',
          state,
          '--show-interactive-dev-session=false',
          ...Object.entries(vars).flatMap(([name, value]) => ['--var', `${name}:${value}`]),
        ],
        wranglerEnv(),
        { cwd: dir },
      );
      const proc = wrangler;
      await eventually(
        async () => {
          if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
            throw withOutput(
              new Error(`wrangler dev exited (${proc.child.exitCode ?? proc.child.signalCode})`),
            );
          }
          try {
            const res = await fetch(`${publicUrl}/healthz`);
            await res.arrayBuffer();
            return res.status === 200 ? true : undefined;
          } catch {
            return undefined;
          }
        },
        READY_MS,
        'wrangler dev to answer /healthz with 200',
      ).catch((error) => {
        throw withOutput(error);
      });
      console.info(`wrangler dev: /healthz 200 after ${(performance.now() - started).toFixed(0)} ms`);
    }, SETUP_MS);

    afterAll(async () => {
      // wrangler and the workerd it started share the process group startCommand gave it.
      await wrangler?.kill('SIGKILL');
      await q?.close();
      if (state) rmSync(state, { recursive: true, force: true });
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('an event posted to it is published to QStash, delivered signed to its handler route, and the callback marks it delivered', async () => {
      const double = q!;
      const posted = await request('/v1/events', {
        method: 'POST',
        token: PRODUCER_TOKEN,
        body: JSON.stringify({
          id: 'ticket-1',
          type: 'TicketOpened',
          data: { ticket: { id: 't-1', priority: 'high' } },
        }),
      });
      const accepted = (await posted.json()) as {
        id: string;
        integrationEvents: { id: string; type: string }[];
      };
      expect(posted.status, JSON.stringify(accepted)).toBe(202);
      expect(accepted.integrationEvents.map((ie) => ie.type)).toEqual([TYPE]);
      const ieId = accepted.integrationEvents[0]!.id;
      const handlerUrl = `${publicUrl}/webhooks/${TYPE}`;

      try {
        // Published by the waitUntil after the 202, and recorded (in_flight) — only then may the
        // double deliver, so the callback never overtakes the Worker's write of the message id.
        const message = await eventually(
          async () => {
            const found = double.messages.find((m) => m.kind === 'message' && m.destination === handlerUrl);
            return found && (await deliveryOf('ticket-1')).status === 'in_flight' ? found : undefined;
          },
          DELIVERY_MS,
          'the Worker to publish the delivery to the QStash double',
        );
        expect(message.headers).toMatchObject({
          'upstash-callback': `${publicUrl}/v1/qstash/callback`,
          'upstash-failure-callback': `${publicUrl}/v1/qstash/callback`,
          'upstash-forward-ce-id': ieId,
          'upstash-forward-ce-type': TYPE,
          'upstash-forward-ce-source': '/producers/shipping',
        });
        expect(JSON.parse(message.body)).toEqual({ ticketId: 't-1', urgent: true });

        // The double delivers what is due (the message, then the callback it causes) on each call.
        const delivered = await eventually(
          async () => {
            await double.deliverDue();
            const delivery = await deliveryOf('ticket-1');
            return delivery.status === 'delivered' ? delivery : undefined;
          },
          DELIVERY_MS,
          'the callback to mark the delivery delivered',
        );
        expect(delivered).toMatchObject({
          url: handlerUrl,
          attempts: [{ number: 1, status: 200, error: null }],
        });
        // One signed attempt, answered 200 by the Worker's handler route (a bad signature is a 401),
        // and one callback, answered 200 by the Worker's callback route.
        expect(message.attempts.map((a) => [a.retried, a.status])).toEqual([[0, 200]]);
        const callbacks = double.messages.filter((m) => m.sourceMessageId === message.id);
        expect(callbacks.map((c) => [c.kind, c.state, c.attempts.map((a) => a.status)])).toEqual([
          ['callback', 'delivered', [200]],
        ]);
        // The user's handler ran, once.
        const handled = await eventually(
          async () => {
            const lines = wrangler!.output().match(/support desk: ticket t-1 opened \(urgent: true\)/g);
            return lines ?? undefined;
          },
          DELIVERY_MS,
          "the handler's log line",
        );
        expect(handled).toHaveLength(1);
        expect((await getEvent('ticket-1')).source).toBe('shipping');
      } catch (error) {
        throw withOutput(error);
      }
    });
  },
);
