import { createHash, createHmac } from 'node:crypto';
import { Readable } from 'node:stream';
import { signQStashJwt } from '../../../src/core/signature.ts';
import { ADMIN_TOKEN, PRODUCER_TOKEN, SIGNING_KEY } from '../fixture.ts';
import type { ApiRequest, Body, HostileRequest, WebhookRequest } from './arbitraries.ts';

// Turns a generated description into the request that goes on the wire, with what the harness
// must remember to judge the answer: ids earlier answers created stand in for `{sub}`, `{event}`
// and `{delivery}`, and webhook tokens are minted (or forged) here.

export const OTHER_PRODUCER_TOKEN = 'reliability-other-producer-0123456789ab';

export interface Wire {
  readonly target: 'mesh' | 'handler';
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string | Uint8Array | Readable | null;
  readonly expect: Expectation;
}

export type Expectation =
  | { readonly kind: 'events' }
  | { readonly kind: 'subscription-create' }
  | { readonly kind: 'deliveries-list' }
  | { readonly kind: 'other' }
  /**
   * `mayRun`: the handler may run for `ceId` (a fresh, valid, signed, well-formed delivery);
   * `presented` is what a later request may replay, once this one has been answered; `jti` the id
   * of a token minted here, correctly, for exactly this body and URL (null for any other token).
   */
  | {
      readonly kind: 'webhook';
      readonly mayRun: boolean;
      readonly jti: string | null;
      readonly ceId: string | null;
      readonly presented: { token: string; body: Uint8Array; path: string; ceId: string } | null;
    };

/** What earlier answers made, for later requests to refer to. */
export interface HostileState {
  readonly subscriptions: string[];
  readonly events: string[];
  readonly deliveries: string[];
  /** Recent valid webhook presentations, to be replayed. */
  readonly presented: { token: string; body: Uint8Array; path: string; ceId: string }[];
}

/** Remembers an answered presentation for later replays (only answered ones: a replay must come after). */
export function rememberPresented(state: HostileState, wire: Wire): void {
  if (wire.expect.kind !== 'webhook' || wire.expect.presented === null) return;
  state.presented.push(wire.expect.presented);
  if (state.presented.length > 64) state.presented.shift();
}

export function createHostileState(): HostileState {
  return { subscriptions: [], events: [], deliveries: [], presented: [] };
}

const encoder = new TextEncoder();

export async function toWire(
  request: HostileRequest,
  state: HostileState,
  handlerUrl: string,
  seq: number,
): Promise<Wire> {
  return request.target === 'mesh'
    ? toApiWire(request, state, seq)
    : await toWebhookWire(request, state, handlerUrl, seq);
}

function pickFrom(list: readonly string[], seq: number, fallback: string): string {
  return list.length === 0 ? fallback : list[seq % list.length]!;
}

function toApiWire(request: ApiRequest, state: HostileState, seq: number): Wire {
  const path = request.path
    .replace('{sub}', encodeURIComponent(pickFrom(state.subscriptions, seq, 'no-such-subscription')))
    .replace('{event}', encodeURIComponent(pickFrom(state.events, seq, 'no-such-event')))
    .replace('{delivery}', encodeURIComponent(pickFrom(state.deliveries, seq, 'no-such-delivery')));
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) headers[name] = toHeaderValue(value);
  const authorization = {
    producer: `Bearer ${PRODUCER_TOKEN}`,
    'other-producer': `Bearer ${OTHER_PRODUCER_TOKEN}`,
    admin: `Bearer ${ADMIN_TOKEN}`,
    none: null,
    garbage: toHeaderValue(request.authRaw),
  }[request.auth];
  if (authorization !== null) headers.authorization = authorization;
  if (request.contentType !== null) headers['content-type'] = request.contentType;
  const bodyless = request.method === 'GET' || request.method === 'HEAD';
  const expect: Expectation =
    request.kind === 'events' && request.method === 'POST' && path === '/v1/events'
      ? { kind: 'events' }
      : request.kind === 'subscriptions' && request.method === 'POST' && path === '/v1/subscriptions'
        ? { kind: 'subscription-create' }
        : request.kind === 'deliveries' && request.method === 'GET' && path.startsWith('/v1/deliveries')
          ? { kind: 'deliveries-list' }
          : { kind: 'other' };
  return {
    target: 'mesh',
    method: request.method,
    path,
    headers,
    body: bodyless ? null : toBody(request.body),
    expect,
  };
}

function toBody(body: Body): Wire['body'] {
  switch (body.kind) {
    case 'none':
      return null;
    case 'json':
      return JSON.stringify(body.value) ?? 'null';
    case 'text':
      return body.text;
    case 'bytes':
      return body.bytes;
    case 'padded': {
      const base =
        body.value !== null && typeof body.value === 'object' && !Array.isArray(body.value)
          ? body.value
          : { value: body.value };
      const text = JSON.stringify({ ...base, metadata: { pad: '' } });
      return JSON.stringify({ ...base, metadata: { pad: 'x'.repeat(Math.max(0, body.size - text.length)) } });
    }
    case 'chunked': {
      const chunk = encoder.encode(body.text.repeat(64));
      const repeat = body.repeat;
      return Readable.from(
        (function* () {
          for (let i = 0; i < repeat; i++) yield chunk;
        })(),
      );
    }
  }
}

async function toWebhookWire(
  request: WebhookRequest,
  state: HostileState,
  handlerUrl: string,
  seq: number,
): Promise<Wire> {
  const now = Date.now();
  let path = `${request.route}${request.query}`;
  let body = toWebhookBody(request.body);
  let ceId =
    request.ceId.kind === 'fresh'
      ? request.ceId.id
      : request.ceId.kind === 'pool'
        ? `ce-pool-${request.ceId.n}`
        : request.ceId.value;
  let token: string | null;
  let replayed = false;
  const sign = (overrides: { key?: string; url?: string; body?: Uint8Array; nowMs?: number } = {}) =>
    signQStashJwt({
      key: overrides.key ?? SIGNING_KEY,
      url: overrides.url ?? `${handlerUrl}${path}`,
      body: overrides.body ?? body,
      nowMs: overrides.nowMs ?? now,
    });
  switch (request.token) {
    case 'replay':
    case 'replay-other-ce-id': {
      const earlier =
        state.presented[state.presented.length - 1 - (seq % Math.max(1, state.presented.length))];
      if (earlier === undefined) {
        token = await sign();
        break;
      }
      replayed = true;
      token = earlier.token;
      body = earlier.body;
      path = earlier.path;
      ceId = request.token === 'replay' ? earlier.ceId : `ce-replay-${seq}`;
      break;
    }
    case 'valid':
      token = await sign();
      break;
    case 'other-body':
      token = await sign({ body: encoder.encode(`${new TextDecoder().decode(body)} `) });
      break;
    case 'other-subject':
      token = await sign({ url: `${handlerUrl}/webhooks/order.created.v1` });
      break;
    case 'other-key':
      token = await sign({ key: 'sig_someone_else_0123456789abcdef' });
      break;
    case 'expired':
      token = await sign({ nowMs: now - 400_000 });
      break;
    case 'not-yet-valid':
      token = await sign({ nowMs: now + 400_000 });
      break;
    case 'alg-none':
      token = forge({ alg: 'none', typ: 'JWT' }, handlerUrl + path, body, now, null);
      break;
    case 'hs512':
      token = forge({ alg: 'HS512', typ: 'JWT' }, handlerUrl + path, body, now, 'sha512');
      break;
    case 'garbage':
      token = `eyJ${Math.random().toString(36).slice(2)}.x.y`;
      break;
    case 'missing':
      token = null;
      break;
    case 'truncated':
      token = (await sign()).slice(0, -4);
      break;
    case 'flipped': {
      const valid = await sign();
      const i = Math.floor(valid.length / 2);
      token = `${valid.slice(0, i)}${valid[i] === 'A' ? 'B' : 'A'}${valid.slice(i + 1)}`;
      break;
    }
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) headers[name] = toHeaderValue(value);
  if (token !== null) headers['upstash-signature'] = token;
  if (ceId !== null) headers['ce-id'] = toHeaderValue(ceId);
  if (request.ceType !== null) headers['ce-type'] = request.ceType;
  if (request.ceSpecversion !== null) headers['ce-specversion'] = request.ceSpecversion;
  if (request.ceSource !== null) headers['ce-source'] = request.ceSource;
  if (request.ceTime !== null) headers['ce-time'] = request.ceTime;
  // May the handler run for this request? Judged permissively, from what is actually sent (header
  // values travel trimmed): a fresh token minted here for this body and URL, a body the schema
  // takes, a usable ce-id and type. The check is that it never runs for anything else.
  const sentCeId = headers['ce-id'];
  const wellFormed =
    request.method === 'POST' &&
    (path === '/webhooks/order.paid.v1' || path.startsWith('/webhooks/order.paid.v1?')) &&
    request.body.kind === 'valid' &&
    sentCeId !== undefined &&
    sentCeId !== '' &&
    headers['ce-type']?.trim() === 'order.paid.v1' &&
    (headers['ce-source'] ?? '') !== '' &&
    (headers['ce-time'] ?? '') !== '' &&
    (headers['ce-specversion'] === undefined || headers['ce-specversion'].trim() === '1.0');
  // A token minted here with the right key, for this URL and body (a replay carries one too).
  const genuine =
    request.token === 'valid' || request.token === 'replay' || request.token === 'replay-other-ce-id';
  const freshToken = !replayed && genuine;
  const mayRun = freshToken && wellFormed;
  const presented =
    mayRun && token !== null && sentCeId !== undefined ? { token, body, path, ceId: sentCeId } : null;
  return {
    target: 'handler',
    method: request.method,
    path,
    headers,
    body: request.method === 'GET' || request.method === 'HEAD' ? null : body,
    expect: {
      kind: 'webhook',
      mayRun,
      ceId: sentCeId ?? null,
      presented,
      jti: genuine && token !== null ? jtiOf(token) : null,
    },
  };
}

function toWebhookBody(body: WebhookRequest['body']): Uint8Array {
  switch (body.kind) {
    case 'valid':
      return encoder.encode(JSON.stringify(body.data));
    case 'mismatch':
      return encoder.encode(JSON.stringify(body.value) ?? 'null');
    case 'text':
      return encoder.encode(body.text);
    case 'bytes':
      return body.bytes;
    case 'huge':
      return encoder.encode(`{"orderId":"${'x'.repeat(body.size)}","amount":1,"paidAt":"x"}`);
  }
}

/** A token with any header, HMAC'd with the right key (or not at all). */
function forge(
  header: Record<string, unknown>,
  url: string,
  body: Uint8Array,
  nowMs: number,
  hmac: 'sha512' | null,
): string {
  const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
  const iat = Math.floor(nowMs / 1000);
  const claims = {
    iss: 'Upstash',
    sub: url,
    iat,
    nbf: iat,
    exp: iat + 300,
    jti: `jwt_forged_${nowMs}_${Math.random()}`,
    body: createHash('sha256').update(body).digest('base64url'),
  };
  const input = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(claims))}`;
  return `${input}.${hmac === null ? '' : createHmac(hmac, SIGNING_KEY).update(input).digest('base64url')}`;
}

function jtiOf(token: string): string | null {
  try {
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      jti?: unknown;
    };
    return typeof claims.jti === 'string' ? claims.jti : null;
  } catch {
    return null;
  }
}

/** Printable ASCII only: an HTTP client refuses anything else in a header before sending it. */
function toHeaderValue(value: string): string {
  return value.replace(/[^\x20-\x7e]/g, '?').trim();
}
