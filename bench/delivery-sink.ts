// The webhook receiver of bench:delivery: a bare node:http server that answers every POST with
// 200 `{}`, counts what arrives and, on `/latency…` paths, notes when each `ce-id` arrived
// (`performance.timeOrigin + performance.now()`, comparable across processes on one machine).
// Deliveries on other paths than `/hook` and `/latency…` (the kill check's) are also counted
// once per path and `ce-id`, so the harness can tell that every delivery arrived at least once.
// Control routes (GET) let the harness read the counters and wait for one event.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

const now = () => performance.timeOrigin + performance.now();
const OK_BODY = '{}';
const OK_HEADERS = { 'content-type': 'application/json', 'content-length': '2' };

let count = 0;
let latencyCount = 0;
let first = 0;
let last = 0;
const arrivals = new Map<string, number>();
/** `<path> <ce-id>` of every distinct delivery seen outside `/hook` and `/latency…`. */
const distinct = new Set<string>();
const waiters = new Map<string, (at: number) => void>();

function onPost(req: IncomingMessage, res: ServerResponse): void {
  const at = now();
  count++;
  if (first === 0) first = at;
  last = at;
  const path = req.url ?? '/';
  if (!path.startsWith('/hook') && !path.startsWith('/latency'))
    distinct.add(`${path} ${req.headers['ce-id']}`);
  if (req.url?.startsWith('/latency')) {
    latencyCount++;
    const id = req.headers['ce-id'];
    if (typeof id === 'string' && !arrivals.has(id)) {
      arrivals.set(id, at);
      waiters.get(id)?.(at);
      waiters.delete(id);
    }
  }
  req.on('end', () => res.writeHead(200, OK_HEADERS).end(OK_BODY));
  req.resume();
}

function onGet(req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? '/';
  const json = (status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  if (url === '/healthz') {
    json(200, { ok: true });
  } else if (url === '/stats') {
    json(200, { count, latencyCount, first, last, distinct: distinct.size });
  } else if (url === '/reset') {
    count = 0;
    latencyCount = 0;
    first = 0;
    last = 0;
    arrivals.clear();
    distinct.clear();
    json(200, { ok: true });
  } else if (url.startsWith('/wait/')) {
    const id = decodeURIComponent(url.slice('/wait/'.length));
    const seen = arrivals.get(id);
    if (seen !== undefined) {
      json(200, { at: seen });
      return;
    }
    const timer = setTimeout(() => {
      waiters.delete(id);
      json(504, { error: `${id} did not arrive within 10 s` });
    }, 10_000);
    waiters.set(id, (at) => {
      clearTimeout(timer);
      json(200, { at });
    });
  } else {
    json(404, { error: 'not found' });
  }
}

const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  if (req.method === 'POST') onPost(req, res);
  else onGet(req, res);
});
server.listen(Number(process.env.PORT ?? 8790), process.env.HOST ?? '127.0.0.1');

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}
