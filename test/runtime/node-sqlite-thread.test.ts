import { describe, expect, it } from 'vitest';
import { orderConverters } from '../../src/example/orders.ts';
import { defineMesh } from '../../src/index.ts';
import { serveMesh } from '../../src/node.ts';
import { createTempDb } from '../support/temp-db.ts';
import { orderCreated } from '../support/test-mesh.ts';

// Where Node's `serveMesh` runs a `file:` database's statements (issue 12): on the calling thread
// unless HOOKMESH_SQLITE_THREAD says `worker` (a worker thread owning the connection). The
// listening line says which. Each mesh is a real one on a real file: an event posted to it is
// accepted and read back.

const PRODUCER = 'thread-producer-token-0123456789abcdef';
const ADMIN = 'thread-admin-token-0123456789abcdef';

async function serveAndPost(role: string, thread?: string, sync?: string) {
  const db = await createTempDb();
  const lines: { message: string; fields?: Record<string, unknown> }[] = [];
  const mesh = await serveMesh({
    env: {
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: db.url,
      HOOKMESH_ROLE: role,
      HOOKMESH_PRODUCER_TOKENS: `shop:${PRODUCER}`,
      HOOKMESH_ADMIN_TOKEN: ADMIN,
      QSTASH_CURRENT_SIGNING_KEY: 'thread-signing-key-0123456789abcdef',
      ...(thread === undefined ? {} : { HOOKMESH_SQLITE_THREAD: thread }),
      ...(sync === undefined ? {} : { HOOKMESH_SQLITE_SYNC: sync }),
    },
    log: (_level, message, fields) => {
      lines.push({ message, ...(fields === undefined ? {} : { fields }) });
    },
    mesh: defineMesh({ converters: orderConverters, subscriptions: [] }),
  });
  try {
    let accepted: number | null = null;
    let read: number | null = null;
    if (role !== 'dispatcher') {
      const posted = await fetch(`${mesh.url}/v1/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${PRODUCER}`, 'content-type': 'application/json' },
        body: JSON.stringify(orderCreated(`thread-${role}`)),
      });
      accepted = posted.status;
      read = (
        await fetch(`${mesh.url}/v1/events/thread-${role}`, { headers: { authorization: `Bearer ${ADMIN}` } })
      ).status;
    }
    const listening = lines.find((l) => l.message === 'hookmesh listening');
    return {
      sqliteThread: listening?.fields?.sqliteThread,
      sqliteSync: listening?.fields?.sqliteSync,
      accepted,
      read,
    };
  } finally {
    await mesh.close();
    await db.dispose();
  }
}

describe('Node serveMesh: where SQLite runs', () => {
  it('the calling thread by default, its log synced on the thread pool, whatever the role', async () => {
    const main = { sqliteThread: 'main', sqliteSync: 'flush', accepted: 202, read: 200 };
    expect(await serveAndPost('api')).toEqual(main);
    expect(await serveAndPost('all')).toEqual(main);
    expect((await serveAndPost('dispatcher')).sqliteThread).toBe('main');
  });

  it('syncing inside COMMIT with HOOKMESH_SQLITE_SYNC=full, and events are accepted and read back', async () => {
    expect(await serveAndPost('all', undefined, 'full')).toEqual({
      sqliteThread: 'main',
      sqliteSync: 'full',
      accepted: 202,
      read: 200,
    });
  });

  it('a worker thread with HOOKMESH_SQLITE_THREAD=worker (always syncing in COMMIT), and events are accepted and read back', async () => {
    expect(await serveAndPost('api', 'worker')).toEqual({
      sqliteThread: 'worker',
      sqliteSync: 'full',
      accepted: 202,
      read: 200,
    });
    expect((await serveAndPost('dispatcher', 'worker')).sqliteThread).toBe('worker');
  });
});
