import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface Reply {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

export interface LoopbackServer {
  readonly url: string;
  readonly port: number;
  readonly requests: ReceivedRequest[];
  /** TCP connections accepted so far: proves a guard refused before connecting, not after. */
  readonly connections: number;
  /** Changes how the server answers from now on. */
  reply(fn: (req: ReceivedRequest, index: number) => Reply | Promise<Reply>): void;
  close(): Promise<void>;
}

/** A real HTTP server on 127.0.0.1 that records every request and answers as told. */
export async function startLoopbackServer(
  answer: (req: ReceivedRequest, index: number) => Reply | Promise<Reply> = () => ({ status: 200 }),
): Promise<LoopbackServer> {
  const requests: ReceivedRequest[] = [];
  let fn = answer;
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const received: ReceivedRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'),
    };
    const index = requests.push(received) - 1;
    const reply = await fn(received, index);
    res.writeHead(reply.status, reply.headers ?? {});
    res.end(reply.body ?? '');
  });
  let connections = 0;
  server.on('connection', () => {
    connections++;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    get connections() {
      return connections;
    },
    reply(next) {
      fn = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
