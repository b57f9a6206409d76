import { dereference, validate } from '@readme/openapi-parser';
import { Ajv2020, type AnySchemaObject } from 'ajv/dist/2020.js';
import type { OpenAPIV3_1 } from 'openapi-types';
import * as v from 'valibot';
import { afterEach, describe, expect, it } from 'vitest';
import { parseTimestamp } from '../../src/api/admin-input.ts';
import type { OpenApiDocument, SchemaObject } from '../../src/api/openapi/openapi-types.ts';
import { toDeliveryRequest } from '../../src/core/delivery-request.ts';
import { OrderCreated, OrderPaid } from '../../src/example/orders.ts';
import { defineConverter, defineDomainEvent, defineIntegrationEvent } from '../../src/index.ts';
import { createClientFixture, order } from '../client/client-fixture.ts';
import {
  ADMIN_TOKEN,
  createTestMesh,
  orderCreated,
  PRODUCER_TOKEN,
  type TestMesh,
} from '../support/test-mesh.ts';

// GET /openapi.json (DESIGN "Observability and the operator's surface"): an OpenAPI 3.1 document
// generated from the routes' own valibot schemas, and the mesh's event catalog. These tests check
// it is valid, complete, and true: what the client sends, what the API answers and what a
// subscriber receives all pass the schemas it documents.

let mesh: TestMesh;
afterEach(async () => {
  await mesh?.dispose();
});

type Json = Record<string, unknown>;

async function fetchDocument(m: TestMesh, token = PRODUCER_TOKEN): Promise<OpenApiDocument> {
  const res = await m.get('/openapi.json', token);
  expect(res.status).toBe(200);
  return (await res.json()) as OpenApiDocument;
}

/**
 * A JSON Schema 2020-12 validator (ajv, a dependency of @readme/openapi-parser) over the document
 * with every `$ref` resolved. `discriminator` is OpenAPI's annotation; formats are checked.
 */
async function createValidator(doc: OpenApiDocument) {
  const resolved = (await dereference(
    structuredClone(doc) as unknown as OpenAPIV3_1.Document,
  )) as unknown as OpenApiDocument;
  const ajv = new Ajv2020({
    allErrors: true,
    strict: true,
    coerceTypes: false,
    formats: {
      'date-time': (text: string) => parseTimestamp(text) !== null,
      'uri-reference': (text: string) => {
        try {
          new URL(text, 'http://base.invalid/');
          return true;
        } catch {
          return false;
        }
      },
    },
  });
  ajv.addKeyword('discriminator');
  const check = (schema: SchemaObject, value: unknown) => {
    const run = ajv.compile(schema as unknown as AnySchemaObject);
    return run(value) ? [] : (run.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
  };
  return { resolved, check };
}

/** The schema with `additionalProperties: false` on every object that lists its properties. */
function closed(schema: SchemaObject): SchemaObject {
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (typeof node !== 'object' || node === null) return node;
    const copy = Object.fromEntries(Object.entries(node).map(([key, value]) => [key, walk(value)]));
    if ('properties' in copy && !('additionalProperties' in copy)) copy.additionalProperties = false;
    return copy;
  };
  return walk(schema) as SchemaObject;
}

const eventsBody = (doc: OpenApiDocument) =>
  doc.paths['/v1/events']!.post!.requestBody!.content['application/json']!.schema;

const answer = (doc: OpenApiDocument, path: string, method: 'get' | 'post' | 'patch', status: number) =>
  doc.paths[path]![method]!.responses[String(status)]!.content!['application/json']!.schema;

describe('GET /openapi.json', () => {
  it('answers producers and admins, and refuses a request without a token', async () => {
    mesh = await createTestMesh();
    const denied = await mesh.get('/openapi.json', null);
    expect(denied.status).toBe(401);
    expect(denied.headers.get('content-type')).toBe('application/problem+json');
    expect(((await denied.json()) as Json).type).toBe('urn:hookmesh:problem:unauthorized');
    expect((await mesh.get('/openapi.json', 'not-a-token')).status).toBe(401);

    const asProducer = await mesh.get('/openapi.json', PRODUCER_TOKEN);
    expect(asProducer.status).toBe(200);
    expect(asProducer.headers.get('content-type')).toMatch(/^application\/json/);
    const text = await asProducer.text();
    const asAdmin = await mesh.get('/openapi.json', ADMIN_TOKEN);
    expect(asAdmin.status).toBe(200);
    // Built once per app: the same bytes every time.
    expect(await asAdmin.text()).toBe(text);
  });

  it('is a valid OpenAPI 3.1 document (@readme/openapi-parser)', async () => {
    mesh = await createTestMesh();
    const doc = await fetchDocument(mesh);
    expect(doc.openapi).toBe('3.1.0');
    const result = await validate(structuredClone(doc) as unknown as OpenAPIV3_1.Document);
    expect(result.valid ? [] : result.errors).toEqual([]);
    expect(result.specification).toBe('OpenAPI');
  });

  it("has every route of DESIGN's REST table, with its methods and who may call it", async () => {
    mesh = await createTestMesh();
    const doc = await fetchDocument(mesh);
    const methods = Object.fromEntries(
      Object.entries(doc.paths).map(([path, item]) => [path, Object.keys(item).sort()]),
    );
    expect(methods).toEqual({
      '/v1/events': ['post'],
      '/v1/events/{id}': ['get'],
      '/v1/deliveries': ['delete', 'get'],
      '/v1/deliveries/{id}/retry': ['post'],
      '/v1/deliveries/retry': ['post'],
      '/v1/subscriptions': ['get', 'post'],
      '/v1/subscriptions/{id}': ['delete', 'get', 'patch'],
      '/healthz': ['get'],
      '/metrics': ['get'],
      '/openapi.json': ['get'],
      '/dashboard': ['get'],
    });
    expect(doc.components.securitySchemes.producer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.securitySchemes.admin).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.paths['/v1/events']!.post!.security).toEqual([{ producer: [] }]);
    expect(doc.paths['/v1/events/{id}']!.get!.security).toEqual([{ producer: [] }, { admin: [] }]);
    expect(doc.paths['/openapi.json']!.get!.security).toEqual([{ producer: [] }, { admin: [] }]);
    expect(doc.paths['/v1/deliveries']!.get!.security).toEqual([{ admin: [] }]);
    expect(doc.paths['/healthz']!.get!.security).toEqual([]);
    // Query parameters come from the route's query schema.
    const query = doc.paths['/v1/deliveries']!.get!.parameters!.map((p) => [p.name, p.in, p.required]);
    expect(query).toEqual(
      ['status', 'type', 'subscription', 'since', 'until', 'limit', 'cursor'].map((n) => [n, 'query', false]),
    );
    expect(doc.paths['/v1/deliveries']!.get!.parameters![0]!.schema.enum).toEqual([
      'pending',
      'in_flight',
      'retrying',
      'delivered',
      'dead',
    ]);
  });

  it('documents POST /v1/qstash/callback exactly when the QStash transport mounts it', async () => {
    mesh = await createTestMesh({
      qstash: {
        signingKeys: { current: 'sig_current_0123456789abcdef' },
        callbackUrl: 'http://mesh.test/v1/qstash/callback',
      },
    });
    const doc = await fetchDocument(mesh);
    expect(Object.keys(doc.paths['/v1/qstash/callback']!)).toEqual(['post']);
    const body = doc.components.schemas.QStashCallback!;
    expect(body.required).toEqual(['status', 'retried', 'maxRetries', 'sourceMessageId']);
    const result = await validate(structuredClone(doc) as unknown as OpenAPIV3_1.Document);
    expect(result.valid).toBe(true);
  });

  it('answers every error status of every route with the RFC 9457 problem schema', async () => {
    mesh = await createTestMesh();
    const doc = await fetchDocument(mesh);
    expect(doc.components.schemas.Problem).toMatchObject({
      type: 'object',
      required: ['type', 'title', 'status'],
      properties: {
        type: { type: 'string' },
        title: { type: 'string' },
        status: { type: 'integer' },
        detail: { type: 'string' },
        issues: { type: 'array', items: { required: ['path', 'message'] } },
      },
    });
    let errors = 0;
    for (const item of Object.values(doc.paths)) {
      for (const operation of Object.values(item)) {
        for (const [status, response] of Object.entries(operation.responses)) {
          if (Number(status) < 400) continue;
          errors++;
          expect(response.content, `${operation.operationId} ${status}`).toEqual({
            'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } },
          });
        }
      }
    }
    expect(errors).toBeGreaterThan(40);
    const events = doc.paths['/v1/events']!.post!.responses;
    expect(Object.keys(events).sort()).toEqual(
      ['200', '202', '400', '401', '403', '409', '413', '415', '422', '429', '500', '503'].sort(),
    );

    // And the API's real problems pass it.
    const { check } = await createValidator(doc);
    const problems = [
      await mesh.post(orderCreated('p-1', { data: { order: { id: '', total: 'x' } } })),
      await mesh.post({ ...orderCreated('p-2'), type: 'OrderShipped' }),
      await mesh.get('/v1/events/missing'),
      await mesh.get('/v1/deliveries', null),
      await mesh.get('/v1/deliveries?limit=0', ADMIN_TOKEN),
    ];
    expect(problems.map((r) => r.status)).toEqual([400, 422, 404, 401, 400]);
    for (const res of problems) {
      expect(check(doc.components.schemas.Problem!, await res.json())).toEqual([]);
    }
  });
});

describe("the event catalog: the app's domain events and integration events", () => {
  it("POST /v1/events takes one of the app's domain events by type, or an array of them", async () => {
    mesh = await createTestMesh();
    const doc = await fetchDocument(mesh);
    expect(eventsBody(doc)).toEqual({
      oneOf: [
        { $ref: '#/components/schemas/DomainEvent' },
        { $ref: '#/components/schemas/DomainEventBatch' },
      ],
    });
    const schemas = doc.components.schemas;
    expect(schemas.DomainEvent!.discriminator).toEqual({
      propertyName: 'type',
      mapping: {
        OrderCreated: '#/components/schemas/domain.OrderCreated',
        OrderPaid: '#/components/schemas/domain.OrderPaid',
      },
    });
    expect(schemas.DomainEventBatch).toMatchObject({ type: 'array', minItems: 1, maxItems: 100 });

    const created = schemas['domain.OrderCreated']!;
    expect(created.required).toEqual(['type', 'data']);
    expect(created.additionalProperties).toBe(false);
    expect(created.properties!.type).toEqual({ const: 'OrderCreated' });
    expect(created.properties!.id).toMatchObject({ type: 'string', minLength: 1, maxLength: 200 });
    expect(created.properties!.occurredAt).toEqual({ type: 'string', format: 'date-time' });
    expect(created.properties!.metadata).toMatchObject({ type: 'object' });
    expect(created.properties!.data).toEqual({
      type: 'object',
      properties: {
        order: {
          type: 'object',
          properties: {
            id: { type: 'string', minLength: 1 },
            customerId: { type: 'string', minLength: 1 },
            total: { type: 'number', minimum: 0 },
            currency: { type: 'string', pattern: '^[A-Z]{3}$' },
          },
          required: ['id', 'customerId', 'total', 'currency'],
        },
      },
      required: ['order'],
    });
    expect(schemas['domain.OrderPaid']!.properties!.data).toMatchObject({
      properties: {
        orderId: { type: 'string', minLength: 1 },
        amount: { type: 'number', minimum: 0 },
        paidAt: { type: 'string', format: 'date-time' },
      },
      required: ['orderId', 'amount', 'paidAt'],
    });
    const headers = doc.paths['/v1/events']!.post!.parameters!.map((p) => [p.name, p.in]);
    expect(headers).toEqual([
      ['Idempotency-Key', 'header'],
      ['traceparent', 'header'],
    ]);
  });

  it('lists every integration event under webhooks, with its JSON Schema, headers and answers', async () => {
    mesh = await createTestMesh();
    const doc = await fetchDocument(mesh);
    expect(Object.keys(doc.webhooks).sort()).toEqual(['order.created.v1', 'order.paid.v1']);
    for (const [type, item] of Object.entries(doc.webhooks)) {
      const post = item.post!;
      expect(post.requestBody!.content['application/json']!.schema).toEqual({
        $ref: `#/components/schemas/integration.${type}`,
      });
      expect(post.parameters!.map((p) => [p.name, p.in, p.required])).toEqual([
        ['ce-specversion', 'header', true],
        ['ce-id', 'header', true],
        ['ce-type', 'header', true],
        ['ce-source', 'header', true],
        ['ce-time', 'header', true],
        ['traceparent', 'header', false],
        ['Upstash-Signature', 'header', true],
        ['Upstash-Message-Id', 'header', true],
        ['Upstash-Retried', 'header', true],
      ]);
      expect(post.parameters!.find((p) => p.name === 'ce-type')!.schema.const).toBe(type);
      expect(Object.keys(post.responses).sort()).toEqual(['2XX', '489', 'default']);
      expect(post.responses['489']!.headers!['Upstash-NonRetryable-Error']).toMatchObject({ required: true });
    }
    expect(doc.components.schemas['integration.order.created.v1']).toEqual({
      title: 'order.created.v1',
      type: 'object',
      properties: {
        orderId: { type: 'string' },
        customerId: { type: 'string' },
        total: { type: 'number' },
        currency: { type: 'string' },
      },
      required: ['orderId', 'customerId', 'total', 'currency'],
    });
    expect(doc.components.schemas['integration.order.paid.v1']!.required).toEqual([
      'orderId',
      'amount',
      'paidAt',
    ]);
  });

  it('describes what a subscriber really receives: a delivery request passes its webhook', async () => {
    mesh = await createTestMesh();
    const doc = await fetchDocument(mesh);
    const { resolved, check } = await createValidator(doc);
    const traceparent = '00-0af7651916cd43dd8448eb211dcb4c37-b7ad6b7169203331-01';
    expect((await mesh.post(orderCreated('wire-1'), { headers: { traceparent } })).status).toBe(202);
    const event = (await (await mesh.get('/v1/events/wire-1')).json()) as {
      integrationEvents: { id: string; type: string; source: string; time: string; data: unknown }[];
    };
    const integration = event.integrationEvents[0]!;
    const request = await toDeliveryRequest({
      url: 'https://billing.example.com/webhooks/order.created.v1',
      event: { ...integration, data: JSON.stringify(integration.data) },
      traceparent,
      retried: 2,
      messageId: 'msg-1',
      signingKey: 'sig_current_0123456789abcdef',
      nowMs: Date.UTC(2026, 10, 30, 12),
    });
    const webhook = resolved.webhooks[integration.type]!.post!;
    const sent = new Headers(request.headers);
    for (const parameter of webhook.parameters!) {
      const value = sent.get(parameter.name);
      if (value === null) {
        expect(parameter.required, parameter.name).toBe(false);
        continue;
      }
      const typed = parameter.schema.type === 'integer' ? Number(value) : value;
      expect(check(parameter.schema, typed), `${parameter.name}: ${value}`).toEqual([]);
    }
    expect(sent.get('content-type')).toBe('application/json');
    expect(check(webhook.requestBody!.content['application/json']!.schema, JSON.parse(request.body))).toEqual(
      [],
    );
  });
});

describe('hookmesh/client and the documented schemas agree', () => {
  it('every body publish and publishMany send passes POST /v1/events, and every answer its schema', async () => {
    mesh = await createTestMesh();
    const doc = await fetchDocument(mesh);
    const { resolved, check } = await createValidator(doc);
    const body = eventsBody(resolved);
    const { client, sent } = createClientFixture(mesh);

    const answers = [
      await client.publish(OrderCreated, order('c-1'), {
        occurredAt: new Date(Date.UTC(2026, 10, 30, 11)),
        metadata: { tenant: 'acme', attempt: 1 },
        traceparent: '00-0af7651916cd43dd8448eb211dcb4c37-b7ad6b7169203331-01',
      }),
      await client.publish(
        OrderPaid,
        { orderId: 'o-1', amount: 42.5, paidAt: '2026-11-30T12:00:00Z' },
        { id: 'paid-1' },
      ),
    ];
    const many = await client.publishMany([
      { event: OrderCreated, data: order('c-2'), id: 'created-2', occurredAt: '2026-11-30T10:00:00+01:00' },
      { event: OrderPaid, data: { orderId: 'o-2', amount: 0, paidAt: '2026-11-30T12:00:00.123Z' } },
    ]);

    // The API accepted them all: the documented schema describes what the API takes, no more.
    expect(answers.map((a) => a.status)).toEqual([202, 202]);
    expect(many.status).toBe(202);
    expect(sent.map((s) => Array.isArray(s.body))).toEqual([false, false, true]);
    for (const request of sent) {
      expect(check(body, request.body), JSON.stringify(request.body)).toEqual([]);
    }
    // What the client read back passes the documented answers.
    const receipt = answer(resolved, '/v1/events', 'post', 202);
    for (const { status: _, ...rest } of answers) expect(check(receipt, rest)).toEqual([]);
    const { status: _, ...manyBody } = many;
    expect(check(receipt, manyBody)).toEqual([]);

    // The validator is not vacuous: what the API refuses, the schema refuses too.
    const refused = [
      { type: 'OrderCreated', data: { order: { id: 'o', customerId: 'c', total: 1, currency: 'euro' } } },
      { type: 'OrderCreated', data: order('x'), colour: 'red' },
      { type: 'OrderShipped', data: {} },
      { type: 'OrderPaid', data: { orderId: 'o', amount: -1, paidAt: '2026-11-30T12:00:00Z' } },
      { type: 'OrderPaid', id: '', data: { orderId: 'o', amount: 1, paidAt: '2026-11-30T12:00:00Z' } },
      [],
    ];
    for (const bad of refused) {
      expect(check(body, bad), JSON.stringify(bad)).not.toEqual([]);
      expect((await mesh.post(bad)).status, JSON.stringify(bad)).toBeGreaterThanOrEqual(400);
    }
  });
});

describe("the API's answers pass the schemas the document gives them", () => {
  it('events, subscriptions, deliveries and health', async () => {
    mesh = await createTestMesh();
    const doc = await fetchDocument(mesh);
    const { resolved, check } = await createValidator(doc);
    const admin = (method: string, path: string, body?: unknown) =>
      Promise.resolve(
        mesh.app.request(path, {
          method,
          headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        }),
      );
    const expectAnswer = async (
      res: Response,
      path: string,
      method: 'get' | 'post' | 'patch',
      status: number,
    ) => {
      expect(res.status, `${method} ${path}`).toBe(status);
      // Closed: a field the API answers and the document leaves out fails here too.
      const schema = closed(answer(resolved, path, method, status));
      expect(check(schema, await res.json()), `${method} ${path}`).toEqual([]);
    };

    const accepted = await mesh.post(
      orderCreated('a-1', { occurredAt: '2026-11-30T11:00:00Z', metadata: { k: 1 } }),
    );
    await expectAnswer(accepted, '/v1/events', 'post', 202);
    await expectAnswer(
      await mesh.post(orderCreated('a-1', { occurredAt: '2026-11-30T11:00:00Z', metadata: { k: 1 } })),
      '/v1/events',
      'post',
      200,
    );
    await expectAnswer(
      await mesh.post([orderCreated('a-2'), orderCreated('a-3')]),
      '/v1/events',
      'post',
      202,
    );
    await expectAnswer(await mesh.get('/v1/events/a-1'), '/v1/events/{id}', 'get', 200);
    await expectAnswer(await mesh.get('/v1/events/a-1', ADMIN_TOKEN), '/v1/events/{id}', 'get', 200);

    const created = await admin('POST', '/v1/subscriptions', {
      type: 'order.*',
      url: 'http://127.0.0.1:9/hook',
      retries: 3,
      retryDelay: 'pow(2, retried) * 1000',
    });
    const subscription = (await created.clone().json()) as { id: string };
    await expectAnswer(created, '/v1/subscriptions', 'post', 201);
    await expectAnswer(await admin('GET', '/v1/subscriptions'), '/v1/subscriptions', 'get', 200);
    await expectAnswer(
      await admin('GET', `/v1/subscriptions/${subscription.id}`),
      '/v1/subscriptions/{id}',
      'get',
      200,
    );
    await expectAnswer(
      await admin('PATCH', `/v1/subscriptions/${subscription.id}`, { retries: 5 }),
      '/v1/subscriptions/{id}',
      'patch',
      200,
    );
    await expectAnswer(await admin('GET', '/v1/deliveries?limit=1'), '/v1/deliveries', 'get', 200);
    await expectAnswer(
      await admin('POST', '/v1/deliveries/retry', { type: 'order.*' }),
      '/v1/deliveries/retry',
      'post',
      202,
    );
    await expectAnswer(await mesh.get('/healthz', null), '/healthz', 'get', 200);
  });

  it('a request the schema refuses is one the route refuses: PATCH with no field', async () => {
    mesh = await createTestMesh();
    const doc = await fetchDocument(mesh);
    const { resolved, check } = await createValidator(doc);
    const patch =
      resolved.paths['/v1/subscriptions/{id}']!.patch!.requestBody!.content['application/json']!.schema;
    expect(check(patch, {})).not.toEqual([]);
    expect(check(patch, { retries: 2 })).toEqual([]);
  });
});

describe('schemas JSON Schema cannot express', () => {
  it('do not break the route: the document stays valid and says what the mesh checks beyond it', async () => {
    interface Node {
      name: string;
      children: Node[];
    }
    const NodeSchema: v.GenericSchema<Node> = v.object({
      name: v.string(),
      children: v.array(v.lazy(() => NodeSchema)),
    });
    const Awkward = defineDomainEvent(
      'Awkward',
      v.object({
        when: v.pipe(
          v.string(),
          v.transform((s) => new Date(s)),
          v.date(),
        ),
        even: v.pipe(
          v.number(),
          v.check((n) => n % 2 === 0, 'even must be even'),
        ),
        anything: v.custom<bigint>((x) => typeof x === 'bigint'),
        tree: NodeSchema,
      }),
    );
    // A lazy schema that reads its input: converting it calls the getter with undefined, and throws.
    const Unreadable = defineDomainEvent(
      'Unreadable',
      v.lazy((input) =>
        (input as { kind: string }).kind === 'a'
          ? v.object({ kind: v.literal('a') })
          : v.object({ kind: v.literal('b') }),
      ),
    );
    const AwkwardV1 = defineIntegrationEvent(
      'awkward.happened.v1',
      v.object({
        length: v.pipe(
          v.string(),
          v.transform((s) => s.length),
        ),
        at: v.date(),
      }),
    );
    mesh = await createTestMesh({
      definitions: {
        domainEvents: [Unreadable],
        converters: [defineConverter(Awkward, AwkwardV1, () => ({ length: 'abc', at: new Date(0) }))],
      },
    });
    const doc = await fetchDocument(mesh, ADMIN_TOKEN);
    const result = await validate(structuredClone(doc) as unknown as OpenAPIV3_1.Document);
    expect(result.valid ? [] : result.errors).toEqual([]);

    const schemas = doc.components.schemas;
    const fields = (schemas['domain.Awkward']!.properties!.data as SchemaObject).properties as Record<
      string,
      SchemaObject
    >;
    // Input side: what a producer sends is the string before the transform.
    expect(fields.when).toEqual({ type: 'string' });
    // A check becomes its message, and a note that the mesh checks more than the schema says.
    expect(fields.even).toMatchObject({ type: 'number', description: 'even must be even' });
    expect(fields.even!.$comment).toMatch(/check/);
    expect(fields.anything).toEqual({ $comment: expect.stringMatching(/custom/) });
    // A recursive schema's definition joins components.schemas.
    const tree = fields.tree as SchemaObject;
    expect(tree.properties!.children).toEqual({
      type: 'array',
      items: { $ref: '#/components/schemas/domain.Awkward.data.0' },
    });
    expect(schemas['domain.Awkward.data.0']).toMatchObject({
      type: 'object',
      required: ['name', 'children'],
    });
    // What cannot be converted at all becomes "any JSON", the envelope around it intact.
    const unreadable = schemas['domain.Unreadable']!;
    expect(unreadable.properties!.type).toEqual({ const: 'Unreadable' });
    expect(unreadable.properties!.data).toEqual({
      $comment: expect.stringMatching(/not expressible as JSON Schema/),
    });
    // Output side: what a subscriber receives after a transform is not claimed to be a string.
    const payload = doc.components.schemas['integration.awkward.happened.v1']!.properties as Record<
      string,
      SchemaObject
    >;
    expect(payload.length!.type).toBeUndefined();
    expect(payload.at!.$comment).toMatch(/date/);
  });
});
