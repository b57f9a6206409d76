import type { Clock } from '../core/clock.ts';
import type { QStashSigner } from '../core/delivery-request.ts';
import type { EventStore } from '../core/event-store.ts';
import type { HttpSender } from '../core/http-sender.ts';
import { createMeshMetrics, toAttemptOutcomeLabel } from '../core/metrics.ts';
import type { MeshDefinitions } from '../core/registry.ts';
import {
  LOCAL_RETENTION_BATCH,
  nextRetentionDelay,
  pauseForLockShare,
  RETENTION_EVERY_MS,
  RETENTION_LOCK_SHARE,
  runRetentionPass,
} from '../core/retention.ts';
import type { HandlerDefinition } from '../handler/define-handler.ts';
import type { Inbox } from '../handler/inbox.ts';
import { createWebhookApp } from '../handler/webhook-app.ts';
import { toAcceptedAt } from '../store/sql-metrics.ts';
import type { SqlStores } from '../store/sql-stores.ts';
import { createLocalDispatcher, type LocalDispatcher } from '../transports/local-dispatcher.ts';
import type { MeshConfig } from './config.ts';
import { createFailureLog, describeError, type Logger } from './log.ts';
import { createMesh } from './mesh.ts';
import { isWebhookPath, pathOf } from './paths.ts';
import type { MeshSecrets } from './secrets.ts';

export interface LocalMeshInput {
  readonly config: MeshConfig;
  readonly secrets: MeshSecrets;
  /** The mesh's base URL as handlers and callbacks reach it (the listening address when not configured). */
  readonly publicUrl: string;
  readonly stores: SqlStores;
  /** The handlers' inbox; required when there are handlers. */
  readonly inbox: Inbox | null;
  readonly definitions: MeshDefinitions;
  /** Handlers this process serves under `/webhooks/<type>`. */
  readonly handlers: readonly HandlerDefinition[];
  readonly send: HttpSender;
  /** A faster token minter for this runtime, if it has one. */
  readonly sign?: QStashSigner;
  readonly clock: Clock;
  readonly log: Logger;
  /** A name for this process's leases (host, pid, a random part). */
  readonly owner: string;
}

export interface LocalMesh {
  readonly fetch: (request: Request) => Response | Promise<Response>;
  readonly dispatcher: LocalDispatcher | null;
  /** The domain event types the mesh accepts. */
  readonly domainTypes: readonly string[];
  /** Stops dispatching and waits for attempts in flight to be recorded. */
  stop(): Promise<void>;
}

/**
 * The mesh on a libSQL database with the local transport — what Node and Deno both run. The role
 * decides what this process does: `api` serves the API (and handlers), `dispatcher` only delivers,
 * `all` does both and wakes its dispatcher the moment an event is accepted.
 */
export async function createLocalMesh(input: LocalMeshInput): Promise<LocalMesh> {
  const { config, secrets, stores, clock, log } = input;
  const servesApi = config.role !== 'dispatcher';
  const delivers = config.role !== 'api';
  // This process's counters for `GET /metrics`: what its API accepted and its dispatcher attempted.
  const metrics = createMeshMetrics();

  const logDispatcherFailure = createFailureLog(log);
  const dispatcher = delivers
    ? createLocalDispatcher({
        queue: stores.dispatch,
        send: input.send,
        clock,
        signingKey: secrets.signingKeys.current,
        ...(input.sign ? { sign: input.sign } : {}),
        owner: input.owner,
        leaseMs: config.leaseMs,
        attemptTimeoutMs: config.attemptTimeoutMs,
        onError: (error) => logDispatcherFailure('dispatcher error', error),
        onAttempt: (delivery, record) => {
          const acceptedAt = toAcceptedAt(delivery.id);
          metrics.observeAttempt({
            outcome: toAttemptOutcomeLabel(record.next),
            durationMs: record.durationMs,
            ...(acceptedAt === null ? {} : { latencyMs: record.at + record.durationMs - acceptedAt }),
          });
          if (record.next !== 'delivered') {
            log('warn', 'delivery attempt failed', {
              deliveryId: delivery.id,
              type: delivery.event.type,
              attempt: record.number,
              status: record.status,
              error: record.error,
              next: record.next,
              nextAttemptAt: record.next === 'retrying' ? new Date(record.nextAttemptAt).toISOString() : null,
            });
          }
        },
      })
    : null;

  // Accepting an event hands its deliveries to this process's dispatcher: those due now are
  // written leased to it in ingest's own transaction and go out right after the commit, without a
  // lease transaction of their own; the rest (and all of them when the dispatcher has no free
  // slot) wake it, so a due one goes out at once instead of at the next poll.
  const events: EventStore =
    dispatcher && servesApi
      ? stores.eventsHandingOff({
          owner: input.owner,
          leaseMs: config.leaseMs,
          now: () => clock.now(),
          reserve: () => dispatcher.reserve(),
          settle({ reserved, leased, unleased, load }) {
            // On the next turn: the read (and the sending) would otherwise delay this request's
            // answer, as would the lease a nudge runs (a synchronous write).
            if (reserved > 0) dispatcher.take(reserved, leased > 0 ? nextTurn(load) : []);
            if (unleased > 0) afterThisTurn(() => dispatcher.nudge());
          },
        })
      : stores.events;

  const { app: api, registry } = await createMesh({
    definitions: input.definitions,
    events,
    subscriptions: stores.subscriptions,
    deliveries: stores.deliveries,
    urlRules: { requireHttps: config.production, allowPrivateNetwork: config.allowPrivateNetwork },
    tokens: { producers: secrets.producers, admin: secrets.adminToken },
    clock,
    log,
    metrics: { store: stores.metrics, process: metrics, token: config.metricsToken },
    dashboard: { eventSearch: stores.eventSearch, gauges: stores.metrics },
  });

  const webhooks =
    servesApi && input.handlers.length > 0 && input.inbox
      ? createWebhookApp({
          handlers: input.handlers,
          signingKeys: secrets.signingKeys,
          inbox: input.inbox,
          publicUrl: input.publicUrl,
          clock,
          onError: (error, ctx) => log('error', 'handler failed', { ...describeError(error), ...ctx }),
        })
      : null;
  const fetch = (request: Request): Response | Promise<Response> => {
    if (webhooks && isWebhookPath(request.url)) return webhooks.fetch(request);
    // A dispatcher still answers health checks and scrapes (its attempt counters are its own).
    const path = servesApi ? '' : pathOf(request.url);
    if (!servesApi && path !== '/healthz' && path !== '/metrics') {
      return Response.json(
        { error: 'this process only delivers (HOOKMESH_ROLE=dispatcher)' },
        { status: 404 },
      );
    }
    return api.fetch(request);
  };
  dispatcher?.start();
  const retention = delivers && config.retentionDays > 0 ? startRetention(input) : null;

  return {
    fetch,
    dispatcher,
    domainTypes: [...registry.domainEvents.keys()],
    async stop() {
      retention?.();
      await dispatcher?.stop();
    },
  };
}

/**
 * Purges settled events past the retention age: a pass of small batches, oldest first, then the
 * freed space handed back (see `runRetentionPass`); the next pass an hour later, or a second later
 * while a backlog is being worked off (`nextRetentionDelay`).
 */
function startRetention(input: LocalMeshInput): () => void {
  const { retention } = input.stores;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const schedule = (ms: number) => {
    if (stopped) return;
    timer = setTimeout(() => void pass(), ms);
    timer.unref?.();
  };
  // Small batches with 19 times their length between them: API processes on the same file (or
  // this one's own ingest, whose event loop a batch blocks) meet a batch in one commit in twenty,
  // and wait a ms or two when they do (issue 11: ingest p99 while purging).
  const between = pauseForLockShare(RETENTION_LOCK_SHARE);
  const batch = LOCAL_RETENTION_BATCH;
  const pass = async () => {
    let delay = RETENTION_EVERY_MS;
    try {
      const before = input.clock.now() - input.config.retentionDays * 86_400_000;
      const removed = await runRetentionPass(retention, { before, between, batch });
      if (removed.events > 0) input.log('info', 'retention purged settled events', { ...removed });
      delay = nextRetentionDelay(removed);
    } catch (error) {
      input.log('error', 'retention failed', describeError(error));
    }
    schedule(delay);
  };
  // A mesh that restarts often must still purge: one pass shortly after start, off the hot path.
  schedule(10_000);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** Runs `fn` once the current I/O callbacks are done (setImmediate where there is one). */
const afterThisTurn: (fn: () => void) => void =
  typeof globalThis.setImmediate === 'function' ? (fn) => setImmediate(fn) : (fn) => setTimeout(fn, 0);

/** `fn()`, called once the current I/O callbacks are done. */
const nextTurn = <T>(fn: () => Promise<T>): Promise<T> =>
  new Promise<T>((resolve, reject) => afterThisTurn(() => fn().then(resolve, reject)));
