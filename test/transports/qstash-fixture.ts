import type { AddressInfo } from 'node:net';
import { type ServerType, serve } from '@hono/node-server';
import { Client } from '@upstash/qstash';
import { expect } from 'vitest';
import type { OrderingKeyScope, OverduePublished, PublishQueue } from '../../src/core/publish-queue.ts';
import { signQStashJwt } from '../../src/core/signature.ts';
import { defineSubscription, type SubscriptionOptions } from '../../src/core/subscription.ts';
import { OrderCreatedV1, orderConverters } from '../../src/example/orders.ts';
import {
  createQStashReconciler,
  type QStashMessageReader,
  type QStashReconciler,
} from '../../src/transports/qstash-reconciler.ts';
import {
  createQStashTransport,
  type QStashPublisher,
  type QStashTransport,
} from '../../src/transports/qstash-transport.ts';
import {
  type LoopbackServer,
  type ReceivedRequest,
  type Reply,
  startLoopbackServer,
} from '../support/loopback-server.ts';
import { type QStashDouble, startQStashDouble } from '../support/qstash-double.ts';
import { ADMIN_TOKEN, createTestMesh, orderCreated, type TestMesh } from '../support/test-mesh.ts';

// The QStash transport's tests share this: the mesh's API over real loopback HTTP, a destination,
// the QStash double and the real `@upstash/qstash` Client, all on the mesh's manual clock.

export const TOKEN = 'qstash-token-0123456789abcdef';
export const KEY = 'sig_current_0123456789abcdef';
export const NEXT_KEY = 'sig_next_0123456789abcdef';
export const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

export interface Setup {
  readonly mesh: TestMesh;
  readonly q: QStashDouble;
  readonly destination: LoopbackServer;
  readonly transport: QStashTransport;
  /** The sweep's other half: asks QStash about deliveries it went silent about (grace 1 h, 40 a sweep). */
  readonly reconciler: QStashReconciler;
  /** Deliveries the reconciler found lost and made due for a new publish. */
  readonly lost: OverduePublished[];
  readonly client: Client;
  readonly callbackUrl: string;
  readonly hookUrl: string;
  readonly errors: unknown[];
  /** Every request that reached the mesh's callback route, and what the mesh answered. */
  readonly callbacks: { body: Record<string, unknown>; status: number }[];
  /** Answers a callback request itself (e.g. 503) instead of the mesh, while it returns a Response. */
  gate: ((body: Record<string, unknown>) => Response | null) | null;
  /**
   * With `publishNextOfKey`: each (subscription, key) a callback released, in order, and the
   * background publish it started (`transport.publishNext`), as the Worker wires it.
   */
  readonly released: { scope: OrderingKeyScope; publish: Promise<unknown> }[];
}

const cleanups: (() => Promise<void>)[] = [];

/** Closes what `setup` (and a test, through `onCleanup`) opened, last first: `afterEach(disposeAll)`. */
export async function disposeAll(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) await c();
}

/** Runs `cleanup` at the next `disposeAll`. */
export function onCleanup(cleanup: () => Promise<void>): void {
  cleanups.push(cleanup);
}

/**
 * The mesh's API served over real loopback HTTP (so the double can call the callback route back),
 * a destination server, the QStash double and the real `@upstash/qstash` Client, all on the mesh's
 * manual clock.
 */
export async function setup(
  reply: (req: ReceivedRequest, i: number) => Reply | Promise<Reply>,
  options: {
    sub?: SubscriptionOptions;
    wrapPublish?: (publish: PublishQueue) => PublishQueue;
    wrapClient?: (client: Client) => QStashPublisher;
    wrapReader?: (client: Client) => QStashMessageReader;
    maxMessageBytes?: number;
    /** Wires the callback route to `transport.publishNext`, as the Worker does (off: sweeps only). */
    publishNextOfKey?: boolean;
  } = {},
): Promise<Setup> {
  const destination = await startLoopbackServer(reply);
  onCleanup(() => destination.close());
  const hookUrl = `${destination.url}/webhooks/order.created.v1`;

  let ctx: Setup | undefined;
  const server: ServerType = await new Promise((resolve) => {
    const s = serve(
      {
        hostname: '127.0.0.1',
        port: 0,
        fetch: async (req) => {
          if (!ctx) return new Response(null, { status: 503 });
          let body: Record<string, unknown> = {};
          try {
            body = (await req.clone().json()) as Record<string, unknown>;
          } catch {
            // Not JSON: the route answers for itself.
          }
          const gated = ctx.gate?.(body) ?? null;
          const res = gated ?? (await ctx.mesh.app.fetch(req));
          ctx.callbacks.push({ body, status: res.status });
          return res;
        },
      },
      () => resolve(s),
    );
  });
  onCleanup(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  );
  const callbackUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/qstash/callback`;

  const mesh = await createTestMesh({
    definitions: {
      converters: orderConverters,
      subscriptions: [defineSubscription(OrderCreatedV1, hookUrl, { id: 'sub-1', ...options.sub })],
    },
    qstash: {
      signingKeys: { current: KEY, next: NEXT_KEY },
      callbackUrl,
      ...(options.publishNextOfKey
        ? {
            publishNextOfKey: (scope: OrderingKeyScope) => {
              if (!ctx) throw new Error('a callback before the fixture was set up');
              const publish = ctx.transport.publishNext(scope);
              ctx.released.push({ scope, publish });
              return publish;
            },
          }
        : {}),
    },
    ...(options.wrapPublish ? { wrapPublish: options.wrapPublish } : {}),
  });
  onCleanup(() => mesh.dispose());
  const q = await startQStashDouble({
    token: TOKEN,
    currentSigningKey: KEY,
    nextSigningKey: NEXT_KEY,
    clock: mesh.clock,
    ...(options.maxMessageBytes ? { maxMessageBytes: options.maxMessageBytes } : {}),
  });
  onCleanup(() => q.close());
  const client = new Client({ token: TOKEN, baseUrl: q.url, retry: false });
  const errors: unknown[] = [];
  const transport = createQStashTransport({
    queue: mesh.publish,
    client: options.wrapClient ? options.wrapClient(client) : client,
    callbackUrl,
    clock: mesh.clock,
    owner: 'test-publisher',
    onError: (e) => errors.push(e),
  });
  const lost: OverduePublished[] = [];
  const reconciler = createQStashReconciler({
    queue: mesh.publish,
    client: options.wrapReader ? options.wrapReader(client) : client,
    clock: mesh.clock,
    onLost: (d) => lost.push(d),
    onError: (e) => errors.push(e),
  });
  ctx = {
    mesh,
    q,
    destination,
    transport,
    reconciler,
    lost,
    client,
    callbackUrl,
    hookUrl,
    errors,
    callbacks: [],
    gate: null,
    released: [],
  };
  return ctx;
}

export interface DeliveryJson {
  id: string;
  status: string;
  nextAttemptAt: string | null;
  attempts: {
    number: number;
    at: string;
    status: number | null;
    durationMs: number;
    error: string | null;
    responseExcerpt: string | null;
  }[];
}

/** As the admin, who sees response excerpts and error texts (a producer sees them as null). */
export async function deliveryOf(mesh: TestMesh, eventId: string): Promise<DeliveryJson> {
  const res = await mesh.get(`/v1/events/${eventId}`, ADMIN_TOKEN);
  expect(res.status).toBe(200);
  const body = (await res.json()) as { integrationEvents: { deliveries: DeliveryJson[] }[] };
  return body.integrationEvents[0]!.deliveries[0]!;
}

export async function postEvent(mesh: TestMesh, id: string, init: Parameters<TestMesh['post']>[1] = {}) {
  const res = await mesh.post(orderCreated(id), init);
  expect(res.status).toBe(202);
  return (await res.json()) as { id: string; integrationEvents: { id: string }[] };
}

/** Lets the double run its schedule (deliveries, retries, callbacks) on the manual clock. */
export async function runQStash(s: Setup, maxSteps = 40): Promise<void> {
  for (let step = 0; step < maxSteps; step++) {
    await s.q.deliverDue();
    const next = s.q.nextDueAt();
    if (next === null) return;
    s.mesh.clock.set(Math.max(next, s.mesh.clock.now()));
  }
  throw new Error('the double still had messages due');
}

/** POSTs a callback body to the mesh over HTTP, signed as QStash would (or as told). */
export async function postCallback(
  s: Setup,
  body: unknown,
  sign: { key?: string; url?: string; none?: boolean } = {},
): Promise<Response> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (!sign.none) {
    headers['upstash-signature'] = await signQStashJwt({
      key: sign.key ?? KEY,
      url: sign.url ?? s.callbackUrl,
      body: text,
      nowMs: s.mesh.clock.now(),
    });
  }
  return fetch(s.callbackUrl, { method: 'POST', headers, body: text });
}

export const userMessages = (q: QStashDouble) => q.messages.filter((m) => m.kind === 'message');
