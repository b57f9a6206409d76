import { renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installPackedPackage } from '../support/packed-package.ts';
import { eventually, type Proc, startCommand, waitForOutput } from '../support/processes.ts';
import { allDelivered, copyFixtures, exited, readEvent } from './helpers.ts';

// DESIGN.md "The package": Deno runs a user's script that imports the installed package's
// `hookmesh/deno` entry (test/package/fixtures/deno/deno-mesh.mjs), resolved from the project's
// node_modules through its deno.json (`"nodeModulesDir": "manual"`), under the real deno binary with
// the permissions of `npm run start:deno` and no network.

/** The binary itself, not `.bin/deno` (a Node shim without its install script): see test/runtime/deno.test.ts. */
const DENO: string = createRequire(import.meta.url)('deno/install_api.cjs').runInstall();
const PRODUCER_TOKEN = 'shipping-producer-token-0123456789';
const ADMIN_TOKEN = 'shipping-admin-token-0123456789abc';
/** Deno's first start type-strips and caches every module. */
const START_MS = 60_000;

describe('a user script on Deno importing hookmesh/deno from the packed package', () => {
  let project: { dir: string };
  let dir: string;
  let deno: Proc | undefined;

  beforeAll(async () => {
    project = await installPackedPackage();
    dir = copyFixtures(project.dir, 'deno');
    // The user's deno.json sits at the project's root, beside package.json and node_modules.
    renameSync(join(dir, 'deno.json'), join(project.dir, 'deno.json'));
  }, 240_000);

  afterAll(async () => {
    await deno?.kill('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(
    'serves the mesh with PORT=0, delivers an event to the handler it serves, and stops on SIGTERM',
    async () => {
      deno = startCommand(
        DENO,
        [
          'run',
          '--cached-only',
          '--no-remote',
          '--allow-net',
          '--allow-env',
          '--allow-read=.',
          '--allow-write',
          '--allow-ffi=node_modules/@libsql',
          '--allow-sys=hostname,cpus,networkInterfaces',
          'deno/deno-mesh.mjs',
        ],
        {
          DENO_NO_UPDATE_CHECK: '1',
          NO_COLOR: '1',
          PORT: '0',
          HOST: '127.0.0.1',
          DATABASE_URL: 'file:deno/data/mesh.db',
          HOOKMESH_PRODUCER_TOKENS: `shipping:${PRODUCER_TOKEN}`,
          HOOKMESH_ADMIN_TOKEN: ADMIN_TOKEN,
          QSTASH_CURRENT_SIGNING_KEY: 'sig_deno_current_Hq7pX2vN9',
        },
        { cwd: project.dir },
      );
      const running = deno;
      try {
        const [, url] = (await waitForOutput(running, /MESH_URL=(\S+)/, START_MS)) as unknown as [
          string,
          string,
        ];
        expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
        expect(url).not.toBe('http://127.0.0.1:0');

        const res = await fetch(`${url}/v1/events`, {
          method: 'POST',
          headers: { authorization: `Bearer ${PRODUCER_TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            id: 'parcel-7-shipped',
            type: 'ParcelShipped',
            data: { parcel: { id: 'p-7', carrier: 'dhl' } },
          }),
        });
        expect(res.status).toBe(202);
        const accepted = (await res.json()) as { integrationEvents: { id: string; type: string }[] };
        const [ie] = accepted.integrationEvents;
        expect(ie!.type).toBe('parcel.shipped.v1');

        const view = await eventually(
          async () => {
            const read = await readEvent(url, ADMIN_TOKEN, 'parcel-7-shipped');
            return allDelivered(read, 1) ? read : undefined;
          },
          15_000,
          'the delivery to be delivered',
        );
        expect(view.integrationEvents[0]!.deliveries[0]!.url).toBe(`${url}/webhooks/parcel.shipped.v1`);
        const handled = [...running.output().matchAll(/^HANDLED (.*)$/gm)].map((m) => JSON.parse(m[1]!));
        expect(handled).toEqual([{ eventId: ie!.id, parcelId: 'p-7' }]);

        const exit = exited(running);
        process.kill(running.child.pid!, 'SIGTERM');
        expect(await exit).toEqual({ code: 0, signal: null });
      } catch (error) {
        // Deno's own words (permission errors, resolution errors) say more than a timeout.
        console.error(`deno output:\n${running.output()}`);
        throw error;
      }
    },
    START_MS + 30_000,
  );
});
