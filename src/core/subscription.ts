import { DefinitionError } from './errors.ts';
import { isSubscriptionPattern } from './event-type.ts';
import type { IntegrationEventDefinition } from './integration-event.ts';
import { parseDelayExpression } from './retry-delay-expression.ts';
import { compileFilter, type SubscriptionFilter } from './subscription-filter.ts';

export const DEFAULT_RETRIES = 10;
export const MAX_RETRIES = 20;
/** Attempts in flight at once for one subscription by default (DESIGN "Delivery control"). */
export const DEFAULT_MAX_CONCURRENCY = 16;
/** The most a subscription may ask for. */
export const MAX_CONCURRENCY_LIMIT = 1000;
/** Consecutive failed attempts after which a subscription pauses itself (DESIGN "Auto-pause"). */
export const DEFAULT_PAUSE_AFTER = 50;
/** The most `pauseAfter` may be; 0 means never. */
export const PAUSE_AFTER_LIMIT = 10_000;

/** An integration event type (or `prefix.*`) bound to a handler URL, with its retry policy. */
export interface Subscription {
  readonly id: string;
  /** Exact integration event type, or `prefix.*`. */
  readonly type: string;
  readonly url: string;
  /** Retries after the first attempt (total attempts = retries + 1). */
  readonly retries: number;
  /** QStash delay expression in milliseconds over `retried`; null = QStash's default backoff. */
  readonly retryDelay: string | null;
  /** `code` = declared by the operator (trusted); `api` = created through the admin API. */
  readonly origin: 'code' | 'api';
  /** Most attempts in flight at once for this subscription, across dispatchers (1–1000). */
  readonly maxConcurrency: number;
  /**
   * Consecutive failed attempts, across its deliveries, after which it is paused with reason
   * `failing` (0–10000, 0 = never).
   */
  readonly pauseAfter: number;
  /**
   * Matched against each integration event's data at commit time; events that don't match get no
   * delivery (src/core/subscription-filter.ts). Null = every event of its type.
   */
  readonly filter: SubscriptionFilter | null;
}

export interface SubscriptionOptions {
  /** A stable id; by default derived from the type and URL. */
  id?: string;
  retries?: number;
  retryDelay?: string;
  /** Most attempts in flight at once (default 16, at most 1000): a slow endpoint uses its share only. */
  maxConcurrency?: number;
  /** Pause after this many consecutive failed attempts (default 50, at most 10000; 0 = never). */
  pauseAfter?: number;
  /**
   * Deliver only events whose data matches, e.g. `{ currency: 'EUR', total: { $gte: 100 } }`
   * (operators `$eq $ne $in $nin $gt $gte $lt $lte $exists $and $or $not`).
   */
  filter?: SubscriptionFilter;
}

/**
 * Declares, in code, that `url` receives every integration event of a type (or `prefix.*`).
 * @example defineSubscription(OrderCreatedV1, 'https://billing.example.com/webhooks/order.created.v1')
 */
export function defineSubscription(
  event: IntegrationEventDefinition | string,
  url: string,
  options: SubscriptionOptions = {},
): Subscription {
  const type = typeof event === 'string' ? event : event.type;
  if (!isSubscriptionPattern(type)) {
    throw new DefinitionError(
      `subscription type ${JSON.stringify(type)} is neither an integration type nor prefix.*`,
    );
  }
  if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
    throw new DefinitionError(`subscription URL ${JSON.stringify(url)} must be an absolute http(s) URL`);
  }
  const retries = options.retries ?? DEFAULT_RETRIES;
  if (!Number.isInteger(retries) || retries < 0 || retries > MAX_RETRIES) {
    throw new DefinitionError(`subscription retries must be an integer from 0 to ${MAX_RETRIES}`);
  }
  const maxConcurrency = options.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY;
  if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1 || maxConcurrency > MAX_CONCURRENCY_LIMIT) {
    throw new DefinitionError(
      `subscription maxConcurrency must be an integer from 1 to ${MAX_CONCURRENCY_LIMIT}`,
    );
  }
  const pauseAfter = options.pauseAfter ?? DEFAULT_PAUSE_AFTER;
  if (!Number.isInteger(pauseAfter) || pauseAfter < 0 || pauseAfter > PAUSE_AFTER_LIMIT) {
    throw new DefinitionError(`subscription pauseAfter must be an integer from 0 to ${PAUSE_AFTER_LIMIT}`);
  }
  if (options.retryDelay !== undefined) {
    // Checked at definition, as the API checks its own: a bad expression would otherwise surface
    // only at the first retry (or, with a control character, break QStash publishing).
    const parsed = parseDelayExpression(options.retryDelay);
    if (!parsed.ok) throw new DefinitionError(`subscription retryDelay is invalid: ${parsed.error}`);
  }
  if (options.filter !== undefined) {
    const checked = compileFilter(options.filter);
    if (!checked.ok) {
      const [first] = checked.issues;
      throw new DefinitionError(`subscription filter is invalid at ${first?.path || '/'}: ${first?.message}`);
    }
  }
  return Object.freeze({
    id: options.id ?? `sub_${stableHash(`${type} ${url}`)}`,
    type,
    url,
    retries,
    retryDelay: options.retryDelay ?? null,
    origin: 'code',
    maxConcurrency,
    pauseAfter,
    filter: options.filter ?? null,
  });
}

/** FNV-1a, 64-bit: a short, stable, synchronous name for a code-declared subscription. */
function stableHash(text: string): string {
  let h = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(text)) {
    h ^= BigInt(byte);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, '0');
}
