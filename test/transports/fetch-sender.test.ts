import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DeliveryRequest } from '../../src/core/delivery-request.ts';
import { createFetchSender, type ResolveAddresses } from '../../src/transports/fetch-sender.ts';
import { type LoopbackServer, startLoopbackServer } from '../support/loopback-server.ts';

// The sender Deno delivers with (DESIGN "Trust": the connect-time check on every runtime that
// delivers itself). Only loopback listeners are ever reached; "public" addresses below are from
// the documentation ranges (RFC 5737, RFC 3849) and a fetch double stands in for the network.

const request = (url: string): DeliveryRequest => ({
  url,
  headers: { 'content-type': 'application/json', 'ce-id': 'ie-1' },
  body: '{"a":1}',
});

const untrusted = { trusted: false, timeoutMs: 2000 };

/** An injected resolver with a fixed table; unknown names do not resolve. Counts its calls. */
function tableResolver(table: Record<string, readonly string[]>): ResolveAddresses & { calls: string[] } {
  const calls: string[] = [];
  const resolve = async (hostname: string) => {
    calls.push(hostname);
    const addresses = table[hostname];
    if (addresses === undefined)
      throw Object.assign(new Error(`${hostname} not found`), { name: 'NotFound' });
    return addresses;
  };
  return Object.assign(resolve, { calls });
}

interface FetchCall {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly redirect: RequestRedirect | undefined;
}

/** A fetch that records what the sender asked for and answers 204 without touching the network. */
function recordingFetch(): typeof fetch & { calls: FetchCall[] } {
  const calls: FetchCall[] = [];
  const fake = async (input: string | URL | Request, init?: RequestInit) => {
    calls.push({
      url: String(input),
      headers: { ...(init?.headers as Record<string, string>) },
      redirect: init?.redirect,
    });
    return new Response(null, { status: 204 });
  };
  return Object.assign(fake as typeof fetch, { calls });
}

let server: LoopbackServer;
beforeEach(async () => {
  server = await startLoopbackServer(() => ({ status: 200, body: 'ok' }));
});
afterEach(async () => {
  await server.close();
});

describe('fetch sender — names are resolved and every address checked before connecting', () => {
  it('refuses a name that resolves to loopback, with zero connections to the listener', async () => {
    const resolve = tableResolver({
      'x.example': ['127.0.0.1'],
      'six.example': ['::1'],
      'mapped.example': ['::ffff:127.0.0.1'],
      // One bad address among good ones is enough: the OS may pick any of them.
      'mixed.example': ['192.0.2.10', '127.0.0.1'],
      'junk.example': ['not-an-address'],
      'empty.example': [],
    });
    const send = createFetchSender({ allowPrivateNetwork: false, resolve });
    for (const name of ['x.example', 'six.example', 'mapped.example', 'mixed.example']) {
      for (const scheme of ['http', 'https']) {
        const url = `${scheme}://${name}:${server.port}/hook`;
        await expect(send(request(url), untrusted), url).rejects.toThrow(/refused/);
      }
    }
    for (const name of ['junk.example', 'empty.example', 'unknown.example']) {
      const url = `http://${name}:${server.port}/hook`;
      await expect(send(request(url), untrusted), url).rejects.toThrow(/refused|resolve/);
    }
    // `localhost` is refused by its name, before any resolver is asked.
    await expect(send(request(`http://localhost:${server.port}/`), untrusted)).rejects.toThrow(/refused/);
    expect(resolve.calls).not.toContain('localhost');
    expect(server.connections).toBe(0);
    expect(server.requests).toHaveLength(0);
  });

  it('HOOKMESH_ALLOW_PRIVATE_NETWORK=true connects to a name resolving to loopback', async () => {
    const send = createFetchSender({ allowPrivateNetwork: true, resolve: tableResolver({}) });
    const res = await send(request(`http://localhost:${server.port}/hook`), untrusted);
    expect(res).toMatchObject({ status: 200, excerpt: 'ok' });
    expect(server.connections).toBe(1);
  });

  it('trusted (code-declared) subscriptions are not checked: no resolver call, and loopback is reached', async () => {
    const resolve = tableResolver({});
    const send = createFetchSender({ allowPrivateNetwork: false, resolve });
    const res = await send(request(`http://localhost:${server.port}/hook`), {
      trusted: true,
      timeoutMs: 2000,
    });
    expect(res.status).toBe(200);
    expect(resolve.calls).toEqual([]);
    expect(server.connections).toBe(1);
  });

  it('http: connects to the checked address itself, with the original Host header and no redirects', async () => {
    const resolve = tableResolver({
      'public.example': ['192.0.2.10', '198.51.100.7'],
      'v6.example': ['2001:db8::1'],
    });
    const doFetch = recordingFetch();
    const send = createFetchSender({ allowPrivateNetwork: false, resolve, fetch: doFetch });

    expect((await send(request('http://public.example:8080/hook?x=1'), untrusted)).status).toBe(204);
    expect(await send(request('http://v6.example/hook'), untrusted)).toMatchObject({ status: 204 });

    expect(doFetch.calls).toEqual([
      {
        url: 'http://192.0.2.10:8080/hook?x=1',
        headers: { 'content-type': 'application/json', 'ce-id': 'ie-1', host: 'public.example:8080' },
        redirect: 'manual',
      },
      {
        url: 'http://[2001:db8::1]/hook',
        headers: { 'content-type': 'application/json', 'ce-id': 'ie-1', host: 'v6.example' },
        redirect: 'manual',
      },
    ]);
  });

  it('https: checks every address, then connects by name (the certificate must match the name)', async () => {
    const resolve = tableResolver({ 'secure.example': ['192.0.2.10', '2001:db8::1'] });
    const doFetch = recordingFetch();
    const send = createFetchSender({ allowPrivateNetwork: false, resolve, fetch: doFetch });

    expect((await send(request('https://secure.example/hook'), untrusted)).status).toBe(204);

    expect(resolve.calls).toEqual(['secure.example']);
    expect(doFetch.calls).toEqual([
      {
        url: 'https://secure.example/hook',
        headers: { 'content-type': 'application/json', 'ce-id': 'ie-1' },
        redirect: 'manual',
      },
    ]);
  });

  it('literal public addresses need no resolver; without one (not Deno, none injected) a name is refused', async () => {
    const doFetch = recordingFetch();
    const send = createFetchSender({ allowPrivateNetwork: false, fetch: doFetch });
    expect((await send(request('http://192.0.2.10/hook'), untrusted)).status).toBe(204);
    await expect(send(request('https://public.example/hook'), untrusted)).rejects.toThrow(/cannot check/);
    expect(doFetch.calls.map((c) => c.url)).toEqual(['http://192.0.2.10/hook']);
  });

  it('a resolver that hangs is cut off by the attempt timeout', async () => {
    const send = createFetchSender({
      allowPrivateNetwork: false,
      resolve: () => new Promise(() => {}),
      fetch: recordingFetch(),
    });
    await expect(send(request('http://slow.example/'), { trusted: false, timeoutMs: 20 })).rejects.toThrow(
      /timed out|timeout|abort/i,
    );
  });

  it('never follows a redirect, checked or not', async () => {
    const target = await startLoopbackServer();
    server.reply(() => ({ status: 307, headers: { location: `${target.url}/stolen` } }));
    const send = createFetchSender({ allowPrivateNetwork: true });
    const res = await send(request(`${server.url}/`), untrusted);
    expect(res.status).toBe(307);
    expect(target.connections).toBe(0);
    await target.close();
  });
});
