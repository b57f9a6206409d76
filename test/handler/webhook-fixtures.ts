import * as v from 'valibot';
import { createManualClock } from '../../src/core/clock.ts';
import { type DeliveryRequest, toDeliveryRequest } from '../../src/core/delivery-request.ts';
import { defineIntegrationEvent } from '../../src/core/integration-event.ts';
import {
  createMemoryInbox,
  createWebhookApp,
  defineHandler,
  type HandlerContext,
  type Inbox,
  type IntegrationEventOf,
  type WebhookAppOptions,
  type WebhookErrorContext,
} from '../../src/handler/index.ts';

export const CURRENT = 'sig_current_7kYjw48mhY7kAjqNGcy6cr29RJ6r';
export const NEXT = 'sig_next_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs';
export const PUBLIC_URL = 'https://billing.example.com';
export const TYPE = 'order.created.v1';
export const ROUTE_URL = `${PUBLIC_URL}/webhooks/${TYPE}`;
/** A whole second, so iat = NOW / 1000 exactly and expiry boundaries are exact. */
export const NOW = Date.UTC(2026, 10, 30, 12, 0, 0);

export const OrderCreatedV1 = defineIntegrationEvent(
  TYPE,
  v.object({ orderId: v.pipe(v.string(), v.minLength(1)), total: v.number(), currency: v.string() }),
);

export type OrderCreatedEvent = IntegrationEventOf<typeof OrderCreatedV1>;

export const DATA = { orderId: 'o_1', total: 42, currency: 'EUR' };

/** One delivery attempt exactly as the mesh puts it on the wire. */
export function delivery(
  overrides: {
    id?: string;
    type?: string;
    url?: string;
    body?: string;
    data?: unknown;
    retried?: number;
    messageId?: string;
    signingKey?: string;
    nowMs?: number;
  } = {},
): Promise<DeliveryRequest> {
  return toDeliveryRequest({
    url: overrides.url ?? ROUTE_URL,
    event: {
      id: overrides.id ?? 'ie_01',
      type: overrides.type ?? TYPE,
      source: '/producers/orders',
      time: '2026-11-30T11:59:58.000Z',
      data: overrides.body ?? JSON.stringify(overrides.data ?? DATA),
    },
    traceparent: null,
    retried: overrides.retried ?? 0,
    messageId: overrides.messageId ?? 'msg_1',
    signingKey: overrides.signingKey ?? CURRENT,
    nowMs: overrides.nowMs ?? NOW,
  });
}

type App = ReturnType<typeof createWebhookApp>;

/** Sends a delivery to the app in process, optionally to another URL or with changed parts. */
export async function send(
  app: App,
  req: DeliveryRequest,
  patch: { url?: string; headers?: Record<string, string | null>; body?: string } = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...req.headers };
  for (const [name, value] of Object.entries(patch.headers ?? {})) {
    if (value === null) delete headers[name];
    else headers[name] = value;
  }
  return app.request(patch.url ?? req.url, { method: 'POST', headers, body: patch.body ?? req.body });
}

/** An inbox that counts what the app asks of it, to prove a refused request never reached it. */
export function countingInbox(inner: Inbox = createMemoryInbox()) {
  const counts = { claim: 0, complete: 0, release: 0, extend: 0, recordToken: 0 };
  const inbox: Inbox = {
    claim: (input) => {
      counts.claim++;
      return inner.claim(input);
    },
    complete: (input) => {
      counts.complete++;
      return inner.complete(input);
    },
    release: (input) => {
      counts.release++;
      return inner.release(input);
    },
    extend: (input) => {
      counts.extend++;
      return inner.extend(input);
    },
    recordToken: (input) => {
      counts.recordToken++;
      return inner.recordToken(input);
    },
  };
  const admit = inner.recordTokenAndClaim?.bind(inner);
  if (admit !== undefined) {
    // Counted as the two calls it stands for, so the counts mean the same with or without it.
    inbox.recordTokenAndClaim = async (input) => {
      counts.recordToken++;
      const admitted = await admit(input);
      if (admitted.claim !== null) counts.claim++;
      return admitted;
    };
  }
  return { inbox, counts };
}

/** Nothing asked of the inbox. */
export const UNTOUCHED = { claim: 0, complete: 0, release: 0, extend: 0, recordToken: 0 };

/**
 * A timer driven by hand, for the webhook app's `repeat` option: `tick()` runs every live callback
 * once, as if its interval had elapsed.
 */
export function manualRepeat() {
  const live = new Set<{ fn: () => void; ms: number }>();
  const repeat = (fn: () => void, ms: number) => {
    const timer = { fn, ms };
    live.add(timer);
    return () => {
      live.delete(timer);
    };
  };
  return {
    repeat,
    tick() {
      for (const timer of [...live]) timer.fn();
    },
    intervals: () => [...live].map((t) => t.ms),
  };
}

/**
 * Waits until `condition` holds — e.g. a copy has recorded its token, which it does once it has
 * passed its signature check and joined the run in progress — turning the event loop over between
 * looks. No wall-clock wait: a loaded machine makes it take more turns, never a wrong answer.
 */
export async function until(condition: () => boolean, turns = 100_000): Promise<void> {
  for (let turn = 0; turn < turns; turn++) {
    if (condition()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error('the condition never held');
}

/** A promise settled from outside, to hold a handler mid-run. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** The webhook app with one `order.created.v1` handler that records every call. */
export function setup(
  options: {
    handle?: (event: OrderCreatedEvent, ctx: HandlerContext, call: number) => Promise<void> | void;
    inbox?: Inbox;
  } & Partial<Omit<WebhookAppOptions, 'handlers' | 'inbox'>> = {},
) {
  const clock = createManualClock(NOW);
  const calls: { event: OrderCreatedEvent; ctx: HandlerContext }[] = [];
  const errors: { error: unknown; ctx: WebhookErrorContext }[] = [];
  const counted = countingInbox(options.inbox);
  const { handle, inbox: _inbox, ...rest } = options;
  const app = createWebhookApp({
    handlers: [
      defineHandler(OrderCreatedV1, async (event, ctx) => {
        calls.push({ event, ctx });
        await handle?.(event, ctx, calls.length);
      }),
    ],
    signingKeys: { current: CURRENT, next: NEXT },
    inbox: counted.inbox,
    publicUrl: PUBLIC_URL,
    clock,
    onError: (error, ctx) => errors.push({ error, ctx }),
    ...rest,
  });
  return { app, clock, calls, errors, counts: counted.counts };
}
