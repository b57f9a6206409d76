import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { type Http2Bindings, type HttpBindings, serve } from '@hono/node-server';
import { signQStashJwtNode } from '../transports/node-signer.ts';
import { createUndiciSender } from '../transports/undici-sender.ts';
import type { ServedMesh, ServeMeshOptions } from './serve-mesh-options.ts';
import { startLocalEntry, toOrigin } from './startup.ts';

/**
 * Serves a mesh on Node: libSQL (`DATABASE_URL`, a file under `./data` by default) with migrations
 * applied, the API, the local dispatcher over undici and the given handlers, as `HOOKMESH_ROLE`
 * says. Reads DESIGN.md's configuration from `env` (default `process.env`; `PORT=0` picks a port).
 * @example
 * const served = await serveMesh({ mesh, handlers: [onOrderCreated] });
 * process.once('SIGTERM', () => served.close());
 */
export function serveMesh(options: ServeMeshOptions): Promise<ServedMesh> {
  return startLocalEntry(
    {
      name: 'Node',
      processName: `${hostname()}-${process.pid}`,
      async listen({ port, hostname: host }, handle) {
        const server = serve({
          fetch: (request: Request, bindings: HttpBindings | Http2Bindings) => {
            const answer = handle(request);
            // A synchronous answer stays synchronous: the server writes those on its fast path.
            return answer instanceof Promise
              ? answer.then((response) => settleUnreadBody(response, bindings.incoming))
              : settleUnreadBody(answer, bindings.incoming);
          },
          port,
          hostname: host,
        });
        await new Promise<void>((ok, fail) => {
          server.once('listening', ok);
          server.once('error', fail);
        });
        const address = server.address() as AddressInfo;
        return {
          url: toOrigin(address.address, address.port),
          close: () => new Promise<void>((ok) => server.close(() => ok())),
        };
      },
      createSender: (allowPrivateNetwork) => createUndiciSender({ allowPrivateNetwork }),
      sign: signQStashJwtNode,
    },
    options.env ?? process.env,
    options,
  );
}

/**
 * An unread body is read and dropped before answering, up to this much, while it keeps coming (a
 * pause this long ends it) and for this long at most — nginx's lingering close, bounded.
 */
const DRAIN_MAX_BYTES = 4 * 1024 * 1024;
const DRAIN_IDLE_MS = 1_000;
const DRAIN_MAX_MS = 10_000;

/**
 * An answer given before the request's body was all received (413 from `content-length`, 401
 * before reading, a handler route refusing early) leaves the rest of that body on the wire. Kept
 * alive, the connection would take the client's next request as body bytes; closed at once, the
 * client — still writing — gets a reset instead of the answer. So the rest of the body is read and
 * dropped first (a bounded amount, for a bounded time): then the answer goes out on a connection
 * fit for the next request. A body past those bounds gets the answer with `Connection: close`.
 */
function settleUnreadBody(
  response: Response,
  incoming: IncomingMessage | Http2ServerRequest,
): Response | Promise<Response> {
  // HTTP/2 streams end on their own; a `connection` header is forbidden there.
  if (incoming.complete || incoming.httpVersionMajor >= 2) return response;
  const length = incoming.headers['content-length'];
  const hasBody =
    incoming.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
  if (!hasBody) return response;
  return drain(incoming as IncomingMessage).then((all) => (all ? response : withConnectionClose(response)));
}

/** Reads and drops the rest of a body; true when it ended within the bounds. */
function drain(incoming: IncomingMessage): Promise<boolean> {
  return new Promise((done) => {
    if (incoming.readableEnded) return done(true);
    let bytes = 0;
    const finish = (ended: boolean) => {
      clearTimeout(idle);
      clearTimeout(cap);
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onFail);
      incoming.off('close', onFail);
      if (!ended) incoming.pause();
      done(ended);
    };
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > DRAIN_MAX_BYTES) finish(false);
      else idle.refresh();
    };
    const onEnd = () => finish(true);
    const onFail = () => finish(incoming.complete);
    const idle = setTimeout(() => finish(false), DRAIN_IDLE_MS);
    const cap = setTimeout(() => finish(false), DRAIN_MAX_MS);
    incoming.on('data', onData);
    incoming.once('end', onEnd);
    incoming.once('error', onFail);
    incoming.once('close', onFail);
    incoming.resume();
  });
}

function withConnectionClose(response: Response): Response {
  try {
    response.headers.set('connection', 'close');
    return response;
  } catch {
    // Immutable headers (a fetched response passed through): copy it.
    const copy = new Response(response.body, response);
    copy.headers.set('connection', 'close');
    return copy;
  }
}
