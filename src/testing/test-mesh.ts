import type {
  DomainEventInput,
  MeshClient,
  PublishItem,
  PublishManyResult,
  PublishOptions,
  PublishResult,
  RequestOptions,
} from '../client/mesh-client.ts';
import { createMeshClient } from '../client/mesh-client.ts';
import type { MeshEvent } from '../client/mesh-event.ts';
import { sendWithRetries } from '../client/send-with-retries.ts';
import { createManualClock } from '../core/clock.ts';
import type { DomainEventDefinition } from '../core/domain-event.ts';
import { DefinitionError } from '../core/errors.ts';
import type { IntegrationEventDefinition, IntegrationEventOf } from '../core/integration-event.ts';
import { type MeshDefinition, resolveMesh } from '../core/mesh-definition.ts';
import type { HandlerDefinition } from '../handler/define-handler.ts';
import type { Logger } from '../runtime/log.ts';
import { createMesh } from '../runtime/mesh.ts';
import { type MeshHandlers, resolveHandlers } from '../runtime/mesh-handlers.ts';
import { readMigrations } from '../runtime/migrations.ts';
import { openLibsql } from '../store/libsql-store.ts';
import { applyMigrations } from '../store/migrate.ts';
import { createSqlStores } from '../store/sql-stores.ts';
import { createDeliveryRunner, type DeliverOptions, type DrainOptions } from './delivery-runner.ts';
import { type Duration, toEpochMs, toMilliseconds } from './duration.ts';
import { createHandlerRunLog, type HandlerRun, selectRuns } from './handler-runs.ts';
import { createInProcessNetwork, type InProcessNetwork, type Interceptor } from './in-process-network.ts';
import {
  readDeliveries,
  type TestAttempt,
  type TestDelivery,
  type TestDeliveryFilter,
} from './test-views.ts';

export interface TestMeshOptions {
  /** The app's definitions (`defineMesh(...)`), or a function of `{ publicUrl }` returning them. */
  readonly mesh: MeshDefinition;
  /**
   * The consuming side: handlers answering `/webhooks/<type>` on every origin a subscription
   * points at (the mesh's own included), or a function of `{ publicUrl, producerToken, fetch }`
   * whose `fetch` reaches the mesh in process.
   */
  readonly handlers?: MeshHandlers;
  /** Where the clock starts (default 2026-01-01T00:00:00Z). It moves only when the test moves it. */
  readonly now?: Date | number;
  /** The producer `publish` posts as: the events' `source` (default `test`, `ce-source: /producers/test`). */
  readonly producer?: string;
  /**
   * Attempts made at once (default 1: deliveries are attempted one after another in the order they
   * fell due, so handler runs come in a stable order). Raise it to run handlers side by side.
   */
  readonly concurrency?: number;
  /** Receives the mesh's log lines (default: dropped). */
  readonly log?: Logger;
}

/** Which dead deliveries to replay: every field narrows. */
export interface ReplayFilter {
  /** An integration event type, or `prefix.*`. */
  readonly type?: string;
  readonly subscription?: string;
}

export interface TestMesh {
  /** The mesh's base URL on the in-process network (`http://mesh.test`). */
  readonly publicUrl: string;
  readonly producerToken: string;
  readonly adminToken: string;
  /** The mesh's API (a Hono app): `app.request(...)` as in any Hono test; bring a token. */
  readonly app: Awaited<ReturnType<typeof createMesh>>['app'];
  /** A `fetch` over the in-process network, interceptors included: the mesh and every handler route. */
  readonly fetch: typeof fetch;
  /**
   * Publishes a domain event through the real API as the test's producer — `hookmesh/client`'s
   * `publish`, without its retries: a refusal throws `MeshApiError` carrying the problem+json.
   * @example const { integrationEvents } = await t.publish(OrderCreated, { order }, { id: 'order-1' });
   */
  publish<TDef extends DomainEventDefinition>(
    definition: TDef,
    data: NoInfer<DomainEventInput<TDef>>,
    options?: PublishOptions,
  ): Promise<PublishResult>;
  /**
   * Publishes several events in one request, all or nothing (`hookmesh/client`'s `publishMany`).
   * @example await t.publishMany([{ event: OrderCreated, data: a }, { event: OrderCreated, data: b }]);
   */
  publishMany<const TDefs extends readonly DomainEventDefinition[]>(
    items: { readonly [K in keyof TDefs]: PublishItem<TDefs[K]> },
    options?: RequestOptions,
  ): Promise<PublishManyResult>;
  /**
   * Attempts every delivery due now through the real dispatcher, and again until nothing is due now
   * (a handler's follow-up event is due at once). Resolves when every attempt is recorded.
   * @example const attempts = await t.deliver(); expect(attempts.map((a) => a.outcome)).toEqual(['delivered']);
   */
  deliver(options?: DeliverOptions): Promise<TestAttempt[]>;
  /**
   * One step of the schedule: delivers what is due now, or — if nothing is — moves the clock to the
   * next scheduled attempt and delivers then. `[]` when nothing is scheduled at all.
   * @example await t.deliver(); const [retry] = await t.deliverNext(); // 12.18 s later
   */
  deliverNext(): Promise<TestAttempt[]>;
  /**
   * Delivers, moves the clock to the next scheduled attempt, and repeats until nothing is pending or
   * retrying: whole retry schedules played out in milliseconds.
   * @example await t.drain(); expect(await t.deliveries({ status: 'dead' })).toHaveLength(1);
   */
  drain(options?: DrainOptions): Promise<TestAttempt[]>;
  /** @example t.now().toISOString() */
  now(): Date;
  /**
   * Moves the clock forward; nothing is attempted until `deliver`.
   * @example t.advance({ seconds: 12 }); t.advance(182);
   */
  advance(by: Duration): Date;
  /**
   * Moves the clock forward to a point in time (never back).
   * @example t.advanceTo(new Date('2026-01-02T00:00:00Z'));
   */
  advanceTo(at: Date | number): Date;
  /**
   * When the earliest pending or retrying delivery is due; null when none is.
   * @example expect(await t.nextAttemptAt()).toEqual(new Date(t.now().getTime() + 12_182));
   */
  nextAttemptAt(): Promise<Date | null>;
  /**
   * Deliveries with their payloads and attempts, oldest first.
   * @example const [d] = await t.deliveries({ type: 'order.created.v1' }); expect(d!.attempts).toHaveLength(1);
   */
  deliveries(filter?: TestDeliveryFilter): Promise<TestDelivery[]>;
  /**
   * `GET /v1/events/:id` as the admin sees it (error texts and response excerpts included); null
   * for an unknown id.
   * @example expect((await t.event('order-1'))?.integrationEvents[0]?.deliveries[0]?.status).toBe('delivered');
   */
  event(id: string): Promise<MeshEvent | null>;
  /**
   * Replays one dead delivery (by id) or every dead one matching a filter, through the admin API;
   * resolves with how many moved back to `pending`. A delivered one cannot be replayed (409).
   * @example await t.replay({ type: 'order.created.v1' }); await t.deliver();
   */
  replay(target: string | ReplayFilter): Promise<number>;
  /**
   * The times handler code ran, in order — of one handler (typed by its event) or of all.
   * @example expect(t.runs(onOrderCreated).map((r) => r.event.data.orderId)).toEqual(['o-1']);
   */
  runs(): HandlerRun[];
  runs<TDef extends IntegrationEventDefinition>(
    handler: HandlerDefinition<TDef>,
  ): HandlerRun<IntegrationEventOf<TDef>>[];
  runs(handlerName: string): HandlerRun[];
  /**
   * Puts a function in front of every request on the in-process network (attempts, and handlers'
   * own requests): to drop an acknowledgement, take a service down, or look. Returns its remover.
   * @example const restore = t.intercept(() => Promise.reject(new TypeError('connect ECONNREFUSED')));
   */
  intercept(interceptor: Interceptor): () => void;
  /**
   * A request to the mesh (a path) or to any in-process origin (a URL), with the admin token unless
   * an `authorization` header is given. Not intercepted.
   * @example const res = await t.request('/v1/deliveries?status=dead');
   */
  request(path: string, init?: RequestInit): Promise<Response>;
  /** Waits for a delivery call in progress and closes the database. */
  close(): Promise<void>;
}

const PUBLIC_URL = 'http://mesh.test';
const DEFAULT_START = Date.UTC(2026, 0, 1);

let migrations: ReturnType<typeof readMigrations> | undefined;

/**
 * A whole mesh inside the test's process, built from the real parts: the API over an in-memory
 * libSQL database with the real migrations, the local dispatcher signing every attempt, and the
 * handlers behind real webhook apps (signature and schema checks, a memory inbox) — reached over an
 * in-process network. Time is a manual clock: retries happen when the test moves it. No server, no
 * ports, no sleeping.
 * @example
 * const t = await createTestMesh({ mesh, handlers: [onOrderCreated] });
 * await t.publish(OrderCreated, { order: { id: 'o-1', total: 42 } }, { id: 'order-1' });
 * await t.deliver();
 * expect(t.runs(onOrderCreated)).toHaveLength(1);
 * await t.close();
 */
export async function createTestMesh(options: TestMeshOptions): Promise<TestMesh> {
  const clock = createManualClock(toEpochMs(options.now ?? DEFAULT_START));
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new DefinitionError('concurrency must be a positive integer');
  }
  const producerToken = `test-producer-${randomText()}`;
  const adminToken = `test-admin-${randomText()}`;
  const signingKeys = { current: `sig_test_${randomText()}` };

  // An in-memory database lives on the connection that opened it; the libSQL client keeps exactly
  // one connection for `:memory:`, and every store here goes through that client. So each test
  // mesh has a database of its own, gone when it closes.
  const database = await openLibsql({ url: ':memory:' });
  try {
    migrations ??= readMigrations();
    await applyMigrations(database.driver, migrations);
    const stores = createSqlStores(database);
    const { app } = await createMesh({
      definitions: resolveMesh(options.mesh, { publicUrl: PUBLIC_URL }),
      events: stores.events,
      subscriptions: stores.subscriptions,
      deliveries: stores.deliveries,
      urlRules: { requireHttps: false, allowPrivateNetwork: true },
      tokens: { producers: [{ name: options.producer ?? 'test', token: producerToken }], admin: adminToken },
      clock,
      log: options.log ?? (() => {}),
    });

    const runLog = createHandlerRunLog(clock);
    // Handlers get the network's fetch before the network (which routes to them) exists.
    let network: InProcessNetwork | undefined;
    const networkFetch = ((input: RequestInfo | URL, init?: RequestInit) =>
      network!.fetch(input, init)) as typeof fetch;
    const handlers = resolveHandlers(options.handlers, {
      publicUrl: PUBLIC_URL,
      producerToken,
      fetch: networkFetch,
    });
    const net = createInProcessNetwork({
      publicUrl: PUBLIC_URL,
      api: app,
      handlers,
      signingKeys,
      clock,
      runs: runLog,
    });
    network = net;

    const runner = createDeliveryRunner({
      dispatch: stores.dispatch,
      deliveries: stores.deliveries,
      send: net.send,
      clock,
      signingKey: signingKeys.current,
      concurrency,
    });

    const request = (path: string, init: RequestInit = {}): Promise<Response> => {
      const headers = new Headers(init.headers);
      if (!headers.has('authorization')) headers.set('authorization', `Bearer ${adminToken}`);
      return net.serve(new Request(new URL(path, PUBLIC_URL), { ...init, headers }));
    };
    // The producer's own client, as a producing service uses it, minus retries: in one process a
    // refusal is the answer, never a blip.
    const clientOf = (token: string): MeshClient =>
      createMeshClient({
        url: PUBLIC_URL,
        token,
        fetch: (url, init) => net.serve(new Request(url, init)),
        retries: 0,
        now: clock.now,
      });
    const producer = clientOf(producerToken);
    const admin = clientOf(adminToken);
    const adminCall = (method: 'POST', path: string, body?: unknown) =>
      sendWithRetries(
        {
          method,
          url: `${PUBLIC_URL}${path}`,
          headers: new Headers({
            authorization: `Bearer ${adminToken}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          }),
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        },
        {
          fetch: (url, init) => net.serve(new Request(url, init)),
          retries: 0,
          timeoutMs: 10_000,
          baseDelayMs: 0,
          maxDelayMs: 0,
          sleep: () => Promise.resolve(),
          random: () => 0,
          now: clock.now,
        },
      );

    return {
      publicUrl: PUBLIC_URL,
      producerToken,
      adminToken,
      app,
      fetch: net.fetch,
      publish: (definition, data, publishOptions) => producer.publish(definition, data, publishOptions),
      publishMany: (items, requestOptions) => producer.publishMany(items, requestOptions),
      deliver: (deliverOptions) => runner.deliver(deliverOptions),
      deliverNext: () => runner.deliverNext(),
      drain: (drainOptions) => runner.drain(drainOptions),
      now: () => new Date(clock.now()),
      advance(by) {
        runner.advanceTo(clock.now() + toMilliseconds(by));
        return new Date(clock.now());
      },
      advanceTo(at) {
        runner.advanceTo(toEpochMs(at));
        return new Date(clock.now());
      },
      async nextAttemptAt() {
        const at = await runner.nextAttemptAt();
        return at === null ? null : new Date(at);
      },
      deliveries: (filter = {}) => readDeliveries(stores, filter),
      event: (id) => admin.getEvent(id),
      async replay(target) {
        if (typeof target === 'string') {
          const answer = await adminCall('POST', `/v1/deliveries/${encodeURIComponent(target)}/retry`);
          return answer.status === 202 ? 1 : 0;
        }
        const answer = await adminCall('POST', '/v1/deliveries/retry', { ...target, status: 'dead' });
        return (answer.body as { replayed: number }).replayed;
      },
      runs: ((handler?: HandlerDefinition | string) => selectRuns(runLog.runs, handler)) as TestMesh['runs'],
      intercept: (interceptor) => net.intercept(interceptor),
      request,
      async close() {
        await runner.stop();
        await database.driver.close();
      },
    };
  } catch (error) {
    await database.driver.close();
    throw error;
  }
}

/** 128 random bits, base64url: the tokens and signing key of one test mesh. */
function randomText(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes))
    .replaceAll('+', '-')
    .replaceAll('/', '_')
    .replace(/=+$/, '');
}
