import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type LoopbackServer, startLoopbackServer } from '../support/loopback-server.ts';

// STYLE.md rule 16: the sender Deno delivers with, under the real `deno` (the npm devDependency's
// binary; see test/runtime/deno.test.ts), so `Deno.resolveDns` and `Deno.createHttpClient` are
// the real ones. The listener counts TCP connections: a refusal must come before connecting.

const DENO: string = createRequire(import.meta.url)('deno/install_api.cjs').runInstall();
const PROBE = 'test/support/deno-fetch-sender-probe.ts';

function runProbe(port: number): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => {
    execFile(
      DENO,
      ['run', '--cached-only', '--no-remote', '--allow-net', '--allow-sys=hostname', PROBE, String(port)],
      { env: { ...process.env, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' }, timeout: 60_000 },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`deno failed: ${error.message}\n${stderr}`));
        resolve(JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, string>);
      },
    );
  });
}

let server: LoopbackServer;
beforeEach(async () => {
  server = await startLoopbackServer(() => ({ status: 200, body: 'ok' }));
});
afterEach(async () => {
  await server.close();
});

describe('fetch sender under deno', () => {
  it('refuses names resolving to loopback with zero connections; pins http to the checked address with its Host', async () => {
    const results = await runProbe(server.port);

    for (const key of ['localhost', 'injectedLoopback', 'injectedLoopbackHttps', 'unresolvable', 'ownName']) {
      if (key in results) expect(results[key], key).toMatch(/^error refused to connect/);
    }
    expect(results.pinned).toBe('status 200');
    expect(results.allowed).toBe('status 200');
    // Only the two allowed requests reached the listener, on one connection each at most.
    expect(server.requests.map((r) => r.path)).toEqual(['/pinned', '/allowed']);
    expect(server.connections).toBe(2);
    // The pinned request went to the address, but carried the name: Deno sent our Host header.
    expect(server.requests[0]!.headers.host).toBe(`public.example:${server.port}`);
  }, 90_000);
});
