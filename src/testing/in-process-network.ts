import type { Clock } from '../core/clock.ts';
import type { HttpSender } from '../core/http-sender.ts';
import type { HandlerDefinition } from '../handler/define-handler.ts';
import { createMemoryInbox } from '../handler/memory-inbox.ts';
import { createWebhookApp } from '../handler/webhook-app.ts';
import { createFetchSender } from '../transports/fetch-sender.ts';
import type { HandlerRunLog } from './handler-runs.ts';

/**
 * Sits between a sender and whatever answers on the in-process network: look at the request,
 * answer it yourself, throw (a network error: the attempt fails and is retried), or pass it on.
 * @example const dropAck: Interceptor = async (request, next) => { await next(request); throw new Error('socket hang up'); };
 */
export type Interceptor = (
  request: Request,
  next: (request: Request) => Promise<Response>,
) => Promise<Response>;

export interface InProcessNetworkOptions {
  /** The mesh's base URL: an origin, no path. */
  readonly publicUrl: string;
  /** The mesh's API, answering requests to `publicUrl` that are not handler routes. */
  readonly api: { fetch(request: Request): Response | Promise<Response> };
  readonly handlers: readonly HandlerDefinition[];
  readonly signingKeys: { readonly current: string; readonly next?: string };
  readonly clock: Clock;
  readonly runs: HandlerRunLog;
}

export interface InProcessNetwork {
  /**
   * A `fetch` over the in-process network, interceptors included: what the handlers' context
   * gives them, and what the dispatcher's sender sends with.
   */
  readonly fetch: typeof fetch;
  /** The dispatcher's sender: the real `fetch` sender over this network. */
  readonly send: HttpSender;
  /** Answers one request directly, without interceptors (the test's own requests). */
  serve(request: Request): Promise<Response>;
  /** Adds an interceptor (the last added sees requests first); returns what removes it. */
  intercept(interceptor: Interceptor): () => void;
}

const HANDLER_PATH = /^\/webhooks\/([^/]+)$/;

/**
 * A network of in-process hosts. Each origin a delivery goes to is a consuming service serving
 * every given handler under `/webhooks/<type>` — a real webhook app (signatures, schemas) with
 * its own memory inbox, as separate services each have their own. The mesh's origin also serves
 * the API. Nothing else answers: a request elsewhere fails as a refused connection would.
 * @example const network = createInProcessNetwork({ publicUrl, api, handlers, signingKeys, clock, runs });
 */
export function createInProcessNetwork(options: InProcessNetworkOptions): InProcessNetwork {
  const meshOrigin = new URL(options.publicUrl).origin;
  const types = new Set(options.handlers.map((h) => h.event.type));
  const services = new Map<string, { fetch(request: Request): Response | Promise<Response> }>();
  const interceptors: Interceptor[] = [];

  const serviceAt = (origin: string) => {
    let app = services.get(origin);
    if (app === undefined) {
      app = createWebhookApp({
        handlers: options.handlers.map((h) => options.runs.record(h, origin)),
        signingKeys: options.signingKeys,
        inbox: createMemoryInbox(),
        publicUrl: origin,
        clock: options.clock,
        // In one process no one else holds a claim; should one ever be seen, it is never waited
        // for on a real timer.
        busyWait: { sleep: () => Promise.resolve() },
      });
      services.set(origin, app);
    }
    return app;
  };
  // Built now, so a mistake in the handlers (two for one type) surfaces when the mesh is created.
  if (options.handlers.length > 0) serviceAt(meshOrigin);

  const serve = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    const type = HANDLER_PATH.exec(url.pathname)?.[1];
    if (type !== undefined && types.has(type)) return serviceAt(url.origin).fetch(request);
    if (url.origin === meshOrigin) return options.api.fetch(request);
    const served = types.size > 0 ? [...types].map((t) => `/webhooks/${t}`).join(', ') : 'no handler route';
    throw new TypeError(
      `connect ECONNREFUSED ${url.host}: nothing in this test mesh answers ${url.origin}${url.pathname} (handlers answer at ${served}, on any origin)`,
    );
  };

  const networkFetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const chain = interceptors.reduce<(request: Request) => Promise<Response>>(
      (next, interceptor) => (r) => interceptor(r, next),
      serve,
    );
    return chain(request);
  };

  return {
    fetch: networkFetch as typeof fetch,
    send: createFetchSender({ allowPrivateNetwork: true, fetch: networkFetch as typeof fetch }),
    serve,
    intercept(interceptor) {
      interceptors.push(interceptor);
      return () => {
        const i = interceptors.indexOf(interceptor);
        if (i >= 0) interceptors.splice(i, 1);
      };
    },
  };
}
