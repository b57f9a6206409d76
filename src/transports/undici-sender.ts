import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { Agent, type Dispatcher } from 'undici';
import type { HttpSender, SendResult } from '../core/http-sender.ts';
import { RESPONSE_EXCERPT_BYTES } from '../core/http-sender.ts';
import { isForbiddenAddress, isForbiddenHostname, parseIpLiteral } from '../core/network-address.ts';

/** Responses beyond this are not drained (the connection is dropped instead of reused). */
const DRAIN_LIMIT_BYTES = 64 * 1024;
/** Parsed subscription URLs kept; a mesh posts to few distinct URLs, so this rarely fills. */
const TARGET_CACHE_SIZE = 1024;
/** Coarsest and finest period of the sweep that enforces each attempt's overall deadline. */
const SWEEP_MAX_MS = 1000;
const SWEEP_MIN_MS = 10;

export class ForbiddenAddressError extends Error {
  constructor(host: string) {
    super(`refused to connect to ${host}: a loopback, private, link-local or metadata address`);
    this.name = 'ForbiddenAddressError';
  }
}

/** An attempt that ran past its timeout as a whole (a slow drip of body bytes, a queue wait). */
export class AttemptTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`attempt timeout: no complete answer within ${timeoutMs} ms`);
    this.name = 'AttemptTimeoutError';
  }
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A `lookup` for sockets that resolves as usual and refuses the connection when any address the
 * name resolves to is forbidden — checked at connect time, so a name that later resolves
 * elsewhere (DNS rebinding) is caught too.
 */
export function createGuardedLookup(resolve: typeof dnsLookup = dnsLookup) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void =>
    guard(resolve, hostname, options, callback);
}

function guard(
  resolve: typeof dnsLookup,
  hostname: string,
  options: LookupOptions,
  callback: LookupCallback,
): void {
  resolve(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, []);
    const bad = addresses.find((a) => {
      const ip = parseIpLiteral(a.address);
      return ip === null || isForbiddenAddress(ip);
    });
    if (bad || addresses.length === 0) return callback(new ForbiddenAddressError(hostname), []);
    if (options.all) return callback(null, addresses);
    const first = addresses[0]!;
    callback(null, first.address, first.family);
  });
}

/** A subscription URL split once for undici's dispatch, and whether its host is a forbidden literal. */
interface Target {
  readonly origin: string;
  readonly path: string;
  /** The literal or name refused before connecting when the subscription is untrusted; else null. */
  readonly forbiddenHost: string | null;
}

/**
 * Sends attempts with undici over keep-alive pools (raw undici reaches ~10× Node's global fetch
 * here). Trusted (code-declared) subscriptions go through a plain agent; untrusted ones through an
 * agent whose sockets check every resolved address, unless private networks are allowed.
 * Redirects are never followed: a raw dispatch does not, and a 3xx counts as a failure.
 *
 * Timeouts without a timer per attempt (an `AbortSignal.timeout` per request halves undici's
 * throughput here): undici's own `headersTimeout` (from the request's write to its response head)
 * and `bodyTimeout` (between body chunks) cut a silent peer, and one coarse sweep, running only
 * while attempts are in flight, aborts any attempt past `timeoutMs` as a whole — a body dripped a
 * byte at a time, a wait for a free connection — at most one sweep period late (≤ 1 s, well
 * inside the lease).
 * @example const send = createUndiciSender({ allowPrivateNetwork: false }); await send(req, { trusted: false, timeoutMs: 15_000 });
 */
export function createUndiciSender(options: {
  allowPrivateNetwork: boolean;
  connections?: number;
  /** The resolver behind the guard (tests give one that answers like a rebinding DNS server). */
  resolve?: typeof dnsLookup;
}): HttpSender & {
  close(): Promise<void>;
} {
  const common = { keepAliveTimeout: 30_000, connections: options.connections ?? 128, pipelining: 1 };
  const trustedAgent = new Agent(common);
  const guardedAgent = options.allowPrivateNetwork
    ? trustedAgent
    : new Agent({ ...common, connect: { lookup: createGuardedLookup(options.resolve) as never } });

  const targets = new Map<string, Target>();
  const toTarget = (url: string): Target => {
    let target = targets.get(url);
    if (target === undefined) {
      const parsed = new URL(url);
      // Literal addresses never reach `lookup`: they are checked here.
      const host = parsed.hostname.replace(/^\[|\]$/g, '');
      const literal = parseIpLiteral(host);
      target = {
        origin: parsed.origin,
        path: `${parsed.pathname}${parsed.search}`,
        forbiddenHost: (literal && isForbiddenAddress(literal)) || isForbiddenHostname(host) ? host : null,
      };
      if (targets.size >= TARGET_CACHE_SIZE) targets.clear();
      targets.set(url, target);
    }
    return target;
  };

  const deadlines = createDeadlineSweep();

  const send: HttpSender = (req, { trusted, timeoutMs }) => {
    const target = toTarget(req.url);
    const guarded = !trusted && !options.allowPrivateNetwork;
    if (guarded && target.forbiddenHost !== null) {
      return Promise.reject(new ForbiddenAddressError(target.forbiddenHost));
    }
    return new Promise<SendResult>((resolve, reject) => {
      const attempt = new Attempt(resolve, reject, timeoutMs, deadlines);
      (guarded ? guardedAgent : trustedAgent).dispatch(
        {
          origin: target.origin,
          path: target.path,
          method: 'POST',
          headers: req.headers,
          body: req.body,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        },
        attempt,
      );
    });
  };

  return Object.assign(send, {
    async close() {
      deadlines.stop();
      await trustedAgent.close();
      if (guardedAgent !== trustedAgent) await guardedAgent.close();
    },
  });
}

/**
 * One attempt as an undici dispatch handler: the response head and the first
 * `RESPONSE_EXCERPT_BYTES` of the body are kept, the rest drained (up to `DRAIN_LIMIT_BYTES`, then
 * the connection is dropped), with no stream or iterator in between.
 */
class Attempt implements Dispatcher.DispatchHandler {
  readonly deadline: number;
  /** Its neighbours in the sweep's list of attempts in flight; both null once it left the list. */
  prevLive: Attempt | null = null;
  nextLive: Attempt | null = null;
  private abortRequest: ((reason: Error) => void) | null = null;
  private settled = false;
  private status = 0;
  private rawHeaders: Buffer[] = [];
  private first: Buffer | null = null;
  private more: Buffer[] | null = null;
  private kept = 0;
  private total = 0;

  constructor(
    private readonly resolve: (result: SendResult) => void,
    private readonly reject: (error: unknown) => void,
    private readonly timeoutMs: number,
    private readonly sweep: DeadlineSweep,
  ) {
    this.deadline = performance.now() + timeoutMs;
    sweep.add(this, timeoutMs);
  }

  /** Called by the sweep past the deadline: the attempt fails now, the request is cut when it can be. */
  expire(): void {
    const error = new AttemptTimeoutError(this.timeoutMs);
    this.fail(error);
    this.abortRequest?.(error);
  }

  onConnect(abort: (reason?: Error) => void): void {
    // Expired while queued for a connection: never send it.
    if (this.settled) abort(new AttemptTimeoutError(this.timeoutMs));
    else this.abortRequest = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
    this.status = statusCode;
    this.rawHeaders = rawHeaders;
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.total += chunk.length;
    if (this.kept < RESPONSE_EXCERPT_BYTES) {
      const part =
        chunk.length <= RESPONSE_EXCERPT_BYTES - this.kept
          ? chunk
          : chunk.subarray(0, RESPONSE_EXCERPT_BYTES - this.kept);
      if (this.first === null) this.first = part;
      else if (this.more === null) this.more = [this.first, part];
      else this.more.push(part);
      this.kept += part.length;
    }
    if (this.total > DRAIN_LIMIT_BYTES) {
      // Enough read: answer with what was kept and drop the connection rather than drain more.
      this.succeed();
      this.abortRequest?.(new Error('response body past the drain limit'));
      return false;
    }
    return true;
  }

  onComplete(): void {
    this.succeed();
  }

  onError(error: Error): void {
    this.fail(error);
  }

  private succeed(): void {
    if (this.settled) return;
    this.settled = true;
    this.sweep.remove(this);
    const body = this.more !== null ? Buffer.concat(this.more) : this.first;
    this.resolve(new SentResponse(this.status, this.rawHeaders, body === null ? '' : body.toString('utf8')));
  }

  private fail(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.sweep.remove(this);
    this.reject(error);
  }
}

/**
 * An attempt's answer, its headers read from the raw ones when first asked for: the dispatcher
 * reads them only of a failed attempt (`Retry-After`, `Upstash-NonRetryable-Error`), and a 2xx's
 * went unread.
 */
class SentResponse implements SendResult {
  #headers: Record<string, string> | null = null;

  constructor(
    readonly status: number,
    private readonly rawHeaders: readonly Buffer[],
    readonly excerpt: string,
  ) {}

  get headers(): Readonly<Record<string, string>> {
    if (this.#headers === null) {
      const headers: Record<string, string> = {};
      const raw = this.rawHeaders;
      for (let i = 0; i + 1 < raw.length; i += 2) {
        const name = raw[i]!.toString('latin1').toLowerCase();
        const value = raw[i + 1]!.toString('latin1');
        const seen = headers[name];
        headers[name] = seen === undefined ? value : `${seen}, ${value}`;
      }
      this.#headers = headers;
    }
    return this.#headers;
  }
}

interface DeadlineSweep {
  add(attempt: Attempt, timeoutMs: number): void;
  remove(attempt: Attempt): void;
  stop(): void;
}

/**
 * The attempts in flight and one interval over them, started with the first and stopped with the
 * last; its period is a tenth of the shortest timeout seen, between 10 ms and 1 s.
 *
 * The attempts are a list threaded through them (`prevLive`, `nextLive`), not a `Set`. A set that
 * gains and loses an entry per attempt replaces its hash table every few dozen attempts, and V8
 * allocates each new table in the generation of the one it replaces, which keeps its entries and a
 * link to its successor. Once one table had lived through two young collections, every later one
 * was born old, and each attempt it held (with its request and response) outlived two young
 * collections too: 1.9 MB promoted a collection against 0.15 MB, 19 % of the young generation
 * surviving against 5-6 %, 4 ms scavenges against 1 ms, and 13-15k deliveries/s against
 * 15.5-17k (bench:delivery, 2026-12-05, in most compiled runs; in none of those under tsx). A
 * node that leaves the list drops both its links, so a dead attempt never keeps a live one.
 */
function createDeadlineSweep(): DeadlineSweep {
  let first: Attempt | null = null;
  let last: Attempt | null = null;
  let timer: ReturnType<typeof setInterval> | null = null;
  let periodMs = SWEEP_MAX_MS;

  const tick = () => {
    const now = performance.now();
    for (let attempt = first; attempt !== null; ) {
      // Read before `expire`, which takes the attempt out of the list.
      const next: Attempt | null = attempt.nextLive;
      if (attempt.deadline <= now) attempt.expire();
      attempt = next;
    }
    if (first === null) stop();
  };
  const stop = () => {
    if (timer !== null) clearInterval(timer);
    timer = null;
  };

  return {
    add(attempt, timeoutMs) {
      attempt.prevLive = last;
      if (last === null) first = attempt;
      else last.nextLive = attempt;
      last = attempt;
      const wanted = Math.min(SWEEP_MAX_MS, Math.max(SWEEP_MIN_MS, Math.floor(timeoutMs / 10)));
      if (wanted < periodMs) {
        periodMs = wanted;
        stop();
      }
      if (timer === null) {
        timer = setInterval(tick, periodMs);
        // In-flight sockets keep the process alive; the sweep itself must not.
        timer.unref();
      }
    },
    remove(attempt) {
      const { prevLive: prev, nextLive: next } = attempt;
      if (prev === null) {
        // Not first in the list and without a predecessor: already out of it.
        if (first !== attempt) return;
        first = next;
      } else prev.nextLive = next;
      if (next === null) last = prev;
      else next.prevLive = prev;
      attempt.prevLive = null;
      attempt.nextLive = null;
    },
    stop,
  };
}
