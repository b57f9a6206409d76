import type { ExecutionContext } from 'hono';
import { type Clock, systemClock } from '../core/clock.ts';
import { ConfigError } from '../core/errors.ts';
import { type MeshDefinition, resolveMesh } from '../core/mesh-definition.ts';
import type { LeasedForPublish, OrderingKeyScope } from '../core/publish-queue.ts';
import { runRetentionPass } from '../core/retention.ts';
import { createD1Inbox } from '../handler/d1-inbox.ts';
import type { Inbox } from '../handler/inbox.ts';
import { createWebhookApp } from '../handler/webhook-app.ts';
import type { D1Database, D1DriverOptions, D1Rider } from '../store/d1-driver.ts';
import { openD1 } from '../store/d1-store.ts';
import { MIGRATION_NAMES } from '../store/migration-names.ts';
import type { SqlDriver, SqlRow, SqlStatement } from '../store/sql-driver.ts';
import { createsDeliveries, fromLeaseForPublish, toLeaseForPublish } from '../store/sql-publish-queue.ts';
import { createSqlStores } from '../store/sql-stores.ts';
import { withStoreUnavailable } from '../store/store-unavailable.ts';
import { createQStashReconciler } from '../transports/qstash-reconciler.ts';
import { createQStashTransport, QSTASH_BATCH_LIMIT } from '../transports/qstash-transport.ts';
import { type MeshConfig, readConfig } from './config.ts';
import { consoleLogger, describeError, type Logger } from './log.ts';
import { createMesh } from './mesh.ts';
import { type MeshHandlers, resolveHandlers } from './mesh-handlers.ts';
import { isWebhookPath, pathOf } from './paths.ts';
import { resolveSecrets } from './secrets.ts';
import { createWorkerCodeSync } from './worker-code-sync.ts';
import type { WorkerDatabase, WorkerDatabaseOpener } from './worker-database.ts';
import { createWorkerQStashClient } from './worker-qstash-client.ts';

/** The bindings hookmesh reads: `DB` (D1) when bound, and vars/secrets as strings (DESIGN.md). */
export interface WorkerEnv {
  readonly DB?: D1Database;
  readonly [name: string]: unknown;
}

/** The parts of the Workers `ExecutionContext` and `ScheduledController` used here. */
export interface WorkerContext {
  waitUntil(promise: Promise<unknown>): void;
}

export interface WorkerScheduledEvent {
  readonly scheduledTime: number;
  readonly cron: string;
}

export interface CreateWorkerOptions {
  /** The app's definitions (`defineMesh`), or a function of `{ publicUrl }` returning them. */
  readonly mesh: MeshDefinition;
  /** Handlers served under `/webhooks/<type>` beside the API, or a function of the mesh's context. */
  readonly handlers?: MeshHandlers | undefined;
  /** One JSON line per record by default; never given secrets. */
  readonly log?: Logger | undefined;
  /**
   * Where the store lives when no D1 database is bound as `DB`: `libsqlOverHttp` (from
   * `hookmesh/worker`) for Turso or sqld. Opt-in, so a D1 Worker's bundle carries no libSQL client.
   */
  readonly database?: WorkerDatabaseOpener | undefined;
  /**
   * The isolate's bindings (`import { env } from 'cloudflare:workers'`): the mesh is then composed
   * while the module is evaluated — when the isolate starts, which Cloudflare does as a connection
   * opens, before its first request — instead of on the first request. Composing does no I/O, no
   * timer and draws nothing random, which global scope forbids. Requests are then served by that
   * mesh whatever `env` object they carry (an isolate has one set of bindings). Only with
   * `HOOKMESH_PUBLIC_URL` set: without it the mesh's URL is where its first request reached it.
   */
  readonly env?: WorkerEnv | undefined;
}

/** What `export default` hands the Workers runtime. */
export interface MeshWorker {
  fetch(request: Request, env: WorkerEnv, ctx: WorkerContext): Promise<Response>;
  scheduled(event: WorkerScheduledEvent, env: WorkerEnv, ctx: WorkerContext): Promise<void>;
}

/** The mesh as one isolate composes it for one `env`. */
interface WorkerMesh {
  /**
   * The API, the QStash callback and the handler routes. With `ctx`, the API may keep work going
   * past its answer (the callback route publishes the next delivery of an ordering key).
   */
  handle(request: Request, ctx?: WorkerContext): Promise<Response>;
  /**
   * Hands what is due to QStash after something was accepted: what ingests leased in their own
   * transactions, or (none leased) a lease of its own.
   */
  publishAccepted(): Promise<unknown>;
  /** The cron's work: the QStash sweep and a retention pass. */
  sweep(): Promise<void>;
}

/**
 * Settled events past the retention age go a few small batches on every cron tick (a cron's time is
 * short): 20 × 500 a minute is 600,000 events an hour, so a mesh taking 100 events/s (360,000 an
 * hour) stays bounded. A tick with nothing to purge costs one indexed query.
 */
const RETENTION_BATCHES = 20;

/**
 * The mesh as a Cloudflare Worker: on D1 (`env.DB`) or on libSQL over HTTP (`DATABASE_URL`
 * `libsql://` / `https://`), with the QStash transport (the default here). `fetch` serves the API,
 * the QStash callback and the handlers; `scheduled` (a cron) republishes what failed to publish
 * or what QStash finished without a word (its callbacks lost), and purges old rows. The Worker never migrates — `wrangler d1 migrations apply` does, from
 * `node_modules/hookmesh/migrations`. The mesh is composed on the first request (or, given `env`,
 * as the module is evaluated) and kept for the isolate's life, one per `env` object.
 * @example export default createWorker({ mesh, handlers: [onOrderCreated] });
 */
export function createWorker(options: CreateWorkerOptions): MeshWorker {
  const log = options.log ?? consoleLogger;
  const meshes = new WeakMap<object, Promise<WorkerMesh>>();
  // Composed as the module is evaluated, when the bindings are given (see `env`). One that failed
  // (a missing secret) is composed again by the next request, whose answer says why.
  let started: Promise<WorkerMesh> | null = null;
  if (options.env?.HOOKMESH_PUBLIC_URL) {
    const mesh = composeWorkerMesh(options.env, null, options, log);
    started = mesh;
    mesh.catch((error) => {
      log('error', 'the mesh could not start', describeError(error));
      started = null;
    });
  }

  const meshFor = (env: WorkerEnv, request: Request | null): Promise<WorkerMesh> => {
    if (started) return started;
    let mesh = meshes.get(env);
    if (!mesh) {
      mesh = composeWorkerMesh(env, request, options, log);
      meshes.set(env, mesh);
      // A failed start (database not migrated yet, a missing secret) is tried again next time.
      mesh.catch(() => meshes.delete(env));
    }
    return mesh;
  };

  return {
    async fetch(request, env, ctx) {
      let mesh: WorkerMesh;
      try {
        mesh = await meshFor(env, request);
      } catch (error) {
        log('error', 'the mesh could not start', describeError(error));
        return startFailure(error);
      }
      const response = await mesh.handle(request, ctx);
      if (mayHaveAccepted(request, response)) {
        ctx.waitUntil(
          afterAnswer()
            .then(() => mesh.publishAccepted())
            .catch((error) => log('error', 'publish failed', describeError(error))),
        );
      }
      return response;
    },

    async scheduled(_event, env, ctx) {
      try {
        const mesh = await meshFor(env, null);
        ctx.waitUntil(mesh.sweep().catch((error) => log('error', 'sweep failed', describeError(error))));
      } catch (error) {
        log('error', 'the mesh could not start', describeError(error));
        throw error;
      }
    },
  };
}

async function composeWorkerMesh(
  env: WorkerEnv,
  request: Request | null,
  options: CreateWorkerOptions,
  log: Logger,
): Promise<WorkerMesh> {
  const vars = toVars(env);
  const config = readConfig(vars, { transport: 'qstash' });
  if (config.transport !== 'qstash') {
    throw new ConfigError(
      'HOOKMESH_TRANSPORT=local runs on Node and Deno; the Worker delivers through QStash',
    );
  }
  // No dev secrets on a Worker (no file to keep them in, and isolates would each make their own).
  const secrets = resolveSecrets(config, null);
  // QStash calls back there and self-addressed subscriptions point there. Outside production it may
  // be left unset: it is then where the Worker was first reached (`wrangler dev`).
  if (config.production && !vars.HOOKMESH_PUBLIC_URL) {
    throw new ConfigError('HOOKMESH_PUBLIC_URL is required in production (QStash calls back there)');
  }
  const publicUrl = vars.HOOKMESH_PUBLIC_URL
    ? config.publicUrl
    : request
      ? new URL(request.url).origin
      : config.publicUrl;
  if (!config.qstash.token)
    throw new ConfigError('QSTASH_TOKEN is required: the Worker publishes through QStash');
  const callbackUrl = `${publicUrl}/v1/qstash/callback`;
  const clock = systemClock;
  // Names this isolate's leases: the transport's passes and the ingests' (createIngestLeases).
  // Drawn on first use: composing may run in global scope, where randomness is refused.
  let isolateName: string | undefined;
  const isolate = () => {
    isolateName ??= `worker-${crypto.randomUUID()}`;
    return isolateName;
  };
  const ingestLeases = createIngestLeases(isolate, clock);
  const database = openWorkerDatabase(env, config, options.database, ingestLeases.rider);
  // Typed "cannot write now" errors below the sync, so the sync's own statements get them too.
  const driver = withStoreUnavailable(database.driver);
  // No database round trip while composing: the code subscriptions' sync rides on the isolate's
  // first database call that is not /healthz (see createWorkerCodeSync).
  const sync = createWorkerCodeSync(driver);
  // The definitions' type names, presumed in `event_types` (filled below, once the registry is
  // made): an ingest inserts no type rows, which an isolate would otherwise send with its every
  // ingest (its stores are per request). A type missing there costs its first batch one retry.
  const knownTypes = new Set<string>();
  const stores = createSqlStores({ driver: sync.driver }, { writesPerRequest: true, knownTypes });
  const health = createHealthCheck(driver);

  const { app: api, registry } = await createMesh({
    definitions: resolveMesh(options.mesh, { publicUrl }),
    // /healthz reads past the sync: it must answer on a database wrangler has not migrated yet.
    events: { ...stores.events, ping: health.ping },
    subscriptions: { ...stores.subscriptions, syncCodeSubscriptions: sync.syncCodeSubscriptions },
    deliveries: stores.deliveries,
    urlRules: { requireHttps: config.production, allowPrivateNetwork: config.allowPrivateNetwork },
    tokens: { producers: secrets.producers, admin: secrets.adminToken },
    clock,
    log,
    ready: health.ready,
    // QStash reports every attempt here; the signature's subject must be this exact URL. A callback
    // that settles the head of an ordering key publishes the next of that key in its waitUntil,
    // not at the next cron tick (a minute later); if that fails, the cron still will.
    qstash: {
      signingKeys: secrets.signingKeys,
      callbackUrl,
      queue: stores.publish,
      publishNextOfKey: (scope) =>
        qstashParts()
          .publishNext(scope)
          .catch((error) => log('error', 'publish failed', describeError(error))),
    },
    // The store's gauges only: a scrape reaches one isolate of many, each with counters of its own
    // that start over whenever it is evicted, which would read as endless counter resets.
    metrics: { store: stores.metrics, token: config.metricsToken },
    dashboard: { eventSearch: stores.eventSearch, gauges: stores.metrics },
  });

  for (const name of registry.domainEvents.keys()) knownTypes.add(name);
  for (const name of registry.integrationEvents.keys()) knownTypes.add(name);

  // The QStash side is made on first use — after the first answer (in its waitUntil) or in a
  // cron — not while composing: the client, the transport and the reconciler are a few
  // milliseconds of a new isolate that no response needs to wait for. Values, not promises.
  let qstash:
    | {
        publishDue(): Promise<unknown>;
        publishNext(scope: OrderingKeyScope): Promise<unknown>;
        publishLeased(leased: readonly LeasedForPublish[], owner: string): Promise<unknown>;
        reconcile(): Promise<unknown>;
      }
    | undefined;
  const qstashParts = () => {
    if (qstash) return qstash;
    // No retries inside: a failed publish is simply due again (with back-off) at the next sweep, an
    // unanswered question asked again later; retrying inside one waitUntil would only hold its
    // context open.
    const client = createWorkerQStashClient({ token: config.qstash.token ?? '', baseUrl: config.qstash.url });
    const transport = createQStashTransport({
      queue: stores.publish,
      client,
      callbackUrl,
      clock,
      owner: isolate(),
      onError: (error) => log('error', 'qstash publish failed', describeError(error)),
    });
    const reconciler = createQStashReconciler({
      queue: stores.publish,
      client,
      clock,
      onLost: (lost) =>
        log('warn', 'qstash no longer has a message and never reported its outcome: publishing it again', {
          deliveryId: lost.deliveryId,
          messageId: lost.messageId,
        }),
      onError: (error) => log('error', 'qstash message check failed', describeError(error)),
    });
    qstash = {
      publishDue: () => transport.publishDue(),
      publishNext: (scope) => transport.publishNext(scope),
      publishLeased: (leased, owner) => transport.publishLeased(leased, owner),
      reconcile: () => reconciler.reconcile(),
    };
    return qstash;
  };
  const publishDue = () => qstashParts().publishDue();
  const publishAccepted = async () => {
    const taken = ingestLeases.take();
    // Nothing leased by an ingest (a replay, or another request's publish took it): a lease of its own.
    if (taken === null) return publishDue();
    for (const { leased, owner } of taken.leases) await qstashParts().publishLeased(leased, owner);
    // A lease is ≤ one QStash batch: a full one may have left more due behind it.
    if (taken.full) await publishDue();
  };

  let handle: (request: Request, ctx?: WorkerContext) => Promise<Response>;
  // A handler may post follow-up events to the mesh. Requests to the mesh's own URL are answered in
  // this isolate: a Worker's subrequest to its own hostname does not reach it.
  const selfFetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const outgoing = new Request(input, init);
    return outgoing.url.startsWith(`${publicUrl}/`) ? handle(outgoing) : fetch(outgoing);
  }) as typeof fetch;
  // The handler routes are made on the first request to one: an isolate that only ingests never
  // builds them. A value, not a promise, so no request awaits another's.
  let webhooks: { fetch(request: Request): Response | Promise<Response> } | null | undefined;
  const webhooksApp = () => {
    if (webhooks !== undefined) return webhooks;
    const handlers = resolveHandlers(options.handlers, {
      publicUrl,
      producerToken: secrets.producers[0]!.token,
      fetch: selfFetch,
    });
    webhooks =
      handlers.length > 0
        ? createWebhookApp({
            handlers,
            signingKeys: secrets.signingKeys,
            inbox: database.inbox(),
            publicUrl,
            clock,
            onError: (error, ctx) => log('error', 'handler failed', { ...describeError(error), ...ctx }),
          })
        : null;
    return webhooks;
  };
  handle = async (request, ctx) => {
    const app = options.handlers !== undefined && isWebhookPath(request.url) ? webhooksApp() : null;
    if (app) return app.fetch(request);
    return ctx ? api.fetch(request, undefined, toExecutionContext(ctx)) : api.fetch(request);
  };

  const { retention } = stores;
  const sweep = async () => {
    // Deliveries QStash has been silent about past their expected report: asked about, and those
    // it no longer has are pending again, to be published just below.
    await qstashParts()
      .reconcile()
      .catch((error) => log('error', 'qstash reconcile failed', describeError(error)));
    // Whatever the waitUntil after an ingest missed (QStash down, an isolate evicted) goes now.
    await publishDue();
    if (config.retentionDays > 0) {
      const before = clock.now() - config.retentionDays * 86_400_000;
      await runRetentionPass(retention, { before, maxBatches: RETENTION_BATCHES });
    }
  };

  // No "composed" log line: an isolate's first console.log costs ~2 ms of CPU (workerd sets up its
  // formatter then), paid by the first request of every isolate, for a line the platform's own
  // logs already imply.
  return { handle, publishAccepted, sweep };
}

/**
 * `/healthz` on a Worker: one query while the migrations are not known to be applied (the list of
 * applied ones, which also shows the database answers), `SELECT 1` once they are. It reads past the
 * code subscriptions' sync, which needs the tables the migrations make.
 */
function createHealthCheck(driver: SqlDriver) {
  let migrated = false;
  // Applied migrations seen by the ping of the request now asking `ready` (they are asked in turn).
  let seen: ReadonlySet<string> | null = null;
  const readApplied = async (): Promise<ReadonlySet<string>> => {
    try {
      return new Set((await driver.query('SELECT name FROM d1_migrations')).map((r) => String(r.name)));
    } catch (error) {
      // No table yet: the database answers, nothing is applied. Anything else is a failure.
      if (/no such table/i.test(String((error as Error)?.message ?? error))) return new Set();
      throw error;
    }
  };
  return {
    async ping() {
      if (migrated) await driver.query('SELECT 1');
      else seen = await readApplied();
      // Reads still answer on a full disk: the writes that failed tell.
      const failure = driver.writeFailure?.();
      if (failure) throw failure;
    },
    /** Ready once wrangler has recorded every migration the bundle knows; remembered once true. */
    async ready() {
      if (migrated) return true;
      const applied = seen ?? (await readApplied());
      seen = null;
      migrated = MIGRATION_NAMES.every((name) => applied.has(name));
      return migrated;
    },
  };
}

/** The Worker's database as composition takes it: the inbox made on demand. */
interface OpenedDatabase {
  /** On D1 with `queryAfter`: statements then a query in one transaction and one round trip. */
  readonly driver: SqlDriver;
  /** The handlers' inbox, made with the first handler route (once per isolate). */
  inbox(): Inbox;
}

function openWorkerDatabase(
  env: WorkerEnv,
  config: MeshConfig,
  open: WorkerDatabaseOpener | undefined,
  rider: D1DriverOptions['rider'],
): OpenedDatabase {
  const d1 = env.DB;
  if (d1) return { driver: openD1(d1, { rider }).driver, inbox: () => createD1Inbox(d1) };
  if (!open) {
    throw new ConfigError(
      'the Worker needs a D1 binding named DB (or createWorker({ database: libsqlOverHttp }) with DATABASE_URL for Turso/sqld)',
    );
  }
  const opened: WorkerDatabase = open(config);
  return { driver: opened.driver, inbox: () => opened.inbox };
}

/** How long an ingest's lease holds what it leased: as long as a publish pass's (the transport's default). */
const INGEST_LEASE_MS = 30_000;
/** An ingest's lease with less than this left is left to run out (the sweep publishes): a publish may take 10 s. */
const INGEST_LEASE_MARGIN_MS = 15_000;

/**
 * Publishing what an ingest made due without a round trip of its own (on D1): the ingest's write
 * batch ends with `publishDue`'s lease (`toLeaseForPublish`: every due delivery, not only the new
 * ones, ≤ one QStash batch), in the same transaction, and its rows wait here — plain values, no
 * promise, so any request's waitUntil may publish them — until the waitUntil after the answer
 * takes them (`take`). The 202 still means what it meant: the event and its deliveries are in D1.
 * What is leased and never published (the isolate evicted, QStash down) is due again once the
 * lease ran out: the cron's sweep publishes it, as any publish pass that did not finish.
 *
 * Not before the isolate's first publish: the first answer is the isolate's cold start, and the
 * lease is the batch's costliest statement (a few KiB of SQL D1 prepares, ~1 ms in miniflare), its
 * rows the first run of their code — none of it needed to answer. That waitUntil leases on its own
 * (`take` answers null: `publishDue`), one round trip more, after the answer; ingests after it
 * carry the lease.
 */
function createIngestLeases(isolate: () => string, clock: Clock) {
  // The lease's rows as D1 answered them: made into deliveries by `take`, in the waitUntil, so the
  // answer waits for no more than the batch (on a new isolate that code's first run is ~1 ms).
  let leases: { readonly rows: SqlRow[]; readonly owner: string; readonly until: number }[] = [];
  let full = false;
  let count = 0;
  /** False until the first waitUntil after an ingest took what was leased (nothing: it leased itself). */
  let riding = false;
  return {
    rider(statements: readonly SqlStatement[]): D1Rider | null {
      if (!riding || !createsDeliveries(statements)) return null;
      const owner = `${isolate()}/ingest-${++count}`;
      const now = clock.now();
      return {
        statement: toLeaseForPublish({ owner, now, leaseMs: INGEST_LEASE_MS, limit: QSTASH_BATCH_LIMIT }),
        took(rows) {
          // Kept even when empty: nothing was due then, so the waitUntil has nothing to lease.
          leases.push({ rows, owner, until: now + INGEST_LEASE_MS });
          if (rows.length >= QSTASH_BATCH_LIMIT) full = true;
        },
      };
    },
    /** What ingests leased since the last call (null if none ran), minus leases too close to their end. */
    take(): { leases: { leased: LeasedForPublish[]; owner: string }[]; full: boolean } | null {
      riding = true;
      if (leases.length === 0 && !full) return null;
      const deadline = clock.now() + INGEST_LEASE_MARGIN_MS;
      const kept = leases.filter((l) => l.until >= deadline);
      const taken = {
        leases: kept.map((l) => ({ leased: fromLeaseForPublish(l.rows), owner: l.owner })),
        full,
      };
      leases = [];
      full = false;
      return taken;
    },
  };
}

/**
 * Hono's `ExecutionContext` (`c.executionCtx`) over the Worker's context: only `waitUntil` is used.
 * The Worker's own object is one already; this keeps `WorkerContext` the one method hookmesh needs.
 */
function toExecutionContext(ctx: WorkerContext): ExecutionContext {
  return {
    waitUntil: (promise) => ctx.waitUntil(promise),
    passThroughOnException: () => {},
    props: undefined,
  };
}

/** Worker vars and secrets are strings; bindings (D1, services) are objects and are left out. */
function toVars(env: WorkerEnv): Record<string, string | undefined> {
  const vars: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(env)) if (typeof value === 'string') vars[name] = value;
  return vars;
}

/**
 * Something new may be due for publishing: an accepted POST /v1/events, a replay (POST
 * /v1/deliveries/…/retry), or a handler run (the example's handlers post events in-process).
 */
function mayHaveAccepted(request: Request, response: Response): boolean {
  if (request.method !== 'POST') return false;
  if (isWebhookPath(request.url)) return response.ok;
  const path = pathOf(request.url);
  return response.status === 202 && (path === '/v1/events' || path.startsWith('/v1/deliveries/'));
}

/**
 * How long the work after an answer (its publish) waits before starting. On the next turn of the
 * event loop (a 0 ms timer) part of it ran before the runtime had handed the answer on, on the
 * thread that sends it (on a new isolate that publish first builds the QStash client and
 * transport). bench:worker against a 0 ms timer, same rounds: the CPU after the first answer
 * +2–3 ms (work no longer in the answer's time), the warm POST 1.0–1.8 ms lower in every run; the
 * first POST −3.5 to +1.4 ms over seven runs (5, 10, 20 or 100 ms here), within that bench's
 * noise. A few milliseconds are nothing beside QStash's own latency, and what an ingest leased
 * stays leased for 30 s.
 */
const AFTER_ANSWER_MS = 10;

/** Resolves once the runtime has had time to send the answer (see `AFTER_ANSWER_MS`). */
function afterAnswer(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, AFTER_ANSWER_MS));
}

function startFailure(error: unknown): Response {
  // Configuration messages name variables, never their values; anything else stays in the log.
  const detail = error instanceof ConfigError ? error.message : 'the mesh could not start; see the logs';
  const body = {
    type: 'urn:hookmesh:problem:unavailable',
    title: 'Service unavailable',
    status: 503,
    detail,
  };
  return new Response(JSON.stringify(body), {
    status: 503,
    headers: { 'content-type': 'application/problem+json', 'retry-after': '5' },
  });
}
