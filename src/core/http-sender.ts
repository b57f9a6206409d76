import type { DeliveryRequest } from './delivery-request.ts';

/** What came back from one attempt. */
export interface SendResult {
  readonly status: number;
  /** Response headers, lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  /** The start of the response body, capped (attempt records keep a few KiB). */
  readonly excerpt: string;
}

export interface SendOptions {
  /** The subscription is the operator's own (declared in code): no address guard. */
  readonly trusted: boolean;
  readonly timeoutMs: number;
}

/**
 * Sends one attempt: POST, no redirects followed, a per-attempt timeout. Throws on network error,
 * timeout or a refused address (the dispatcher records the message and retries). One
 * implementation per runtime: undici on Node, `fetch` elsewhere.
 */
export type HttpSender = (request: DeliveryRequest, options: SendOptions) => Promise<SendResult>;

/** Longest response excerpt kept with an attempt. */
export const RESPONSE_EXCERPT_BYTES = 2048;
