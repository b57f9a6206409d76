import * as v from 'valibot';
import { afterEach, describe, expect, it } from 'vitest';
import { defineConverter } from '../../src/core/converter.ts';
import { defineDomainEvent } from '../../src/core/domain-event.ts';
import { defineIntegrationEvent } from '../../src/core/integration-event.ts';
import { defineSubscription } from '../../src/core/subscription.ts';
import { ADMIN_TOKEN, createTestMesh, type TestMesh } from '../support/test-mesh.ts';

let mesh: TestMesh;
afterEach(async () => {
  await mesh?.dispose();
});

describe('POST /v1/events — ordering keys', () => {
  const Moved = defineDomainEvent('Moved', v.object({ key: v.string() }));
  // An empty `key` makes the ordering key empty; "throw" makes the key function throw.
  const MovedV1 = defineIntegrationEvent('thing.moved.v1', v.object({ key: v.string() }), {
    orderingKey: (d) => {
      if (d.key === 'throw') throw new Error('no key');
      return d.key;
    },
  });
  const definitions = {
    converters: [defineConverter(Moved, MovedV1, (e) => ({ key: e.data.key }))],
    subscriptions: [defineSubscription(MovedV1, 'https://example.com/moved')],
  };
  const rows = async () => ({
    events: await mesh.db.count('domain_events'),
    deliveries: await mesh.db.count('deliveries'),
  });

  it('stores the key on each delivery', async () => {
    mesh = await createTestMesh({ definitions });
    expect((await mesh.post({ id: 'm1', type: 'Moved', data: { key: 'thing-1' } })).status).toBe(202);
    expect(await mesh.db.driver.query('SELECT ordering_key FROM deliveries')).toEqual([
      { ordering_key: 'thing-1' },
    ]);
  });

  it.each([
    ['throws', 'throw'],
    ['returns an empty key', ''],
    ['returns a key over 256 characters', 'k'.repeat(257)],
  ])(
    'a key function that %s → 500 conversion-failed, and nothing of the request is written',
    async (_, key) => {
      mesh = await createTestMesh({ definitions });
      const res = await mesh.post([
        { id: 'ok', type: 'Moved', data: { key: 'fine' } },
        { id: 'bad', type: 'Moved', data: { key } },
      ]);
      expect(res.status).toBe(500);
      const body = (await res.json()) as { type: string; detail: string };
      expect(body.type).toBe('urn:hookmesh:problem:conversion-failed');
      expect(body.detail).toContain('orderingKey of thing.moved.v1');
      expect(body.detail).toContain('nothing was written');
      expect(await rows()).toEqual({ events: 0, deliveries: 0 });
    },
  );
});

describe('GET /v1/events/:id and GET /v1/deliveries — ordering keys', () => {
  const Moved = defineDomainEvent('Moved', v.object({ key: v.string() }));
  const MovedV1 = defineIntegrationEvent('thing.moved.v1', v.object({ key: v.string() }), {
    orderingKey: (d) => d.key,
  });
  const LoggedV1 = defineIntegrationEvent('thing.logged.v1', v.object({ key: v.string() }));
  // Keyed, but no subscription takes it: no delivery, and the key lives on deliveries.
  const ArchivedV1 = defineIntegrationEvent('thing.archived.v1', v.object({ key: v.string() }), {
    orderingKey: (d) => d.key,
  });
  const definitions = {
    converters: [
      defineConverter(Moved, MovedV1, (e) => ({ key: e.data.key })),
      defineConverter(Moved, LoggedV1, (e) => ({ key: e.data.key })),
      defineConverter(Moved, ArchivedV1, (e) => ({ key: e.data.key })),
    ],
    subscriptions: [
      defineSubscription(MovedV1, 'https://example.com/moved', { id: 'sub-moved' }),
      defineSubscription(LoggedV1, 'https://example.com/logged', { id: 'sub-logged' }),
    ],
  };

  it('answers each integration event with its orderingKey: the key, or null without one', async () => {
    mesh = await createTestMesh({ definitions });
    expect((await mesh.post({ id: 'm1', type: 'Moved', data: { key: 'thing-1' } })).status).toBe(202);

    for (const token of [undefined, ADMIN_TOKEN]) {
      const res = await mesh.get('/v1/events/m1', token);
      expect(res.status).toBe(200);
      const body = (await res.json()) as {
        integrationEvents: { type: string; orderingKey: unknown; deliveries: unknown[] }[];
      };
      expect(body.integrationEvents.map((ie) => [ie.type, ie.orderingKey, ie.deliveries.length])).toEqual([
        ['thing.moved.v1', 'thing-1', 1],
        ['thing.logged.v1', null, 1],
        ['thing.archived.v1', null, 0],
      ]);
    }
  });

  it('lists each delivery with its orderingKey, null without one', async () => {
    mesh = await createTestMesh({ definitions });
    expect((await mesh.post({ id: 'm1', type: 'Moved', data: { key: 'thing-1' } })).status).toBe(202);
    const res = await mesh.get('/v1/deliveries', ADMIN_TOKEN);
    expect(res.status).toBe(200);
    const { deliveries } = (await res.json()) as {
      deliveries: { subscriptionId: string; orderingKey: unknown }[];
    };
    expect(
      deliveries
        .map((d) => [d.subscriptionId, d.orderingKey])
        .sort(([a], [b]) => String(a).localeCompare(String(b))),
    ).toEqual([
      ['sub-logged', null],
      ['sub-moved', 'thing-1'],
    ]);
  });
});
