import type { Clock } from '../core/clock.ts';
import { toCloudEventHeaders } from '../core/delivery-request.ts';
import type {
  LeasedForPublish,
  OrderingKeyScope,
  PublishedRecord,
  PublishFailedRecord,
  PublishQueue,
} from '../core/publish-queue.ts';
import { isTimeout, withTimeout } from './with-timeout.ts';

/** QStash takes at most 100 messages per `/v2/batch` request. */
export const QSTASH_BATCH_LIMIT = 100;
/** First back-off after a failed publish; doubled on each further failure… */
export const MIN_PUBLISH_DELAY_MS = 1000;
/** …up to this. Nothing is lost meanwhile: the delivery waits in the outbox. */
export const MAX_PUBLISH_DELAY_MS = 5 * 60_000;

/** One message of a `/v2/batch` request, in `@upstash/qstash`'s `PublishBatchRequest` shape. */
export interface QStashBatchMessage {
  url: string;
  body: string;
  headers: Record<string, string>;
  method: 'POST';
  retries: number;
  retryDelay?: string;
  deduplicationId: string;
  callback: string;
  failureCallback: string;
}

/**
 * What the transport needs of `@upstash/qstash`'s `Client`: `batch`. Not `batchJSON`, which runs
 * `JSON.stringify` on the body — on the stored text that would deliver a JSON string literal, and
 * re-serialising a parsed copy would not keep the stored bytes. `batch` sends the string as it is,
 * and the `content-type: application/json` header goes with it.
 */
export interface QStashPublisher {
  /** One answer per message, in order; hookmesh reads `messageId` from each (URLs, not URL groups). */
  batch(messages: QStashBatchMessage[]): Promise<readonly unknown[]>;
}

export interface QStashTransportOptions {
  readonly queue: PublishQueue;
  /** `new Client({ token, baseUrl })` from `@upstash/qstash`, or anything with its `batch`. */
  readonly client: QStashPublisher;
  /** `<HOOKMESH_PUBLIC_URL>/v1/qstash/callback`: where QStash reports every attempt and failure. */
  readonly callbackUrl: string;
  readonly clock: Clock;
  /** Unique per process or isolate: leases name their holder (each sweep adds its own suffix). */
  readonly owner: string;
  /** How long a sweep holds what it publishes (default 30 s); outlives `publishTimeoutMs`. */
  readonly leaseMs?: number;
  /** A publish request not answered in this long counts as failed (default 10 s). */
  readonly publishTimeoutMs?: number;
  /** Most deliveries one `publishDue` takes on (default 5000), so a sweep ends in bounded time. */
  readonly maxPerSweep?: number;
  /** Failed publishes (logs); never given secrets. */
  readonly onError?: (error: unknown) => void;
}

export interface PublishDueResult {
  /** Deliveries QStash accepted (now `in_flight`, outcomes come by callback). */
  readonly published: number;
  /** Deliveries whose publish failed; they stay `pending` and are due again after a back-off. */
  readonly failed: number;
}

export interface QStashTransport {
  /**
   * Publishes every delivery due now, ≤ 100 per request. Run it after an ingest (`waitUntil`) and
   * from a sweep (cron on Workers, a timer on Node): a failed publish is simply due again later.
   */
  publishDue(): Promise<PublishDueResult>;
  /**
   * Publishes the next delivery of one subscription and ordering key, if it is due: one lease of
   * at most one delivery, found through the ordering index. Run it (in the background) after a
   * callback settled the one before (`recordCallback`'s `released`), so a key's deliveries follow
   * each other at QStash's pace rather than the sweep's. Racing a sweep or another callback is
   * safe: the lease lets one of them publish it.
   */
  publishNext(scope: OrderingKeyScope): Promise<PublishDueResult>;
  /**
   * Publishes deliveries leased to `owner` elsewhere — by a lease run inside an ingest's own
   * transaction (`toLeaseForPublish`) — and records the outcome, as `publishDue` does with what it
   * leased itself.
   */
  publishLeased(leased: readonly LeasedForPublish[], owner: string): Promise<PublishDueResult>;
}

/**
 * The production transport: hands due deliveries to QStash, which attempts, retries and signs them
 * and reports each outcome to `/v1/qstash/callback`. The deduplication id is the delivery id plus
 * its generation, so a publish repeated after a crash or a timeout gets the first message back,
 * while a replay (a new generation) is a new message.
 * @example
 * const transport = createQStashTransport({ queue, client: new Client({ token }), callbackUrl, clock: systemClock, owner });
 * ctx.waitUntil(transport.publishDue());
 */
export function createQStashTransport(options: QStashTransportOptions): QStashTransport {
  const { queue, client, clock } = options;
  const leaseMs = options.leaseMs ?? 30_000;
  const publishTimeoutMs = options.publishTimeoutMs ?? 10_000;
  const maxPerSweep = options.maxPerSweep ?? 5000;
  let sweeps = 0;

  const toMessage = (d: LeasedForPublish): QStashBatchMessage => ({
    url: d.url,
    body: d.event.data,
    // `content-type` stays as it is; the client sends the rest as `Upstash-Forward-*`.
    headers: toCloudEventHeaders(d.event, d.traceparent),
    method: 'POST',
    retries: d.maxRetries,
    ...(d.retryDelay === null ? {} : { retryDelay: d.retryDelay }),
    deduplicationId: `${d.id}-${d.generation}`,
    callback: options.callbackUrl,
    failureCallback: options.callbackUrl,
  });

  /**
   * Publishes one batch. A batch of several that QStash refuses (a 4xx that is not about the
   * caller), or that fails with no HTTP answer at all, is retried one message at a time, so one bad
   * message never holds back the others: a destination QStash refuses, a body over the size limit,
   * or a message `@upstash/qstash` cannot even encode (a header value with a newline throws while
   * the request is built, with no status). The bad one fails alone and backs off.
   */
  const publish = async (
    batch: readonly LeasedForPublish[],
    owner: string,
  ): Promise<{ published: PublishedRecord[]; failed: PublishFailedRecord[] }> => {
    try {
      const answers = await withTimeout(client.batch(batch.map(toMessage)), publishTimeoutMs);
      const at = clock.now();
      const ids = answers.map((a) => (a as { messageId?: unknown } | null)?.messageId);
      if (ids.length !== batch.length || ids.some((id) => typeof id !== 'string' || id === '')) {
        throw new Error(`QStash answered ${ids.length} message ids for ${batch.length} messages`);
      }
      return {
        published: batch.map((d, i) => ({
          deliveryId: d.id,
          owner,
          generation: d.generation,
          messageId: ids[i] as string,
          at,
        })),
        failed: [],
      };
    } catch (error) {
      if (batch.length > 1 && mayBeOneBadMessage(error)) {
        const one = await Promise.all(batch.map((d) => publish([d], owner)));
        return {
          published: one.flatMap((r) => r.published),
          failed: one.flatMap((r) => r.failed),
        };
      }
      options.onError?.(error);
      const at = clock.now();
      return {
        published: [],
        failed: batch.map((d) => ({
          deliveryId: d.id,
          owner,
          at,
          nextAttemptAt: at + nextPublishDelayMs(d.lastPublishDelayMs),
        })),
      };
    }
  };

  /** Publishes what was leased and records the outcome: how many went, how many failed. */
  const publishLeased = async (leased: readonly LeasedForPublish[], owner: string) => {
    const result = await publish(leased, owner);
    await queue.markPublished(result.published);
    await queue.markPublishFailed(result.failed);
    return { published: result.published.length, failed: result.failed.length };
  };

  // A lease per pass, not per process: two overlapping passes of one isolate (cron, waitUntil
  // after an ingest or a callback) must not clear or take over each other's leases.
  const nextOwner = () => `${options.owner}/${++sweeps}`;

  return {
    async publishDue() {
      const owner = nextOwner();
      let published = 0;
      let failed = 0;
      while (published + failed < maxPerSweep) {
        const leased = await queue.leaseForPublish({
          owner,
          now: clock.now(),
          leaseMs,
          limit: Math.min(QSTASH_BATCH_LIMIT, maxPerSweep - published - failed),
        });
        if (leased.length === 0) break;
        const result = await publishLeased(leased, owner);
        published += result.published;
        failed += result.failed;
        if (leased.length < QSTASH_BATCH_LIMIT) break;
      }
      return { published, failed };
    },

    async publishNext(scope) {
      const owner = nextOwner();
      const leased = await queue.leaseForPublish({ owner, now: clock.now(), leaseMs, limit: 1, only: scope });
      return leased.length === 0 ? { published: 0, failed: 0 } : publishLeased(leased, owner);
    },

    publishLeased: async (leased, owner) =>
      leased.length === 0 ? { published: 0, failed: 0 } : publishLeased(leased, owner),
  };
}

/**
 * The back-off after a failed publish: double the last one, from 1 s up to 5 min. Publishing fails
 * when QStash is down or refuses; the destination's own retries are QStash's business.
 * @example nextPublishDelayMs(0) // 1000; nextPublishDelayMs(4000) // 8000
 */
export function nextPublishDelayMs(lastDelayMs: number): number {
  return Math.min(MAX_PUBLISH_DELAY_MS, Math.max(MIN_PUBLISH_DELAY_MS, lastDelayMs * 2));
}

/**
 * Whether a failed batch may have failed for one of its messages, and so is worth splitting:
 * - a 4xx other than auth and rate limits: QStash refused what was sent, not the caller;
 * - no HTTP status at all: the client threw before or without an answer. That is how a message it
 *   cannot encode fails (the whole batch with it), but also how a network outage looks; splitting
 *   an outage costs one quick failing request per message, once per back-off, which is the price
 *   of never letting a poison message hold the others back.
 * Not a timeout: QStash being slow says nothing about the messages, and splitting would only
 * multiply the wait.
 */
function mayBeOneBadMessage(error: unknown): boolean {
  if (isTimeout(error)) return false;
  const status = (error as { status?: unknown } | null)?.status;
  if (typeof status !== 'number') return true;
  return status >= 400 && status < 500 && ![401, 403, 429].includes(status);
}
