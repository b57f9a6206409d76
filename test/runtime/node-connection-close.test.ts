import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderConverters } from '../../src/example/orders.ts';
import { defineMesh } from '../../src/index.ts';
import { type ServedMesh, serveMesh } from '../../src/node.ts';
import { createTempDb, type TempDb } from '../support/temp-db.ts';

// An answer given before the request's body arrived leaves the rest of that body on the wire:
// kept alive, the connection would read the client's next request as body bytes; closed at once,
// a client still writing gets a reset instead of the answer. On a raw socket (no client library to
// hide it): a body that does arrive is read and dropped, then answered on a connection fit for the
// next request; one that does not arrive is answered with `Connection: close`, and the server
// closes without taking what follows as a request.

const PRODUCER = 'close-producer-token-0123456789abcdef';

let db: TempDb;
let mesh: ServedMesh;
let port: number;
beforeAll(async () => {
  db = await createTempDb();
  mesh = await serveMesh({
    env: {
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: db.url,
      HOOKMESH_ROLE: 'api',
      HOOKMESH_PRODUCER_TOKENS: `shop:${PRODUCER}`,
      HOOKMESH_ADMIN_TOKEN: 'close-admin-token-0123456789abcdef',
      QSTASH_CURRENT_SIGNING_KEY: 'close-signing-key-0123456789abcdef',
    },
    log: () => {},
    mesh: defineMesh({ converters: orderConverters, subscriptions: [] }),
  });
  port = Number(new URL(mesh.url).port);
});
afterAll(async () => {
  await mesh.close();
  await db.dispose();
});

interface RawAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
}

/** A socket that collects what arrives, and tells when the server closed its side. */
function open(): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      data += chunk;
    });
    const closed = new Promise<void>((done) => {
      socket.once('end', done);
      socket.once('close', () => done());
    });
    socket.once('error', () => {});
    socket.once('connect', () => resolve({ socket, received: () => data, closed }));
    socket.once('error', reject);
  });
}

/** The `index`th answer's status and headers, once its head has arrived. */
async function answerHead(received: () => string, index = 0): Promise<RawAnswer> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const heads = received().split(/(?=HTTP\/1\.1 \d{3} )/);
    const head = heads[index];
    if (head?.includes('\r\n\r\n')) {
      const [statusLine, ...lines] = head.slice(0, head.indexOf('\r\n\r\n')).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      return { status: Number(statusLine!.split(' ')[1]), headers };
    }
    if (Date.now() > deadline) throw new Error(`no answer ${index} in: ${JSON.stringify(received())}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const eventBody = JSON.stringify({
  type: 'OrderCreated',
  data: { order: { id: 'o-1', customerId: 'c-1', total: 1, currency: 'EUR' } },
});

function head(token: string, length: number, path = '/v1/events'): string {
  return (
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${length}\r\nConnection: keep-alive\r\n\r\n`
  );
}
const nextRequest = 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';

async function refusedEarly(request: string): Promise<RawAnswer> {
  const { socket, received, closed } = await open();
  // The head and the start of a body the client never finishes: it reads the answer first.
  socket.write(`${request}{"type":"OrderCreated","data":`);
  const answer = await answerHead(received);
  // A client that ignored the header would send its next request here, inside the unread body.
  socket.write(nextRequest);
  await closed;
  // The server closed without taking that request as the next one.
  expect(received().match(/HTTP\/1\.1 \d{3} /g)).toHaveLength(1);
  socket.destroy();
  return answer;
}

describe('answers given before the body was read, on Node', () => {
  it('a 413 decided from content-length closes the connection', async () => {
    const answer = await refusedEarly(head(PRODUCER, 10 * 1024 * 1024));
    expect(answer.status).toBe(413);
    expect(answer.headers.connection).toBe('close');
  });

  it('a 401 given before reading the body closes the connection', async () => {
    const answer = await refusedEarly(head('not-a-token', 100_000));
    expect(answer.status).toBe(401);
    expect(answer.headers.connection).toBe('close');
  });

  it('a 413 for a body the client does send is answered, and the connection serves the next request', async () => {
    const { socket, received } = await open();
    const length = 2 * 1024 * 1024;
    // Head and body in one go, as a client that does not wait for 100-continue sends them.
    socket.write(head(PRODUCER, length) + 'x'.repeat(length) + nextRequest);
    const refused = await answerHead(received);
    expect(refused.status).toBe(413);
    expect(refused.headers.connection).not.toBe('close');
    expect((await answerHead(received, 1)).status).toBe(200);
    socket.destroy();
  });

  it('an answer after the whole body keeps the connection alive for the next request', async () => {
    const { socket, received } = await open();
    socket.write(head(PRODUCER, Buffer.byteLength(eventBody)) + eventBody);
    const first = await answerHead(received);
    expect(first.status).toBe(202);
    expect(first.headers.connection).not.toBe('close');
    socket.write(nextRequest);
    expect((await answerHead(received, 1)).status).toBe(200);
    socket.destroy();
  });
});
