/**
 * A QStash double for tests: a real HTTP server on 127.0.0.1 that `@upstash/qstash`'s `Client`
 * publishes to (`new Client({ token, baseUrl: q.url })`), and that delivers, retries, signs and
 * calls back as QStash documents — on the injected clock, one `deliverDue()` at a time, so a
 * schedule spanning days runs in milliseconds.
 *
 * Where the docs are silent the double picks the strict reading and says so: URL groups, queues,
 * schedules and flow control are not simulated; deduplication ids are remembered forever (the docs
 * say 10 minutes, the SDK 90 days: a deliberate re-publish must never reuse one); the per-attempt
 * timeout defaults to 10 s instead of the plan's minutes; `GET /v2/messages/<id>` shows a message
 * while it is being delivered or retried and answers 404 the moment it is delivered or failed (the
 * docs: "removed … shortly after they're delivered").
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../../src/core/clock.ts';
import type { DelayExpression } from '../../src/core/retry-delay-expression.ts';
import {
  ApiError,
  messageAnswer,
  newMessageId,
  publishAnswer,
  readBatch,
  readBody,
  requestHeaders,
  sendJson,
  toDestination,
} from './qstash-double-api.ts';
import {
  judgeAttempt,
  type QStashCallbackBody,
  type QStashDoubleAttempt,
  sendAttempt,
  toCallbackBody,
} from './qstash-double-delivery.ts';
import type { QStashDoubleMessage } from './qstash-double-message.ts';
import {
  type CallbackSettings,
  DEFAULT_ATTEMPT_TIMEOUT_MS,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_MAX_RETRIES,
  DEFAULT_RETRIES,
  isDestinationUrl,
  type PublishSettings,
  readPublishSettings,
} from './qstash-double-options.ts';

export type { QStashCallbackBody, QStashDoubleAttempt } from './qstash-double-delivery.ts';
export type {
  QStashDoubleMessage,
  QStashDoubleMessageKind,
  QStashDoubleState,
} from './qstash-double-message.ts';
export type { CallbackSettings } from './qstash-double-options.ts';

export interface QStashDoubleOptions {
  /** The bearer token the API accepts; anything else is answered 401. */
  token: string;
  /** Signs every delivery; `Receiver` and hookmesh's verifier need it and the next key. */
  currentSigningKey: string;
  nextSigningKey: string;
  /** Decides what is due and stamps tokens; a manual clock in tests (at `Date.now()` for `Receiver`). */
  clock: Clock;
  /** Outbound requests to destinations and callbacks; the global `fetch` by default. */
  fetch?: typeof fetch;
  /** Retries when `Upstash-Retries` is absent; 3, the free plan's. */
  defaultRetries?: number;
  /** The plan's cap; more is refused with 400. 20, Pro's. */
  maxRetries?: number;
  /** Per-attempt timeout when `Upstash-Timeout` is absent. */
  defaultTimeoutMs?: number;
  /** Larger bodies are refused with 413. 1 MiB, the free plan's. */
  maxMessageBytes?: number;
}

export interface QStashDouble {
  /** `http://127.0.0.1:<port>`: the `baseUrl` for `@upstash/qstash`'s `Client`. */
  readonly url: string;
  /** Every accepted message, callbacks included, in the order they were created (live objects). */
  readonly messages: readonly QStashDoubleMessage[];
  /**
   * Requests to `/v2/publish`, `/v2/batch` and `/v2/messages/<id>` (every one, refused or not), and
   * how many of them were refused (an outage, a bad token, a refused message; a 404 for a message
   * is an answer, not a refusal).
   */
  readonly calls: {
    readonly publish: number;
    readonly batch: number;
    readonly messages: number;
    readonly rejected: number;
  };
  /** Callbacks and failure callbacks dropped by `loseCallbacksTo`. */
  readonly lostCallbacks: number;
  /** The keys in use; `rotateSigningKeys` moves them. */
  readonly signingKeys: { readonly current: string; readonly next: string };
  message(id: string): QStashDoubleMessage | undefined;
  /** The earliest due time of a pending message; null when nothing is pending. */
  nextDueAt(): number | null;
  /**
   * Attempts every message due at `clock.now()` — then whatever became due meanwhile (callbacks,
   * zero-delay retries) — and awaits every answer. Returns the number of attempts made.
   *
   * `only` narrows the published messages attempted (those it answers true for); the callbacks
   * QStash makes itself are attempted whenever due. A test stepping a peer that publishes in the
   * background passes the messages it knows of, so one published meanwhile waits for its next call.
   */
  deliverDue(options?: { readonly only?: (message: QStashDoubleMessage) => boolean }): Promise<number>;
  /** An outage of the API (publish, batch, messages): `'error'` answers 500, `'reset'` drops the connection. */
  setDown(down: boolean, how?: 'error' | 'reset'): void;
  /**
   * While set, callbacks and failure callbacks to `url` are lost: never published, never sent —
   * as when a callback ran out of retries while the mesh was away, and QStash moved on. The
   * message itself is delivered and retried as ever. `null` stops it.
   */
  loseCallbacksTo(url: string | null): void;
  /** Rotation as QStash does it: next becomes current, `newNext` becomes next. */
  rotateSigningKeys(newNext: string): void;
  close(): Promise<void>;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type StoredMessage = Mutable<Omit<QStashDoubleMessage, 'attempts'>> & { attempts: QStashDoubleAttempt[] };

interface Entry {
  readonly message: StoredMessage;
  readonly retryDelay: DelayExpression | null;
  inFlight: boolean;
}

const MAX_ROUNDS = 1000;

/** The simulated API routes, counted in `calls`. */
function routeOf(path: string): 'publish' | 'batch' | 'messages' | null {
  if (path.startsWith('/v2/publish/')) return 'publish';
  if (path === '/v2/batch') return 'batch';
  if (/^\/v2\/messages\/[^/?]+(\?|$)/.test(path)) return 'messages';
  return null;
}

/**
 * Starts the double on a free loopback port.
 * @example
 * const q = await startQStashDouble({ token, currentSigningKey, nextSigningKey, clock });
 * const client = new Client({ token, baseUrl: q.url });
 * const { messageId } = await client.publishJSON({ url: handler.url, body: { hi: 1 }, retries: 2 });
 * await q.deliverDue();
 */
export async function startQStashDouble(options: QStashDoubleOptions): Promise<QStashDouble> {
  const { clock, token } = options;
  const send = options.fetch ?? fetch;
  const limits = {
    defaultRetries: options.defaultRetries ?? DEFAULT_RETRIES,
    maxRetries: options.maxRetries ?? DEFAULT_MAX_RETRIES,
    defaultTimeoutMs: options.defaultTimeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS,
  };
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const keys = { current: options.currentSigningKey, next: options.nextSigningKey };
  const entries: Entry[] = [];
  const messages: StoredMessage[] = [];
  const byId = new Map<string, Entry>();
  const byDedupId = new Map<string, StoredMessage>();
  const calls = { publish: 0, batch: 0, messages: 0, rejected: 0 };
  let down: false | 'error' | 'reset' = false;
  let losingCallbacksTo: string | null = null;
  let lostCallbacks = 0;
  let dlqSequence = 0;

  /** Stores a new message, due at `notBefore`; what every message starts with is filled in here. */
  function store(
    fields: Omit<
      StoredMessage,
      'id' | 'createdAt' | 'state' | 'retried' | 'nextAttemptAt' | 'attempts' | 'failureReason' | 'dlqId'
    >,
    retryDelay: DelayExpression | null,
  ): StoredMessage {
    const message: StoredMessage = {
      id: newMessageId(),
      createdAt: clock.now(),
      state: 'pending',
      retried: 0,
      nextAttemptAt: fields.notBefore,
      attempts: [],
      failureReason: null,
      dlqId: null,
      ...fields,
    };
    const entry: Entry = { message, retryDelay, inFlight: false };
    entries.push(entry);
    messages.push(message);
    byId.set(message.id, entry);
    return message;
  }

  interface Accepted {
    readonly destination: string;
    readonly headers: Record<string, string>;
    readonly bodyBytes: Uint8Array;
    readonly settings: PublishSettings;
  }

  /** Reads one message completely before anything is stored, so a bad batch entry refuses the batch. */
  function prepare(destination: string, headers: Record<string, string>, bodyBytes: Uint8Array): Accepted {
    if (!isDestinationUrl(destination)) {
      throw new ApiError(400, `invalid destination: ${destination} (only http(s) URLs are simulated)`);
    }
    if (bodyBytes.byteLength > maxMessageBytes) {
      throw new ApiError(413, `message size ${bodyBytes.byteLength} exceeds the limit of ${maxMessageBytes}`);
    }
    const read = readPublishSettings({
      destination,
      headers: new Headers(headers),
      body: bodyBytes,
      nowMs: clock.now(),
      ...limits,
    });
    if (!read.ok) throw new ApiError(400, read.error);
    return { destination, headers, bodyBytes, settings: read.settings };
  }

  /** Stores a prepared message, or finds the one that already holds its deduplication id. */
  function accept(prepared: Accepted, callerIp: string): { message: StoredMessage; duplicate: boolean } {
    const { settings } = prepared;
    if (settings.dedupId !== null) {
      const first = byDedupId.get(settings.dedupId);
      if (first !== undefined) return { message: first, duplicate: true };
    }
    const message = store(
      {
        kind: 'message',
        sourceMessageId: null,
        destination: prepared.destination,
        method: settings.method,
        headers: prepared.headers,
        forwardHeaders: settings.forwardHeaders,
        body: Buffer.from(prepared.bodyBytes).toString('utf8'),
        bodyBytes: prepared.bodyBytes,
        retries: settings.retries,
        retryDelay: settings.retryDelay?.source ?? null,
        timeoutMs: settings.timeoutMs,
        notBefore: settings.notBefore,
        dedupId: settings.dedupId,
        callback: settings.callback,
        failureCallback: settings.failureCallback,
        callerIp,
      },
      settings.retryDelay?.expression ?? null,
    );
    if (settings.dedupId !== null) byDedupId.set(settings.dedupId, message);
    return { message, duplicate: false };
  }

  /** QStash publishes a callback as a message of its own, retried like any other. */
  function publishCallback(
    kind: 'callback' | 'failure-callback',
    source: StoredMessage,
    settings: CallbackSettings,
    body: QStashCallbackBody,
  ): void {
    if (settings.url === losingCallbacksTo) {
      lostCallbacks += 1;
      return;
    }
    const text = JSON.stringify(body);
    store(
      {
        kind,
        sourceMessageId: source.id,
        destination: settings.url,
        method: settings.method,
        headers: {},
        forwardHeaders: { 'content-type': 'application/json', ...settings.forwardHeaders },
        body: text,
        bodyBytes: new TextEncoder().encode(text),
        retries: settings.retries,
        retryDelay: settings.retryDelay?.source ?? null,
        timeoutMs: settings.timeoutMs,
        notBefore: clock.now() + settings.delayMs,
        dedupId: null,
        callback: null,
        failureCallback: null,
        callerIp: source.callerIp,
      },
      settings.retryDelay?.expression ?? null,
    );
  }

  async function attempt(entry: Entry): Promise<void> {
    const { message } = entry;
    entry.inFlight = true;
    try {
      const result = await sendAttempt(message, message.retried, {
        fetch: send,
        signingKey: keys.current,
        nowMs: clock.now(),
      });
      message.attempts.push(result);
      const now = clock.now();
      const verdict = judgeAttempt(result, {
        retries: message.retries,
        retryDelay: entry.retryDelay,
        nowMs: now,
      });
      // Called after every attempt of the message, until a 2xx or the retries run out.
      if (message.kind === 'message' && message.callback !== null) {
        publishCallback('callback', message, message.callback, toCallbackBody(message, result));
      }
      if (verdict.state === 'delivered') {
        message.state = 'delivered';
        message.nextAttemptAt = null;
      } else if (verdict.state === 'retry') {
        message.retried += 1;
        message.nextAttemptAt = now + verdict.delayMs;
      } else {
        message.state = 'failed';
        message.failureReason = verdict.reason;
        message.nextAttemptAt = null;
        message.dlqId = `${now}-${dlqSequence++}`;
        if (message.kind === 'message' && message.failureCallback !== null) {
          const body = toCallbackBody(message, result, { dlqId: message.dlqId });
          publishCallback('failure-callback', message, message.failureCallback, body);
        }
      }
    } finally {
      entry.inFlight = false;
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const path = req.url ?? '/';
    const route = routeOf(path);
    if (route !== null) calls[route] += 1;
    if (route !== null && down === 'reset') {
      calls.rejected += 1;
      req.socket.destroy();
      return;
    }
    if (route !== null && down === 'error')
      throw new ApiError(500, 'internal server error (the double is down)');
    const authorization = req.headers.authorization;
    if (authorization === undefined) throw new ApiError(401, 'authorization header is missing');
    if (authorization !== `Bearer ${token}`) throw new ApiError(401, 'invalid token');
    if (route === null) throw new ApiError(404, `not found: ${req.method} ${path} (not simulated)`);
    if (route === 'messages') {
      // Cancelling (DELETE) is not simulated.
      if (req.method !== 'GET') throw new ApiError(405, `method not allowed: ${req.method}`);
      const id = decodeURIComponent(path.slice('/v2/messages/'.length).split('?')[0] ?? '');
      const message = byId.get(id)?.message;
      // QStash keeps a message only while it is being delivered or retried: once delivered it is
      // removed "shortly after" (here at once), once failed it is in the DLQ. Only published
      // messages are shown; the ones QStash makes itself to call back are its own business.
      if (message === undefined || message.kind !== 'message' || message.state !== 'pending') {
        sendJson(res, 404, { error: 'message not found' });
        return;
      }
      sendJson(res, 200, messageAnswer(message));
      return;
    }
    if (req.method !== 'POST') throw new ApiError(405, `method not allowed: ${req.method}`);
    const callerIp = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');

    if (route === 'publish') {
      const prepared = prepare(toDestination(path.slice('/v2/publish/'.length)), requestHeaders(req), body);
      const { message, duplicate } = accept(prepared, callerIp);
      // 201 for a new message; 202 with the first message's id for a duplicate (documented).
      sendJson(res, duplicate ? 202 : 201, publishAnswer(message, duplicate));
      return;
    }
    const prepared = readBatch(body).map((item) => prepare(item.destination, item.headers, item.body));
    const accepted = prepared.map((item) => accept(item, callerIp));
    const allDuplicates = accepted.length > 0 && accepted.every((a) => a.duplicate);
    sendJson(
      res,
      allDuplicates ? 202 : 201,
      accepted.map((a) => publishAnswer(a.message, a.duplicate)),
    );
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      calls.rejected += routeOf(req.url ?? '/') === null ? 0 : 1;
      if (res.headersSent || req.socket.destroyed) return;
      if (error instanceof ApiError) sendJson(res, error.status, { error: error.message });
      else sendJson(res, 500, { error: error instanceof Error ? error.message : String(error) });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    messages,
    calls,
    get lostCallbacks() {
      return lostCallbacks;
    },
    get signingKeys() {
      return { ...keys };
    },
    message: (id) => byId.get(id)?.message,
    nextDueAt() {
      let earliest: number | null = null;
      for (const { message } of entries) {
        if (message.state !== 'pending' || message.nextAttemptAt === null) continue;
        if (earliest === null || message.nextAttemptAt < earliest) earliest = message.nextAttemptAt;
      }
      return earliest;
    },
    async deliverDue({ only } = {}) {
      let attempts = 0;
      for (let round = 0; round < MAX_ROUNDS; round++) {
        const now = clock.now();
        const due = entries.filter(
          (e) =>
            !e.inFlight &&
            e.message.state === 'pending' &&
            e.message.nextAttemptAt !== null &&
            e.message.nextAttemptAt <= now &&
            (only === undefined || e.message.kind !== 'message' || only(e.message)),
        );
        if (due.length === 0) return attempts;
        attempts += due.length;
        await Promise.all(due.map(attempt));
      }
      throw new Error(`deliverDue: messages were still due after ${MAX_ROUNDS} rounds`);
    },
    setDown(isDown, how = 'error') {
      down = isDown ? how : false;
    },
    loseCallbacksTo(url) {
      losingCallbacksTo = url;
    },
    rotateSigningKeys(newNext) {
      keys.current = keys.next;
      keys.next = newNext;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
