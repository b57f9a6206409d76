import type { LookupAddress, LookupOptions } from 'node:dns';
import { lookup } from 'node:dns';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFetchSender } from '../../src/transports/fetch-sender.ts';
import { createUndiciSender } from '../../src/transports/undici-sender.ts';
import { type LoopbackServer, type Reply, startLoopbackServer } from '../support/loopback-server.ts';

// Only loopback listeners are ever targeted: the guard must refuse before connecting, and the
// listener's hit count proves it did. Other private ranges are covered by the pure address rules
// (test/core/network-address.test.ts) so that no test ever sends traffic off this machine.

const request = (url: string) => ({ url, headers: { 'content-type': 'application/json' }, body: '{}' });

/** A resolver that answers like a rebinding DNS server: `rebind.test` → 127.0.0.1. */
const rebindingResolver = ((
  hostname: string,
  options: LookupOptions,
  callback: (e: Error | null, a: LookupAddress[]) => void,
) => {
  if (hostname === 'rebind.test' || hostname === 'rebind6.test') {
    callback(null, [
      {
        address: hostname === 'rebind.test' ? '127.0.0.1' : '::1',
        family: hostname === 'rebind.test' ? 4 : 6,
      },
    ]);
    return;
  }
  lookup(hostname, { ...options, all: true }, callback as never);
}) as unknown as typeof lookup;

let server: LoopbackServer;
beforeEach(async () => {
  server = await startLoopbackServer(() => ({ status: 200, body: 'ok' }));
});
afterEach(async () => {
  await server.close();
});

describe('untrusted subscriptions cannot reach private addresses', () => {
  const spellings = (port: number) => [
    `http://127.0.0.1:${port}/`,
    `http://127.1:${port}/`,
    `http://2130706433:${port}/`,
    `http://0x7f000001:${port}/`,
    `http://0177.0.0.1:${port}/`,
    `http://[::ffff:127.0.0.1]:${port}/`,
    `http://[::1]:${port}/`,
    `http://localhost:${port}/`,
    `http://rebind.test:${port}/`,
    `http://rebind6.test:${port}/`,
  ];

  it('refuses every spelling of loopback, and a name resolving to it, with zero hits on the listener', async () => {
    const send = createUndiciSender({ allowPrivateNetwork: false, resolve: rebindingResolver });
    try {
      for (const url of spellings(server.port)) {
        await expect(send(request(url), { trusted: false, timeoutMs: 2000 }), url).rejects.toThrow(
          /refused|ENOTFOUND|ECONNREFUSED/,
        );
      }
      expect(server.requests).toHaveLength(0);
    } finally {
      await send.close();
    }
  });

  it('the same sender reaches the listener for a trusted (code-declared) subscription', async () => {
    const send = createUndiciSender({ allowPrivateNetwork: false, resolve: rebindingResolver });
    try {
      const res = await send(request(`http://127.0.0.1:${server.port}/`), { trusted: true, timeoutMs: 2000 });
      expect(res).toMatchObject({ status: 200, excerpt: 'ok' });
      expect(server.requests).toHaveLength(1);
    } finally {
      await send.close();
    }
  });

  it('HOOKMESH_ALLOW_PRIVATE_NETWORK=true lets untrusted subscriptions reach loopback', async () => {
    const send = createUndiciSender({ allowPrivateNetwork: true, resolve: rebindingResolver });
    try {
      await send(request(`http://localhost:${server.port}/`), { trusted: false, timeoutMs: 2000 });
      await send(request(`http://127.0.0.1:${server.port}/`), { trusted: false, timeoutMs: 2000 });
      expect(server.requests).toHaveLength(2);
    } finally {
      await send.close();
    }
  });

  it('the fetch sender refuses literal and named loopback too, and never follows redirects', async () => {
    const send = createFetchSender({ allowPrivateNetwork: false });
    for (const url of spellings(server.port).filter((u) => !u.includes('rebind'))) {
      await expect(send(request(url), { trusted: false, timeoutMs: 2000 }), url).rejects.toThrow(/refused/);
    }
    expect(server.requests).toHaveLength(0);
    const target = await startLoopbackServer();
    server.reply(() => ({ status: 307, headers: { location: `${target.url}/stolen` } }));
    const res = await send(request(`${server.url}/`), { trusted: true, timeoutMs: 2000 });
    expect(res.status).toBe(307);
    expect(target.requests).toHaveLength(0);
    await target.close();
  });
});

describe('responses', () => {
  it('keeps a capped excerpt of the body and lower-case headers', async () => {
    server.reply(() => ({ status: 500, headers: { 'Retry-After': '30' }, body: 'x'.repeat(10_000) }));
    const send = createUndiciSender({ allowPrivateNetwork: true });
    try {
      const res = await send(request(`${server.url}/`), { trusted: true, timeoutMs: 2000 });
      expect(res.status).toBe(500);
      expect(res.headers['retry-after']).toBe('30');
      expect(res.excerpt).toHaveLength(2048);
    } finally {
      await send.close();
    }
  });
});

describe('timeouts', () => {
  /** A server that answers `head` at once, then drips a byte every `everyMs` and never ends. */
  const startDripServer = async (everyMs: number) => {
    const timers = new Set<ReturnType<typeof setInterval>>();
    const server = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain' });
      const timer = setInterval(() => res.write('x'), everyMs);
      timers.add(timer);
      res.on('close', () => {
        clearInterval(timer);
        timers.delete(timer);
      });
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const { port } = server.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${port}/`,
      close: () =>
        new Promise<void>((ok) => {
          for (const timer of timers) clearInterval(timer);
          server.closeAllConnections();
          server.close(() => ok());
        }),
    };
  };

  it('a body dripped slower than the attempt timeout is cut by the overall deadline', async () => {
    // Each byte arrives well within bodyTimeout (the gap between chunks): only the overall deadline stops it.
    const drip = await startDripServer(20);
    const send = createUndiciSender({ allowPrivateNetwork: true });
    try {
      const started = performance.now();
      await expect(send(request(drip.url), { trusted: true, timeoutMs: 300 })).rejects.toThrow(/timeout/i);
      const elapsed = performance.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(290);
      // At most one sweep period (a tenth of the timeout here) late, plus scheduling slack.
      expect(elapsed).toBeLessThan(1500);
    } finally {
      await send.close();
      await drip.close();
    }
  });

  it('attempts in flight together each end once, whatever order they end in: by deadline or by answer', async () => {
    // The sweep keeps the attempts in flight in a list it walks and unlinks from: a dripping body
    // expires in a sweep (several in one), the others leave the list as their answers come, from
    // its head, middle and tail. Each settles exactly once, and the sweep still works afterwards.
    const server = createServer((req, res) => {
      req.resume();
      if (req.url === '/drip') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        const timer = setInterval(() => res.write('x'), 20);
        res.on('close', () => clearInterval(timer));
      } else if (req.url === '/late') setTimeout(() => res.end('late'), 100);
      else res.end('fast');
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const send = createUndiciSender({ allowPrivateNetwork: true });
    const round = (paths: readonly string[]) =>
      Promise.allSettled(
        paths.map((path) => send(request(`${url}${path}`), { trusted: true, timeoutMs: 400 })),
      );
    const outcome = (r: PromiseSettledResult<{ excerpt: string }>) =>
      r.status === 'fulfilled'
        ? r.value.excerpt
        : /timeout/i.test(String(r.reason))
          ? 'timeout'
          : String(r.reason);
    try {
      const paths = '/drip /fast /late /drip /fast /drip /late /fast /drip /late'.split(' ');
      const first = await round(paths);
      expect(first.map(outcome)).toEqual(paths.map((p) => (p === '/drip' ? 'timeout' : p.slice(1))));
      const second = await round(['/late', '/drip', '/fast']);
      expect(second.map(outcome)).toEqual(['late', 'timeout', 'fast']);
    } finally {
      await send.close();
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    }
  });

  it('a peer that never answers is cut by the headers timeout; the sender is usable afterwards', async () => {
    server.reply(() => new Promise<Reply>(() => {}));
    const send = createUndiciSender({ allowPrivateNetwork: true });
    try {
      await expect(send(request(`${server.url}/`), { trusted: true, timeoutMs: 200 })).rejects.toThrow(
        /timeout/i,
      );
      server.reply(() => ({ status: 204 }));
      const res = await send(request(`${server.url}/`), { trusted: true, timeoutMs: 2000 });
      expect(res).toMatchObject({ status: 204, excerpt: '' });
    } finally {
      await send.close();
    }
  });
});
