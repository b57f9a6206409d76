import { Agent, request } from 'undici';
import { ADMIN_TOKEN, PRODUCER_TOKEN } from './delivery-fixture.ts';

// The harness's HTTP calls: the mesh's public API (admin, producer) and the sink's control routes.
// undici over one keep-alive agent, so the client adds little to the latencies it measures.

const agent = new Agent({ keepAliveTimeout: 30_000, connections: 16 });

export interface SinkStats {
  /** POSTs received since the last reset. */
  count: number;
  /** Of which on `/latency…` paths. */
  latencyCount: number;
  /** Arrival of the first and the last, epoch ms (performance.timeOrigin + performance.now()). */
  first: number;
  last: number;
  /** Distinct deliveries (path and `ce-id`) seen outside `/hook` and `/latency…`. */
  distinct: number;
}

export async function closeClients(): Promise<void> {
  await agent.close();
}

/** `POST /v1/subscriptions` with the admin token; returns the subscription id. */
export async function createSubscription(
  meshUrl: string,
  type: string,
  url: string,
  /** More subscription fields (DESIGN "Delivery control"), e.g. `{ maxConcurrency: 64 }`. */
  fields: Record<string, unknown> = {},
): Promise<string> {
  const { status, body } = await call(`${meshUrl}/v1/subscriptions`, 'POST', ADMIN_TOKEN, {
    ...fields,
    type,
    url,
  });
  if (status !== 201) throw new Error(`POST /v1/subscriptions answered ${status}: ${JSON.stringify(body)}`);
  return String((body as { id: unknown }).id);
}

/** `POST /v1/events` with the producer token; throws unless 202. */
export async function postEvents(meshUrl: string, events: unknown): Promise<unknown> {
  const { status, body } = await call(`${meshUrl}/v1/events`, 'POST', PRODUCER_TOKEN, events);
  if (status !== 202) throw new Error(`POST /v1/events answered ${status}: ${JSON.stringify(body)}`);
  return body;
}

/**
 * One event, timed: `sentAt` just before the request leaves, `answeredAt` when the response
 * headers arrive (both `performance.timeOrigin + performance.now()`).
 */
export async function postEventTimed(
  meshUrl: string,
  event: unknown,
): Promise<{ sentAt: number; answeredAt: number; integrationEventIds: string[] }> {
  const payload = JSON.stringify(event);
  const sentAt = now();
  const response = await request(`${meshUrl}/v1/events`, {
    method: 'POST',
    dispatcher: agent,
    headers: { authorization: `Bearer ${PRODUCER_TOKEN}`, 'content-type': 'application/json' },
    body: payload,
  });
  const answeredAt = now();
  const body = (await response.body.json()) as { integrationEvents?: { id: string }[] };
  if (response.statusCode !== 202) {
    throw new Error(`POST /v1/events answered ${response.statusCode}: ${JSON.stringify(body)}`);
  }
  return { sentAt, answeredAt, integrationEventIds: (body.integrationEvents ?? []).map((ie) => ie.id) };
}

export async function sinkStats(sinkUrl: string): Promise<SinkStats> {
  return (await call(`${sinkUrl}/stats`, 'GET', null)).body as SinkStats;
}

export async function resetSink(sinkUrl: string): Promise<void> {
  await call(`${sinkUrl}/reset`, 'GET', null);
}

/** When the sink received the delivery with this `ce-id` on a `/latency…` path (waits up to 10 s). */
export async function arrivalOf(sinkUrl: string, ceId: string): Promise<number> {
  const { status, body } = await call(`${sinkUrl}/wait/${encodeURIComponent(ceId)}`, 'GET', null);
  if (status !== 200)
    throw new Error(`the delivery of ${ceId} never reached the sink: ${JSON.stringify(body)}`);
  return (body as { at: number }).at;
}

export function now(): number {
  return performance.timeOrigin + performance.now();
}

async function call(
  url: string,
  method: 'GET' | 'POST',
  token: string | null,
  json?: unknown,
): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (json !== undefined) headers['content-type'] = 'application/json';
  const response = await request(url, {
    method,
    dispatcher: agent,
    headers,
    ...(json === undefined ? {} : { body: JSON.stringify(json) }),
  });
  const text = await response.body.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text for the error message
  }
  return { status: response.statusCode, body };
}
