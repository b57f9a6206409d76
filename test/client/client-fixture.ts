import { createMeshClient, type MeshClientOptions } from '../../src/client/index.ts';
import type { MeshFetch } from '../../src/client/send-with-retries.ts';
import { PRODUCER_TOKEN, type TestMesh } from '../support/test-mesh.ts';

export const MESH_URL = 'http://mesh.test';

/** What the client put on the wire, as the server received it. */
export interface SentRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Headers;
  readonly body: unknown;
}

/** The real API in process, as the client's `fetch`. */
export function toMesh(mesh: TestMesh): MeshFetch {
  return (input, init) => mesh.app.fetch(new Request(input, init));
}

/**
 * A client over the test mesh with time and randomness injected: `sleeps` records every wait,
 * `sent` every request that reached `fetch`. `wrap` puts a fault between client and server.
 */
export function createClientFixture(
  mesh: TestMesh,
  options: Partial<MeshClientOptions> & { wrap?: (next: MeshFetch, call: number) => MeshFetch } = {},
) {
  const sleeps: number[] = [];
  const sent: SentRequest[] = [];
  const { wrap, ...clientOptions } = options;
  const server = toMesh(mesh);
  const fetch: MeshFetch = (input, init) => {
    const call = sent.length;
    sent.push({
      method: init.method ?? 'GET',
      url: input,
      headers: new Headers(init.headers),
      body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
    });
    return (wrap ? wrap(server, call) : server)(input, init);
  };
  const client = createMeshClient({
    url: MESH_URL,
    token: PRODUCER_TOKEN,
    fetch,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    ...clientOptions,
  });
  return { client, sleeps, sent };
}

/** Builds an order's data, typed as OrderCreated's input. */
export function order(id: string, total = 42.5) {
  return { order: { id, customerId: 'c-1', total, currency: 'EUR' } };
}

/** A problem+json answer as a proxy or the mesh might give it. */
export function answer(status: number, headers: Record<string, string> = {}, body = ''): Response {
  return new Response(body, { status, headers });
}
