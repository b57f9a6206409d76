import { describe, expect, it } from 'vitest';
import * as web from '../../src/handler/index.ts';
import * as node from '../../src/handler/node.ts';
import { CURRENT, DATA, delivery, NOW, OrderCreatedV1, PUBLIC_URL, send } from './webhook-fixtures.ts';

// `hookmesh/handler` resolves to src/handler/node.ts on Node (package.json, the `node` condition)
// and to src/handler/index.ts elsewhere: the same names, the same answers.

describe('the Node entry of the handler SDK', () => {
  it('exports exactly the names of the web entry', () => {
    expect(Object.keys(node).sort()).toEqual(Object.keys(web).sort());
  });

  it('replaces only createWebhookApp (which answers as the web one does) and createLibsqlInbox', async () => {
    const differing = Object.keys(web).filter(
      (name) => (web as Record<string, unknown>)[name] !== (node as Record<string, unknown>)[name],
    );
    // createLibsqlInbox: a local file gets its own connection; test/handler/libsql-file-inbox.test.ts.
    expect(differing.sort()).toEqual(['createLibsqlInbox', 'createWebhookApp']);

    const answers = async (entry: typeof web) => {
      const runs: string[] = [];
      const app = entry.createWebhookApp({
        handlers: [entry.defineHandler(OrderCreatedV1, (event) => void runs.push(event.id))],
        signingKeys: { current: CURRENT },
        inbox: entry.createMemoryInbox(),
        publicUrl: PUBLIC_URL,
        clock: { now: () => NOW },
      });
      const first = await delivery({ id: 'ie_node' });
      const statuses = [
        (await send(app, first)).status,
        (await send(app, first)).status, // the same token again: a replay of a handled event
        (await send(app, await delivery({ id: 'ie_node' }))).status, // a new copy: a duplicate
        (await send(app, await delivery({ id: 'ie_other' }), { body: JSON.stringify({ ...DATA, total: 1 }) }))
          .status,
        (await send(app, await delivery({ id: 'ie_key', signingKey: `${CURRENT}x` }))).status,
      ];
      return { statuses, runs };
    };
    const fromNode = await answers(node);
    expect(fromNode).toEqual({ statuses: [200, 200, 200, 401, 401], runs: ['ie_node'] });
    expect(fromNode).toEqual(await answers(web));
  });
});
