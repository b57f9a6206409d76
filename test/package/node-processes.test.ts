import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signQStashJwt } from '../../src/core/signature.ts';
import { installPackedPackage } from '../support/packed-package.ts';
import { eventually, freePort, type Proc, startCommand, waitForOutput } from '../support/processes.ts';
import { allDelivered, copyFixtures, type EventView, exited, readEvent, readJsonLines } from './helpers.ts';

// DESIGN.md "The package", as three kinds of users meet it: plain `.mjs` files run by plain Node in a
// project that installed the packed tarball (no TypeScript, no tsx, no bundler). The platform team's
// mesh (its own definitions, `hookmesh/node`), two consuming services in processes of their own
// (`hookmesh/handler` with a durable libSQL inbox: one on @hono/node-server, one mounted into a
// node:http server), and a producing service (`hookmesh/client`). The fixtures are
// test/package/fixtures/node-mesh/*.mjs.

const PRODUCER_TOKEN = 'invoicing-producer-token-0123456789';
const ADMIN_TOKEN = 'platform-admin-token-0123456789abc';
const SIGNING_KEY = 'sig_pkg_current_4fQ9x2LmT7vR1bZ8';
const NEXT_SIGNING_KEY = 'sig_pkg_next_8kW3p6NsY1cD5hJ2';
/** Published one by one; the producer adds two in a batch and one through the lossy fetch. */
const COUNT = 5;
const START_MS = 20_000;
const DELIVERY_MS = 20_000;

interface Effect {
  eventId: string;
  invoiceId: string;
  attempt: number;
}

interface Receipt {
  id: string;
  status: number;
  integrationEvents: { id: string; type: string }[];
}

interface ProducerResult {
  published: Receipt[];
  replay: Receipt;
  retried: Receipt & { sentIds: string[] };
}

interface Consumer {
  readonly name: string;
  readonly script: string;
  readonly port: number;
  readonly url: string;
  readonly effects: string;
  readonly inboxUrl: string;
  proc?: Proc;
}

describe('the packed package used from plain .mjs processes: mesh, two consumers, a producer', () => {
  let dir: string;
  let mesh: Proc | undefined;
  let meshUrl: string;
  const consumers: Consumer[] = [];
  let result: ProducerResult;

  const startConsumer = async (consumer: Consumer) => {
    consumer.proc = startCommand(
      process.execPath,
      [consumer.script],
      {
        PORT: String(consumer.port),
        PUBLIC_URL: consumer.url,
        INBOX_URL: consumer.inboxUrl,
        EFFECTS_FILE: consumer.effects,
        QSTASH_CURRENT_SIGNING_KEY: SIGNING_KEY,
        QSTASH_NEXT_SIGNING_KEY: NEXT_SIGNING_KEY,
      },
      { cwd: dir },
    );
    await waitForOutput(consumer.proc, /CONSUMER_READY port=\d+/, START_MS);
  };

  const effectsOf = (consumer: Consumer) => readJsonLines<Effect>(consumer.effects);

  /** A delivery as the mesh sends one, signed with `key` for `subject`. */
  const sendSigned = async (
    consumer: Consumer,
    ceId: string,
    data: unknown,
    sign: { key?: string; subject?: string; signature?: string | null } = {},
  ) => {
    const url = `${consumer.url}/webhooks/invoice.issued.v1`;
    const body = JSON.stringify(data);
    const signature =
      sign.signature !== undefined
        ? sign.signature
        : await signQStashJwt({
            key: sign.key ?? SIGNING_KEY,
            url: sign.subject ?? url,
            body,
            nowMs: Date.now(),
          });
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': ceId,
      'ce-type': 'invoice.issued.v1',
      'ce-source': '/producers/invoicing',
      'ce-time': new Date().toISOString(),
      'upstash-message-id': `msg_${ceId}`,
      'upstash-retried': '0',
    };
    if (signature !== null) headers['upstash-signature'] = signature;
    const res = await fetch(url, { method: 'POST', headers, body });
    await res.arrayBuffer();
    return res.status;
  };

  beforeAll(async () => {
    const project = await installPackedPackage();
    dir = copyFixtures(project.dir, 'node-mesh');
    for (const [name, script] of [
      ['hono', 'consumer-hono.mjs'],
      ['node-http', 'consumer-node-http.mjs'],
    ] as const) {
      const port = await freePort();
      consumers.push({
        name,
        script,
        port,
        url: `http://127.0.0.1:${port}`,
        effects: join(dir, 'data', `${name}-effects.jsonl`),
        inboxUrl: `file:${join(dir, 'data', `${name}-inbox.db`)}`,
      });
    }
    await Promise.all(consumers.map(startConsumer));

    mesh = startCommand(
      process.execPath,
      ['mesh.mjs'],
      {
        PORT: '0',
        HOST: '127.0.0.1',
        DATABASE_URL: `file:${join(dir, 'data', 'mesh.db')}`,
        HOOKMESH_PRODUCER_TOKENS: `invoicing:${PRODUCER_TOKEN}`,
        HOOKMESH_ADMIN_TOKEN: ADMIN_TOKEN,
        QSTASH_CURRENT_SIGNING_KEY: SIGNING_KEY,
        QSTASH_NEXT_SIGNING_KEY: NEXT_SIGNING_KEY,
        CONSUMER_URLS: consumers.map((c) => c.url).join(','),
      },
      { cwd: dir },
    );
    [, meshUrl] = (await waitForOutput(mesh, /MESH_URL=(\S+)/, START_MS)) as unknown as [string, string];
  }, 240_000);

  afterAll(async () => {
    await Promise.all([mesh?.kill(), ...consumers.map((c) => c.proc?.kill())]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('handles every integration event exactly once in each consumer, a replay and a client retry included', async () => {
    const producer = startCommand(
      process.execPath,
      ['producer.mjs'],
      { MESH_URL: meshUrl, PRODUCER_TOKEN, COUNT: String(COUNT) },
      { cwd: dir },
    );
    const exit = await exited(producer);
    expect(exit, producer.output()).toEqual({ code: 0, signal: null });
    const line = producer.output().match(/^RESULT (.*)$/m);
    expect(line, producer.output()).not.toBeNull();
    result = JSON.parse(line![1]!) as ProducerResult;

    // Accepted once each: 202 for every new event.
    expect(result.published.map((p) => [p.id, p.status])).toEqual(
      Array.from({ length: COUNT + 2 }, (_, i) => [`invoice-${i + 1}`, 202]),
    );
    // The same id again: 200, the same answer.
    expect(result.replay).toEqual({ ...result.published[0], status: 200 });
    // The lost answer: the client sent the same id twice, and the second attempt was a replay (200).
    expect(result.retried.sentIds).toHaveLength(2);
    expect(result.retried.sentIds[1]).toBe(result.retried.sentIds[0]);
    expect(result.retried.id).toBe(result.retried.sentIds[0]);
    expect(result.retried.status).toBe(200);
    expect(result.retried.integrationEvents).toHaveLength(1);

    const events = [...result.published, result.retried];
    const ieIds = events.flatMap((e) => e.integrationEvents.map((ie) => ie.id));
    expect(new Set(ieIds).size).toBe(COUNT + 3);

    // Every delivery (one per event and consumer) delivered, read as the admin.
    const views = await eventually(
      async () => {
        const read = await Promise.all(events.map((e) => readEvent(meshUrl, ADMIN_TOKEN, e.id)));
        return read.every((v) => allDelivered(v, consumers.length)) ? (read as EventView[]) : undefined;
      },
      DELIVERY_MS,
      'every delivery to be delivered',
    );
    for (const view of views) {
      expect(view.source).toBe('invoicing');
      const [ie] = view.integrationEvents;
      expect(ie!.type).toBe('invoice.issued.v1');
      expect(ie!.deliveries.map((d) => d.url).sort()).toEqual(
        consumers.map((c) => `${c.url}/webhooks/invoice.issued.v1`).sort(),
      );
    }

    // Each consumer ran its handler once per integration event: no more, no fewer.
    for (const consumer of consumers) {
      const effects = effectsOf(consumer);
      expect(effects.map((e) => e.eventId).sort(), consumer.name).toEqual([...ieIds].sort());
      const invoiceOf = new Map(views.map((v) => [v.integrationEvents[0]!.id, v.integrationEvents[0]!.data]));
      for (const effect of effects) {
        expect((invoiceOf.get(effect.eventId) as { invoiceId: string }).invoiceId).toBe(effect.invoiceId);
      }
    }
  });

  it('both consumers refuse unsigned and wrongly signed requests with 401, before any handler runs', async () => {
    for (const consumer of consumers) {
      const before = effectsOf(consumer).length;
      const data = { invoiceId: 'inv-forged', amount: 1, currency: 'EUR' };
      const other = consumers.find((c) => c !== consumer)!;
      expect(await sendSigned(consumer, 'ie-forged-1', data, { signature: null }), consumer.name).toBe(401);
      expect(await sendSigned(consumer, 'ie-forged-2', data, { key: 'sig_someone_else_key' })).toBe(401);
      // Minted for the other service's URL: the subject is checked against publicUrl.
      expect(
        await sendSigned(consumer, 'ie-forged-3', data, {
          subject: `${other.url}/webhooks/invoice.issued.v1`,
        }),
      ).toBe(401);
      expect(effectsOf(consumer)).toHaveLength(before);
    }
  });

  it('the inbox is on disk: after a crash and restart, a signed copy of a handled event is acknowledged and not run again', async () => {
    const ie = result.published[0]!.integrationEvents[0]!;
    const view = await readEvent(meshUrl, ADMIN_TOKEN, result.published[0]!.id);
    const data = view!.integrationEvents[0]!.data;
    for (const consumer of consumers) {
      await consumer.proc!.kill('SIGKILL');
      await startConsumer(consumer);
      const before = effectsOf(consumer);
      expect(before.filter((e) => e.eventId === ie.id)).toHaveLength(1);

      // The copy QStash or the dispatcher would send again: signed afresh, same ce-id.
      expect(await sendSigned(consumer, ie.id, data), consumer.name).toBe(200);
      expect(effectsOf(consumer)).toEqual(before);

      // The restarted service still runs what is new to it, once.
      const fresh = { invoiceId: `inv-new-${consumer.name}`, amount: 3, currency: 'EUR' };
      expect(await sendSigned(consumer, `ie-new-${consumer.name}`, fresh)).toBe(200);
      expect(await sendSigned(consumer, `ie-new-${consumer.name}`, fresh)).toBe(200);
      expect(effectsOf(consumer)).toEqual([
        ...before,
        { eventId: `ie-new-${consumer.name}`, invoiceId: fresh.invoiceId, attempt: 1 },
      ]);
    }
  });

  it("a user's own unit tests run with hookmesh/testing under node --test, no TypeScript", async () => {
    const run = startCommand(
      process.execPath,
      ['--test', '--test-reporter=tap', 'invoicing.test.mjs'],
      {},
      { cwd: dir },
    );
    const { code } = await exited(run);
    expect(run.output(), run.output()).toMatch(/^# pass 2$/m);
    expect(run.output()).toMatch(/^# fail 0$/m);
    expect(code).toBe(0);
  });
});
