import { createMeshClient, type MeshClient } from '../../src/client/index.ts';
import type { IntegrationEventOf } from '../../src/core/integration-event.ts';
import { defineSubscription } from '../../src/core/subscription.ts';
import { OrderCreatedV1, orderConverters } from '../../src/example/orders.ts';
import { createMemoryInbox, createWebhookApp, defineHandler } from '../../src/handler/index.ts';
import { createLocalDispatcher, type LocalDispatcher } from '../../src/transports/local-dispatcher.ts';
import { createUndiciSender } from '../../src/transports/undici-sender.ts';
import { createTestMesh, PRODUCER_TOKEN, type TestMesh } from '../support/test-mesh.ts';
import { type HttpService, startHttpService } from './otel.ts';

const KEY = 'sig_current_0123456789abcdef';

type OrderCreatedEvent = IntegrationEventOf<typeof OrderCreatedV1>;

/** What the handler service saw of one delivery. */
export interface Received {
  readonly event: OrderCreatedEvent;
  /** The `traceparent` header as it came over the wire. */
  readonly header: string | null;
}

export interface MeshAndService {
  readonly mesh: TestMesh;
  /** The mesh's API over real HTTP. */
  readonly api: HttpService;
  /** The consuming service (`createWebhookApp` on `@hono/node-server`), subscribed to order.created.v1. */
  readonly service: HttpService;
  readonly dispatcher: LocalDispatcher;
  /** A producer's client of the mesh, over real HTTP. */
  readonly client: MeshClient;
  readonly received: Received[];
  /** `POST /v1/events` over real HTTP, as a producer without a client would send it. */
  post(body: unknown, headers?: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

/**
 * The mesh (libSQL store, API on loopback HTTP, local dispatcher) and a consuming service in
 * another server: the dispatcher's attempts cross real HTTP, signed, to the handler SDK.
 */
export async function startMeshAndService(
  handle: (event: OrderCreatedEvent, call: number, client: MeshClient) => Promise<void> | void = () => {},
): Promise<MeshAndService> {
  const [api, service] = await Promise.all([startHttpService(), startHttpService()]);
  const mesh = await createTestMesh({
    definitions: {
      converters: orderConverters,
      subscriptions: [
        defineSubscription(OrderCreatedV1, `${service.url}/webhooks/order.created.v1`, { id: 'sub-1' }),
      ],
    },
  });
  api.serve((request) => mesh.app.fetch(request));
  const client = createMeshClient({ url: api.url, token: PRODUCER_TOKEN, retries: 0 });

  const received: Received[] = [];
  const billing = defineHandler(
    OrderCreatedV1,
    async (event) => {
      received.push({ event, header: headers.get(event.id) ?? null });
      await handle(event, received.length, client);
    },
    { name: 'billing' },
  );
  const webhooks = createWebhookApp({
    handlers: [billing],
    signingKeys: { current: KEY },
    inbox: createMemoryInbox(),
    publicUrl: service.url,
    // The mesh's clock signs, this one verifies: one manual clock for both.
    clock: mesh.clock,
  });
  // The header as it arrived, by `ce-id`: the handler is given a trace context, this is the wire's.
  const headers = new Map<string, string | null>();
  service.serve((request) => {
    headers.set(request.headers.get('ce-id') ?? '', request.headers.get('traceparent'));
    return webhooks.fetch(request);
  });

  const sender = createUndiciSender({ allowPrivateNetwork: true });
  const dispatcher = createLocalDispatcher({
    queue: mesh.dispatch,
    send: sender,
    clock: mesh.clock,
    signingKey: KEY,
    owner: 'tracing-test',
    leaseMs: 30_000,
    attemptTimeoutMs: 5_000,
  });

  return {
    mesh,
    api,
    service,
    dispatcher,
    client,
    received,
    post: (body, extra = {}) =>
      fetch(`${api.url}/v1/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${PRODUCER_TOKEN}`, 'content-type': 'application/json', ...extra },
        body: JSON.stringify(body),
      }),
    async close() {
      await dispatcher.stop();
      await sender.close();
      await Promise.all([api.close(), service.close()]);
      await mesh.dispose();
    },
  };
}

/** The traceparent the mesh stored with a domain event. */
export async function storedTraceparent(mesh: TestMesh, eventId: string): Promise<string | null> {
  const rows = await mesh.db.driver.query('SELECT traceparent FROM domain_events WHERE id = ?', [eventId]);
  return (rows[0]?.traceparent as string | null | undefined) ?? null;
}
