/**
 * Run by `deno` from test/transports/fetch-sender.deno.test.ts: exercises the fetch sender under
 * the real runtime (`Deno.resolveDns`, `Deno.createHttpClient({ allowHost })`) against a loopback
 * listener the Node test owns, and prints one JSON line of outcomes. Not a test file itself.
 */
import type { DeliveryRequest } from '../../src/core/delivery-request.ts';
import { createFetchSender, type ResolveAddresses } from '../../src/transports/fetch-sender.ts';

/** The few Deno APIs this script uses (the repository's tsc runs with Node types only). */
declare const Deno: {
  readonly args: readonly string[];
  hostname(): string;
  resolveDns(query: string, recordType: 'A'): Promise<string[]>;
};

const port = Number(Deno.args[0]);
const request = (url: string): DeliveryRequest => ({
  url,
  headers: { 'content-type': 'application/json' },
  body: '{"probe":true}',
});
const untrusted = { trusted: false, timeoutMs: 5000 };

async function outcome(run: () => Promise<{ status: number }>): Promise<string> {
  try {
    return `status ${(await run()).status}`;
  } catch (error) {
    return `error ${(error as Error).message}`;
  }
}

const table: Record<string, readonly string[]> = {
  'x.example': ['127.0.0.1'],
  'public.example': ['192.0.2.10'],
};
const resolve: ResolveAddresses = async (hostname) => table[hostname] ?? [];
// Stands in for the network route to the "public" address: whatever the sender asked for, with
// the same init (the allowHost client included), goes to the loopback listener instead.
const routeToLoopback: typeof fetch = (input, init) =>
  fetch(String(input).replace('192.0.2.10', '127.0.0.1'), init);

const results: Record<string, string> = {};
// The default resolver is Deno.resolveDns: a name of this machine that resolves to loopback is
// refused (checked only when it does resolve to loopback here, e.g. through /etc/hosts).
const own = Deno.hostname();
const ownAddresses = await Deno.resolveDns(own, 'A').catch(() => [] as string[]);
if (ownAddresses.length > 0 && ownAddresses.every((a) => a.startsWith('127.'))) {
  results.ownName = await outcome(() =>
    createFetchSender({ allowPrivateNetwork: false })(request(`http://${own}:${port}/own`), untrusted),
  );
}
results.unresolvable = await outcome(() =>
  createFetchSender({ allowPrivateNetwork: false })(request(`http://x.invalid:${port}/nx`), untrusted),
);
results.localhost = await outcome(() =>
  createFetchSender({ allowPrivateNetwork: false })(request(`http://localhost:${port}/l`), untrusted),
);
results.injectedLoopback = await outcome(() =>
  createFetchSender({ allowPrivateNetwork: false, resolve })(
    request(`http://x.example:${port}/x`),
    untrusted,
  ),
);
results.injectedLoopbackHttps = await outcome(() =>
  createFetchSender({ allowPrivateNetwork: false, resolve })(
    request(`https://x.example:${port}/x`),
    untrusted,
  ),
);
results.pinned = await outcome(() =>
  createFetchSender({ allowPrivateNetwork: false, resolve, fetch: routeToLoopback })(
    request(`http://public.example:${port}/pinned`),
    untrusted,
  ),
);
results.allowed = await outcome(() =>
  createFetchSender({ allowPrivateNetwork: true })(request(`http://localhost:${port}/allowed`), untrusted),
);
console.log(JSON.stringify(results));
