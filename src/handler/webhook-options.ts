import { type Clock, systemClock } from '../core/clock.ts';
import { DefinitionError } from '../core/errors.ts';
import { DEFAULT_CLOCK_TOLERANCE_SEC } from '../core/signature.ts';
import type { HandlerDefinition } from './define-handler.ts';
import type { Inbox } from './inbox.ts';

/** Where an error reported to `onError` came from. */
export interface WebhookErrorContext {
  /**
   * `handler`: the handler threw; `inbox`: claim, complete, release, a lease extension or a token
   * record failed, or the claim was lost mid-run (its lease lapsed and another run took it over).
   */
  readonly phase: 'handler' | 'inbox';
  readonly handler: string;
  readonly eventId: string;
  readonly messageId: string;
}

export interface WebhookAppOptions {
  /** One handler per integration event type; each gets `POST <basePath>/<type>`. */
  readonly handlers: readonly HandlerDefinition[];
  /** QStash's pair: `current` and, during a rotation, `next` (both are accepted). */
  readonly signingKeys: { readonly current: string; readonly next?: string | undefined };
  readonly inbox: Inbox;
  /**
   * The base URL the mesh targets (`https://billing.example.com`), required: every token's subject
   * must be `publicUrl + basePath + /<type>` exactly. Never taken from the request (its Host header
   * is the sender's to choose), and behind a proxy or TLS terminator the URL this process sees is
   * not the one the sender addressed anyway.
   */
  readonly publicUrl: string;
  /** Default `/webhooks`. */
  readonly basePath?: string | undefined;
  readonly clock?: Clock | undefined;
  /**
   * How long a claim holds without news from its holder, in ms (default 60 000). While the handler
   * runs, the claim is extended every `leaseMs / 3`, so a slow handler keeps it; only a holder that
   * crashed or hung lets it lapse, and then a retry elsewhere takes it over after at most this long.
   */
  readonly leaseMs?: number | undefined;
  /**
   * Schedules the lease extension: calls `fn` every `ms` until the returned function is called.
   * Default `setInterval`; for tests, a timer driven by hand.
   */
  readonly repeat?: ((fn: () => void, ms: number) => () => void) | undefined;
  /** Allowed clock skew when checking `exp`/`nbf`, in seconds (default 5). */
  readonly clockToleranceSec?: number | undefined;
  /**
   * Largest body accepted, in bytes (default 1 MiB, QStash's free-plan message size): 413 beyond.
   * A body is read only once its token (MAC, issuer, subject, times) holds, and then streamed.
   */
  readonly maxBodyBytes?: number | undefined;
  /**
   * Most bodies read at once before their hash is checked (default 64): the next request is
   * answered 429 + `Retry-After` instead of adding up to `maxBodyBytes` more to memory.
   */
  readonly maxConcurrentBodyReads?: number | undefined;
  /**
   * How a copy waits for a claim another process holds: it asks the inbox every `intervalMs`
   * (default 50) for up to `timeoutMs` (default 5000), then answers 503. `sleep` is for tests.
   */
  readonly busyWait?:
    | {
        readonly intervalMs?: number | undefined;
        readonly timeoutMs?: number | undefined;
        readonly sleep?: ((ms: number) => Promise<void>) | undefined;
      }
    | undefined;
  /** Receives handler and inbox errors (the responses never carry them). Must not throw. */
  readonly onError?: ((error: unknown, ctx: WebhookErrorContext) => void) | undefined;
}

const DEFAULT_BASE_PATH = '/webhooks';
const DEFAULT_LEASE_MS = 60_000;
const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
const DEFAULT_MAX_CONCURRENT_BODY_READS = 64;

/** The options, checked and with their defaults filled in. */
export interface WebhookConfig {
  readonly inbox: Inbox;
  readonly clock: Clock;
  readonly leaseMs: number;
  readonly basePath: string;
  /** `publicUrl` without a trailing slash. */
  readonly publicBase: string;
  readonly clockToleranceSec: number;
  readonly maxBodyBytes: number;
  readonly maxConcurrentBodyReads: number;
  readonly heartbeatMs: number;
  readonly repeat: (fn: () => void, ms: number) => () => void;
  readonly busyIntervalMs: number;
  readonly busyTimeoutMs: number;
  readonly sleep: (ms: number) => Promise<void>;
}

/**
 * Checks the options and fills in defaults. Configuration mistakes surface when the app is built,
 * not on the first delivery.
 * @example const config = toWebhookConfig({ handlers, signingKeys, inbox });
 */
export function toWebhookConfig(options: WebhookAppOptions): WebhookConfig {
  if (typeof options.signingKeys?.current !== 'string' || options.signingKeys.current === '') {
    throw new DefinitionError('signingKeys.current must be a non-empty signing key');
  }
  if (options.signingKeys.next !== undefined && typeof options.signingKeys.next !== 'string') {
    throw new DefinitionError('signingKeys.next must be a string when given');
  }
  const types = new Set<string>();
  const names = new Set<string>();
  for (const handler of options.handlers) {
    if (handler?.kind !== 'handler') throw new DefinitionError('handlers must be made by defineHandler');
    if (types.has(handler.event.type)) {
      throw new DefinitionError(`two handlers for ${handler.event.type}: keep one handler per event type`);
    }
    if (names.has(handler.name)) {
      throw new DefinitionError(`two handlers named ${JSON.stringify(handler.name)}: names key the inbox`);
    }
    types.add(handler.event.type);
    names.add(handler.name);
  }
  const basePath = (options.basePath ?? DEFAULT_BASE_PATH).replace(/\/+$/, '');
  if (basePath !== '' && !/^(\/[A-Za-z0-9._~-]+)+$/.test(basePath)) {
    throw new DefinitionError(`basePath ${JSON.stringify(options.basePath)} must look like /webhooks`);
  }
  if (typeof options.publicUrl !== 'string' || options.publicUrl === '') {
    throw new DefinitionError(
      "publicUrl is required: the base URL the mesh delivers to (e.g. 'https://billing.example.com'); " +
        "tokens are checked against it, never against the request's Host header",
    );
  }
  const url = URL.canParse(options.publicUrl) ? new URL(options.publicUrl) : null;
  if (
    url === null ||
    (url.protocol !== 'https:' && url.protocol !== 'http:') ||
    url.search ||
    url.hash ||
    url.username ||
    url.password
  ) {
    throw new DefinitionError(
      `publicUrl ${JSON.stringify(options.publicUrl)} must be an http(s) base URL without credentials, query or fragment`,
    );
  }
  // As written, not as URL would re-serialise it: the mesh signs the subscription URL verbatim.
  const publicBase = options.publicUrl.replace(/\/+$/, '');
  const leaseMs = positive(options.leaseMs, DEFAULT_LEASE_MS, 'leaseMs');
  const clockToleranceSec = options.clockToleranceSec ?? DEFAULT_CLOCK_TOLERANCE_SEC;
  if (!Number.isFinite(clockToleranceSec) || clockToleranceSec < 0) {
    throw new DefinitionError('clockToleranceSec must be a finite, non-negative number of seconds');
  }
  return {
    inbox: options.inbox,
    clock: options.clock ?? systemClock,
    leaseMs,
    basePath,
    publicBase,
    clockToleranceSec,
    maxBodyBytes: positive(options.maxBodyBytes, DEFAULT_MAX_BODY_BYTES, 'maxBodyBytes'),
    maxConcurrentBodyReads: positiveInteger(
      options.maxConcurrentBodyReads,
      DEFAULT_MAX_CONCURRENT_BODY_READS,
      'maxConcurrentBodyReads',
    ),
    heartbeatMs: leaseMs / 3,
    repeat: options.repeat ?? repeatOnInterval,
    busyIntervalMs: positive(options.busyWait?.intervalMs, 50, 'busyWait.intervalMs'),
    busyTimeoutMs: positive(options.busyWait?.timeoutMs, 5000, 'busyWait.timeoutMs'),
    sleep: options.busyWait?.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
  };
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  const n = value ?? fallback;
  if (!Number.isInteger(n) || n <= 0) throw new DefinitionError(`${name} must be a positive integer`);
  return n;
}

function repeatOnInterval(fn: () => void, ms: number): () => void {
  const timer = setInterval(fn, ms);
  return () => clearInterval(timer);
}

function positive(value: number | undefined, fallback: number, name: string): number {
  const n = value ?? fallback;
  if (!Number.isFinite(n) || n <= 0) throw new DefinitionError(`${name} must be a positive number`);
  return n;
}
