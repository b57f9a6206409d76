import type * as v from 'valibot';
import type { DomainEventDefinition } from '../core/domain-event.ts';
import { MeshApiError } from '../core/errors.ts';
import { activeTraceparent } from '../tracing/tracing.ts';
import type { MeshEvent } from './mesh-event.ts';
import { type MeshFetch, type RetrySettings, sendWithRetries, sleepFor } from './send-with-retries.ts';

/** The `data` a producer sends for a definition: its schema's input, before any transform. */
export type DomainEventInput<TDef> =
  TDef extends DomainEventDefinition<string, infer TSchema> ? v.InferInput<TSchema> : never;

export interface MeshClientOptions {
  /** The mesh's base URL, e.g. `https://mesh.example.com` (a path prefix is kept). */
  readonly url: string;
  /** A producer token (`HOOKMESH_PRODUCER_TOKENS`). */
  readonly token: string;
  /** Defaults to the global `fetch`, looked up at each call. */
  readonly fetch?: MeshFetch;
  /** Retries after the first attempt (default 4). */
  readonly retries?: number;
  /** One attempt's budget, answer included (default 10 000 ms). */
  readonly timeoutMs?: number;
  /** Backoff base: retry n waits a random time below `min(maxDelayMs, baseDelayMs · 2ⁿ)` (default 250 ms). */
  readonly baseDelayMs?: number;
  /** No wait between attempts is longer, the server's `Retry-After` included (default 30 000 ms). */
  readonly maxDelayMs?: number;
  /** Waits between attempts; rejects when `signal` aborts. Inject to test without waiting. */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** In [0, 1), for the jitter (default `Math.random`). */
  readonly random?: () => number;
  /** Epoch ms, to read a `Retry-After` HTTP date (default `Date.now`). */
  readonly now?: () => number;
  /** Makes the id of an event published without one (default `crypto.randomUUID()`). */
  readonly newId?: () => string;
}

/** What describes one event besides its definition and data. */
export interface EventFields {
  /** 1–200 characters, unique across the mesh; made once by the client when absent. */
  readonly id?: string;
  /** RFC 3339, or a `Date`. */
  readonly occurredAt?: string | Date;
  readonly metadata?: Readonly<Record<string, unknown>>;
  /** RFC 3339, or a `Date`: deliver no earlier (at most 7 days ahead of the mesh's clock; past means now). */
  readonly notBefore?: string | Date;
}

export interface RequestOptions {
  /**
   * W3C trace context, sent as the `traceparent` header and forwarded with every delivery. By
   * default the active OpenTelemetry span's, when the app has one.
   */
  readonly traceparent?: string;
  /** Ends the call, retries and waits included; an abort is never retried. */
  readonly signal?: AbortSignal;
}

export interface PublishOptions extends EventFields, RequestOptions {}

/** One event of `publishMany`: a definition, its data, and its own fields. */
export interface PublishItem<TDef = DomainEventDefinition> extends EventFields {
  readonly event: TDef;
  readonly data: DomainEventInput<TDef>;
}

/** The API's answer for one event: its id and the integration events it became. */
export interface PublishReceipt {
  readonly id: string;
  readonly integrationEvents: readonly { readonly id: string; readonly type: string }[];
}

/**
 * `status` is the API's: 202 when the mesh wrote something new, 200 when it already had every
 * event (sent before, or by an earlier attempt of this very call whose answer was lost).
 */
export interface PublishResult extends PublishReceipt {
  readonly status: 200 | 202;
}

export interface PublishManyResult {
  readonly events: readonly PublishReceipt[];
  readonly status: 200 | 202;
}

export interface MeshClient {
  /**
   * Publishes one domain event, its `data` typed by the definition's schema. Retries reuse the
   * event's id, so a retry is an idempotent replay.
   * @example const { id, status } = await mesh.publish(OrderCreated, { order }, { traceparent });
   */
  publish<TDef extends DomainEventDefinition>(
    event: TDef,
    data: NoInfer<DomainEventInput<TDef>>,
    options?: PublishOptions,
  ): Promise<PublishResult>;
  /**
   * Publishes up to 100 events in one request, all or nothing; each item is typed by its own
   * definition. Answers in the items' order.
   * @example await mesh.publishMany([{ event: OrderCreated, data: { order } }, { event: OrderPaid, data: paid }]);
   */
  publishMany<const TDefs extends readonly DomainEventDefinition[]>(
    items: { readonly [K in keyof TDefs]: PublishItem<TDefs[K]> },
    options?: RequestOptions,
  ): Promise<PublishManyResult>;
  /**
   * Reads an event with its integration events, deliveries and attempts; null when the mesh has
   * none by that id for this producer (another producer's event looks missing too).
   * @example const event = await mesh.getEvent('order-42-created');
   */
  getEvent(id: string, options?: { readonly signal?: AbortSignal }): Promise<MeshEvent | null>;
}

/**
 * The producing service's client for a mesh: typed publishing with retries that are replays.
 * Web standards only, so it runs on Node, Deno, Bun and Workers alike.
 * @example
 * const mesh = createMeshClient({ url: 'https://mesh.example.com', token: env.HOOKMESH_TOKEN });
 * await mesh.publish(OrderCreated, { order: { id: 'o-1', customerId: 'c-1', total: 42, currency: 'EUR' } });
 */
export function createMeshClient(options: MeshClientOptions): MeshClient {
  const base = new URL(options.url).href.replace(/\/+$/, '');
  const settings: RetrySettings = {
    fetch: options.fetch ?? ((input, init) => fetch(input, init)),
    retries: nonNegative('retries', options.retries ?? 4, true),
    timeoutMs: positive('timeoutMs', options.timeoutMs ?? 10_000),
    baseDelayMs: nonNegative('baseDelayMs', options.baseDelayMs ?? 250),
    maxDelayMs: nonNegative('maxDelayMs', options.maxDelayMs ?? 30_000),
    sleep: options.sleep ?? sleepFor,
    random: options.random ?? Math.random,
    now: options.now ?? Date.now,
  };
  const newId = options.newId ?? (() => crypto.randomUUID());

  const headersFor = (method: 'GET' | 'POST', traceparent?: string) => {
    // Built before the first attempt: a header value fetch would refuse fails here, not as a
    // "network error" to retry.
    const headers = new Headers({ authorization: `Bearer ${options.token}`, accept: 'application/json' });
    if (method === 'POST') headers.set('content-type', 'application/json');
    if (traceparent !== undefined) headers.set('traceparent', traceparent);
    return headers;
  };

  const toEnvelope = (item: PublishItem<DomainEventDefinition>) => ({
    id: item.id ?? newId(),
    type: item.event.type,
    data: item.data,
    ...(item.occurredAt === undefined ? {} : { occurredAt: toTimestamp(item.occurredAt) }),
    ...(item.metadata === undefined ? {} : { metadata: item.metadata }),
    ...(item.notBefore === undefined ? {} : { notBefore: toTimestamp(item.notBefore) }),
  });

  const post = async (body: unknown, request: RequestOptions) => {
    const answer = await sendWithRetries(
      {
        method: 'POST',
        url: `${base}/v1/events`,
        headers: headersFor('POST', request.traceparent ?? activeTraceparent()),
        body: JSON.stringify(body),
        signal: request.signal,
      },
      settings,
    );
    return { body: answer.body, status: answer.status === 202 ? (202 as const) : (200 as const) };
  };

  return {
    async publish(event, data, publishOptions = {}) {
      const { traceparent, signal, ...fields } = publishOptions;
      const answer = await post(toEnvelope({ ...fields, event, data }), withRequest(traceparent, signal));
      return { ...(answer.body as PublishReceipt), status: answer.status };
    },

    async publishMany(items, requestOptions = {}) {
      const envelopes = (items as readonly PublishItem<DomainEventDefinition>[]).map(toEnvelope);
      const answer = await post(envelopes, requestOptions);
      return { ...(answer.body as { events: readonly PublishReceipt[] }), status: answer.status };
    },

    async getEvent(id, requestOptions = {}) {
      try {
        const answer = await sendWithRetries(
          {
            method: 'GET',
            url: `${base}/v1/events/${encodeURIComponent(id)}`,
            headers: headersFor('GET'),
            signal: requestOptions.signal,
          },
          settings,
        );
        return answer.body as MeshEvent;
      } catch (error) {
        if (error instanceof MeshApiError && error.status === 404) return null;
        throw error;
      }
    },
  };
}

function withRequest(traceparent: string | undefined, signal: AbortSignal | undefined): RequestOptions {
  return {
    ...(traceparent === undefined ? {} : { traceparent }),
    ...(signal === undefined ? {} : { signal }),
  };
}

function toTimestamp(value: string | Date): string {
  return typeof value === 'string' ? value : value.toISOString();
}

function positive(name: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) throw new RangeError(`${name} must be a positive number`);
  return value;
}

function nonNegative(name: string, value: number, integer = false): number {
  if (!(value >= 0) || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw new RangeError(`${name} must be a non-negative ${integer ? 'integer' : 'number'}`);
  }
  return value;
}
