/**
 * The QStash double's HTTP surface: reading `POST /v2/publish/<url>` and `POST /v2/batch` off the
 * wire, showing a message (`GET /v2/messages/<id>`), and answering in QStash's shape
 * (`{ messageId, url }`, errors as `{ "error": "…" }`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { toCanonicalHeaderName } from './qstash-double-options.ts';

/** A refusal, answered as `{ "error": message }` with its status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface BatchEntry {
  readonly destination: string;
  readonly headers: Record<string, string>;
  readonly body: Uint8Array;
}

/** QStash's answer for one accepted (or deduplicated) message. */
export function publishAnswer(message: { id: string; destination: string }, duplicate: boolean) {
  return { messageId: message.id, url: message.destination, ...(duplicate ? { deduplicated: true } : {}) };
}

/** What `GET /v2/messages/<id>` shows of a message: the fields `messageAnswer` reads. */
export interface ShownMessage {
  readonly id: string;
  readonly destination: string;
  readonly method: string;
  readonly forwardHeaders: Readonly<Record<string, string>>;
  readonly bodyBytes: Uint8Array;
  readonly retries: number;
  readonly notBefore: number;
  readonly createdAt: number;
  readonly callback: { readonly url: string } | null;
  readonly failureCallback: { readonly url: string } | null;
  readonly callerIp: string;
}

/**
 * `GET /v2/messages/<id>`'s answer, in the documented shape: `header` holds what the destination
 * is sent on the message's behalf (Go's header spelling, values as arrays); `body` is the body
 * when it is UTF-8, else empty with `bodyBase64` set; times in ms. Fields for URL groups, queues,
 * schedules, labels and flow control are left out (not simulated).
 */
export function messageAnswer(message: ShownMessage) {
  const header: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(message.forwardHeaders)) {
    header[toCanonicalHeaderName(name)] = [value];
  }
  let body: string | null;
  try {
    body = new TextDecoder('utf-8', { fatal: true }).decode(message.bodyBytes);
  } catch {
    body = null;
  }
  return {
    messageId: message.id,
    url: message.destination,
    method: message.method,
    header,
    ...(body === null ? { bodyBase64: Buffer.from(message.bodyBytes).toString('base64') } : { body }),
    maxRetries: message.retries,
    notBefore: message.notBefore,
    createdAt: message.createdAt,
    ...(message.callback ? { callback: message.callback.url } : {}),
    ...(message.failureCallback ? { failureCallback: message.failureCallback.url } : {}),
    callerIP: message.callerIp,
  };
}

/**
 * The destination is the rest of the path, query included. Some clients percent-encode it, and
 * some proxies fold `//` into `/`; QStash accepts both spellings.
 */
export function toDestination(raw: string): string {
  const decoded = /^https?%3A/i.test(raw) ? decodeURIComponent(raw) : raw;
  return decoded.replace(/^(https?):\/(?!\/)/i, '$1://');
}

export function requestHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (name === 'authorization' || value === undefined) continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

/** `POST /v2/batch`: a JSON array of `{ destination, headers?, body? }`; names lower-cased. */
export function readBatch(body: Uint8Array): BatchEntry[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch {
    throw new ApiError(400, 'batch body is not valid JSON');
  }
  if (!Array.isArray(parsed)) throw new ApiError(400, 'batch body must be a JSON array');
  return parsed.map((item: unknown, i) => {
    if (typeof item !== 'object' || item === null) throw new ApiError(400, `batch[${i}] is not an object`);
    const { destination, headers = {}, body: text = '' } = item as Record<string, unknown>;
    if (typeof destination !== 'string') throw new ApiError(400, `batch[${i}].destination is required`);
    if (typeof headers !== 'object' || headers === null)
      throw new ApiError(400, `batch[${i}].headers is invalid`);
    if (typeof text !== 'string') throw new ApiError(400, `batch[${i}].body must be a string`);
    const lowered: Record<string, string> = {};
    for (const [name, value] of Object.entries(headers)) lowered[name.toLowerCase()] = String(value);
    return { destination, headers: lowered, body: new TextEncoder().encode(text) };
  });
}

export async function readBody(req: IncomingMessage): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return new Uint8Array(Buffer.concat(chunks));
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** `msg_` and 27 URL-safe characters, the length of QStash's ids. */
export function newMessageId(): string {
  return `msg_${Buffer.from(crypto.getRandomValues(new Uint8Array(20))).toString('base64url')}`;
}
