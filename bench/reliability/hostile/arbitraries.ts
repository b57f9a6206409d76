import fc from 'fast-check';

// fast-check arbitraries for scenario 5: descriptions of hostile requests to the mesh's API and to
// a consuming service's webhook route. They are plain data; `toWire` turns one into a request
// (signing tokens, which is asynchronous, and picking from what earlier requests created).

export type Auth = 'producer' | 'other-producer' | 'admin' | 'none' | 'garbage';

export interface ApiRequest {
  readonly target: 'mesh';
  readonly kind: 'events' | 'subscriptions' | 'deliveries' | 'read' | 'misc';
  readonly method: string;
  /** A path, or a reference to an id earlier answers created (`{sub}`, `{event}`, `{delivery}`). */
  readonly path: string;
  readonly auth: Auth;
  readonly authRaw: string;
  readonly contentType: string | null;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Body;
}

export type Body =
  | { readonly kind: 'none' }
  | { readonly kind: 'json'; readonly value: unknown }
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array }
  | { readonly kind: 'padded'; readonly value: unknown; readonly size: number }
  /** Sent without a content-length (chunked), so only a streaming limit can stop it. */
  | { readonly kind: 'chunked'; readonly text: string; readonly repeat: number };

export type TokenKind =
  | 'valid'
  | 'replay'
  | 'replay-other-ce-id'
  | 'other-body'
  | 'other-subject'
  | 'other-key'
  | 'expired'
  | 'not-yet-valid'
  | 'alg-none'
  | 'hs512'
  | 'garbage'
  | 'missing'
  | 'truncated'
  | 'flipped';

export interface WebhookRequest {
  readonly target: 'handler';
  readonly method: string;
  readonly route: string;
  readonly query: string;
  readonly token: TokenKind;
  readonly body:
    | { readonly kind: 'valid'; readonly data: { orderId: string; amount: number; paidAt: string } }
    | { readonly kind: 'mismatch'; readonly value: unknown }
    | { readonly kind: 'text'; readonly text: string }
    | { readonly kind: 'bytes'; readonly bytes: Uint8Array }
    | { readonly kind: 'huge'; readonly size: number };
  readonly ceId:
    | { readonly kind: 'fresh'; readonly id: string }
    | { readonly kind: 'pool'; readonly n: number }
    | { readonly kind: 'raw'; readonly value: string | null };
  readonly ceType: string | null;
  readonly ceSpecversion: string | null;
  readonly ceSource: string | null;
  readonly ceTime: string | null;
  readonly headers: Readonly<Record<string, string>>;
}

export type HostileRequest = ApiRequest | WebhookRequest;

/** Percent-encodes any string (a lone surrogate becomes U+FFFD, as any HTTP client would send it). */
function pct(text: string): string {
  let out = '';
  for (const byte of new TextEncoder().encode(text)) {
    const ch = String.fromCharCode(byte);
    out += /[A-Za-z0-9_.~-]/.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const ascii = (maxLength: number) => fc.string({ maxLength });
const anyText = (maxLength: number) =>
  fc.oneof(
    fc.string({ maxLength }),
    fc.string({ maxLength, unit: 'binary' }),
    fc.string({ maxLength, unit: 'grapheme' }),
  );

const freshId = fc.noBias(fc.uuid()).map((u) => `h-${u}`);
const eventId = fc.oneof(
  { weight: 6, arbitrary: freshId },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 49 }).map((i) => `pool-${i}`) },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.constantFrom(
        '',
        ' ',
        'a'.repeat(200),
        'a'.repeat(201),
        'x\u0000y',
        'x\ny',
        '\ud800',
        'a\udc00b',
        '\u202eevil',
        '../../etc',
        '%2e%2e',
        '😀',
        'é',
      ),
      anyText(40),
    ),
  },
);

const isoTime = fc
  .integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2100, 0, 1) })
  .map((ms) => new Date(ms).toISOString());
const hostileTime = fc.oneof(
  isoTime,
  fc.constantFrom('', 'yesterday', '2026-13-45T25:61:61Z', '2026-11-30', '0', '1e400'),
  ascii(30),
);
const money = fc.oneof(
  { weight: 8, arbitrary: fc.double({ min: 0, max: 1e9, noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: fc.constantFrom(-1, -0.01, 1e308, Number.MAX_SAFE_INTEGER + 2) },
);
const currency = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('EUR', 'USD', 'JPY') },
  { weight: 1, arbitrary: fc.oneof(fc.constantFrom('eur', 'EURO', '', '€'), ascii(5)) },
);

const orderCreatedData = fc.record({
  order: fc.record({
    id: fc.oneof({ weight: 4, arbitrary: freshId }, { weight: 1, arbitrary: ascii(20) }),
    customerId: fc.oneof({ weight: 4, arbitrary: fc.constant('c-1') }, { weight: 1, arbitrary: ascii(20) }),
    total: money,
    currency,
  }),
});
const orderPaidData = fc.record({
  orderId: fc.oneof({ weight: 4, arbitrary: freshId }, { weight: 1, arbitrary: ascii(20) }),
  amount: money,
  paidAt: fc.oneof({ weight: 8, arbitrary: isoTime }, { weight: 1, arbitrary: hostileTime }),
});

/** Replaces one leaf of `value` (chosen by `pick`) with `replacement`, or adds a member. */
function mutate(value: unknown, pick: number, replacement: unknown, key: string): unknown {
  const leaves: (readonly (string | number)[])[] = [];
  const walk = (v: unknown, path: (string | number)[]) => {
    leaves.push(path);
    if (Array.isArray(v)) {
      for (const [i, item] of v.entries()) walk(item, [...path, i]);
    } else if (v !== null && typeof v === 'object')
      for (const [k, item] of Object.entries(v)) walk(item, [...path, k]);
  };
  walk(value, []);
  const path = leaves[pick % leaves.length]!;
  const set = (v: unknown, rest: readonly (string | number)[]): unknown => {
    if (rest.length === 0) {
      if (v !== null && typeof v === 'object' && !Array.isArray(v) && pick % 3 === 0) {
        // Add a member instead, sometimes one JavaScript treats specially.
        return JSON.parse(
          JSON.stringify({ ...v, [key]: replacement }).replace('"__key__"', JSON.stringify(key)),
        );
      }
      return replacement;
    }
    const [head, ...tail] = rest;
    if (Array.isArray(v)) return v.map((item, i) => (i === head ? set(item, tail) : item));
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(
        Object.entries(v).map(([k, item]) => [k, k === head ? set(item, tail) : item]),
      );
    }
    return v;
  };
  return set(value, path);
}

const specialKey = fc.constantFrom(
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'id',
  'type',
  '',
  'data',
);

const domainEvent = fc
  .record(
    {
      id: eventId,
      type: fc.oneof(
        { weight: 8, arbitrary: fc.constantFrom('OrderCreated', 'OrderPaid') },
        {
          weight: 1,
          arbitrary: fc.constantFrom('orderCreated', 'OrderShipped', '', 'order.created.v1', '__proto__'),
        },
        { weight: 1, arbitrary: ascii(20) },
      ),
      occurredAt: hostileTime,
      metadata: fc.oneof(fc.dictionary(ascii(10), ascii(20), { maxKeys: 4 }), fc.jsonValue({ maxDepth: 2 })),
      traceparent: fc.constantFrom('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'garbage'),
    },
    { requiredKeys: ['type'] },
  )
  .chain((base) => {
    const data =
      base.type === 'OrderCreated'
        ? orderCreatedData
        : base.type === 'OrderPaid'
          ? orderPaidData
          : fc.jsonValue({ maxDepth: 3 });
    return fc.tuple(
      fc.constant(base),
      data,
      fc.nat(),
      fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant(undefined)),
      specialKey,
      fc.nat(9),
    );
  })
  .map(([base, data, pick, replacement, key, roll]) => {
    const event: Record<string, unknown> = { ...base, data };
    // Mostly valid; some with one leaf changed, one member added, or the data swapped for anything.
    if (roll < 6 || replacement === undefined) return event;
    return mutate(event, pick, replacement, key);
  });

/** A well-formed event (only its id may be hostile): what makes writes happen at all. */
const validEvent = fc
  .record(
    {
      id: eventId,
      occurredAt: isoTime,
      metadata: fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 20 }), { maxKeys: 3 }),
    },
    { requiredKeys: [] },
  )
  .chain((base) =>
    fc.oneof(
      orderCreatedData.map((data) => ({ ...base, type: 'OrderCreated', data })),
      orderPaidData.map((data) => ({ ...base, type: 'OrderPaid', data })),
    ),
  );

const eventsBody: fc.Arbitrary<Body> = fc.oneof(
  { weight: 10, arbitrary: validEvent.map((value): Body => ({ kind: 'json', value })) },
  {
    weight: 3,
    arbitrary: fc
      .array(validEvent, { minLength: 1, maxLength: 5 })
      .map((value): Body => ({ kind: 'json', value })),
  },
  { weight: 10, arbitrary: domainEvent.map((value): Body => ({ kind: 'json', value })) },
  {
    weight: 3,
    arbitrary: fc.array(domainEvent, { maxLength: 6 }).map((value): Body => ({ kind: 'json', value })),
  },
  {
    weight: 1,
    // At and just past the 100-event limit (all or nothing).
    arbitrary: fc.tuple(validEvent, freshId, fc.constantFrom(100, 101)).map(
      ([e, prefix, count]): Body => ({
        kind: 'json',
        value: Array.from({ length: count }, (_, i) => ({ ...e, id: `${prefix}-${i}` })),
      }),
    ),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((value): Body => ({ kind: 'json', value })) },
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        fc.constantFrom(
          '',
          '{',
          '{"type":',
          'null',
          '[]',
          '{}',
          '"x"',
          '{"id":"a","id":"b","type":"OrderPaid"}',
          '[{"type":"OrderPaid"},',
          '\ufeff{}',
        ),
        fc.tuple(domainEvent, fc.nat()).map(([e, cut]) => {
          const text = JSON.stringify(e);
          return text.slice(0, cut % (text.length + 1));
        }),
        fc.nat({ max: 20_000 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`),
        fc.nat({ max: 20_000 }).map((depth) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`),
        anyText(200),
      )
      .map((text): Body => ({ kind: 'text', text })),
  },
  {
    weight: 1,
    arbitrary: fc.uint8Array({ maxLength: 300 }).map((bytes): Body => ({ kind: 'bytes', bytes })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        domainEvent,
        fc.constantFrom(200 * 1024, 256 * 1024 - 300, 256 * 1024, 256 * 1024 + 1, 300 * 1024),
      )
      .map(([value, size]): Body => ({ kind: 'padded', value, size })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom('{"type":"OrderPaid","data":{"pad":"', 'x'), fc.constantFrom(1, 1000, 40_000))
      .map(([text, repeat]): Body => ({ kind: 'chunked', text, repeat })),
  },
);

const auth = fc.oneof(
  { weight: 10, arbitrary: fc.constant<Auth>('producer') },
  { weight: 3, arbitrary: fc.constant<Auth>('admin') },
  { weight: 1, arbitrary: fc.constant<Auth>('other-producer') },
  { weight: 1, arbitrary: fc.constant<Auth>('none') },
  { weight: 2, arbitrary: fc.constant<Auth>('garbage') },
);
const garbageAuth = fc.oneof(
  fc.constantFrom(
    'Bearer',
    'Bearer ',
    'Basic YWRtaW46YWRtaW4=',
    'bearer reliability-producer-0123456789abcdef',
    'Bearer  reliability-producer-0123456789abcdef',
    'Bearer reliability-producer-0123456789abcdeg',
    'Bearer reliability-producer-0123456789abcde',
    `Bearer ${'x'.repeat(8000)}`,
    'Bearer reliability-admin-token-0123456789abcdef ',
  ),
  ascii(60).map((s) => `Bearer ${s}`),
);
const contentType = fc.oneof(
  { weight: 12, arbitrary: fc.constant<string | null>('application/json') },
  {
    weight: 3,
    arbitrary: fc.constantFrom<string | null>(
      'application/json; charset=utf-8',
      'application/cloudevents+json',
      'APPLICATION/JSON',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/jsonx',
      '',
      null,
      'application/json, text/plain',
    ),
  },
);
const extraHeaders = fc.dictionary(
  fc.constantFrom(
    'idempotency-key',
    'traceparent',
    'x-forwarded-for',
    'content-encoding',
    'accept',
    'x-hookmesh-admin',
    'cookie',
    'origin',
    'x-http-method-override',
  ),
  fc.oneof(
    ascii(40),
    fc.constantFrom(
      'gzip',
      'pool-1',
      'pool-2',
      '127.0.0.1',
      'DELETE',
      '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      'a'.repeat(300),
    ),
  ),
  { maxKeys: 3 },
);
const method = (main: string) =>
  fc.oneof(
    { weight: 12, arbitrary: fc.constant(main) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        'GET',
        'POST',
        'PUT',
        'PATCH',
        'DELETE',
        'HEAD',
        'OPTIONS',
        'PROPFIND',
        'FOO',
      ),
    },
  );

const apiRequest = (
  kind: ApiRequest['kind'],
  path: fc.Arbitrary<string>,
  verb: fc.Arbitrary<string>,
  body: fc.Arbitrary<Body>,
  who: fc.Arbitrary<Auth> = auth,
): fc.Arbitrary<ApiRequest> =>
  fc
    .record({ method: verb, path, auth: who, authRaw: garbageAuth, contentType, headers: extraHeaders, body })
    .map((r) => ({ target: 'mesh' as const, kind, ...r }));

// --- subscriptions -----------------------------------------------------------------------------

const privateHost = fc.constantFrom(
  '127.0.0.1',
  '127.1',
  '0x7f.1',
  '0x7F000001',
  '2130706433',
  '017700000001',
  '0177.0.0.1',
  '0',
  '0.0.0.0',
  '10.0.0.1',
  '10.1',
  '172.16.0.1',
  '192.168.1.1',
  '169.254.169.254',
  '0xa9.0xfe.0xa9.0xfe',
  '2852039166',
  '100.100.100.200',
  '[::1]',
  '[::ffff:127.0.0.1]',
  '[::ffff:7f00:1]',
  '[0:0:0:0:0:ffff:a9fe:a9fe]',
  '[::ffff:169.254.169.254]',
  '[fd00:ec2::254]',
  '[fe80::1]',
  '[64:ff9b::a9fe:a9fe]',
  '[2002:a9fe:a9fe::1]',
  'localhost',
  'LOCALHOST.',
  'foo.localhost',
  'metadata.google.internal',
  'metadata',
  '127.0.0.1.',
);
const subscriptionUrl = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'https://hooks.example.com/in',
      'https://93.184.216.34/hook',
      'https://[2606:2800:220:1::1]/x',
      'https://exämple.com/x',
    ),
  },
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.constantFrom('https', 'http', 'HTTPS'),
        privateHost,
        fc.constantFrom('', ':443', ':8080', ':0'),
      )
      .map(([s, h, p]) => `${s}://${h}${p}/hook`),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'http://hooks.example.com/in',
      'https://user:pass@hooks.example.com/',
      'https://@hooks.example.com/',
      'javascript:alert(1)',
      'file:///etc/passwd',
      'ftp://example.com/',
      '/relative',
      '',
      'https://',
      'https://hooks.example.com:99999/',
      'https:\\\\127.0.0.1\\hook',
      ' https://127.0.0.1/',
      'https://127.0.0.1\t/',
      `https://example.com/${'a'.repeat(5000)}`,
    ),
  },
  { weight: 1, arbitrary: fc.webUrl() },
  { weight: 1, arbitrary: anyText(60) },
);
const retryDelay = fc.oneof(
  fc.constantFrom(
    '1000',
    'pow(2, retried) * 1000',
    'min(86400000, 1000 * exp(retried))',
    '1000\n',
    '1000\tx',
    'process.exit()',
    'constructor',
    '1/0',
    '-1000',
    '(((((1)))))',
    `${'('.repeat(40)}1${')'.repeat(40)}`,
    'a'.repeat(300),
  ),
  anyText(40),
);
const subscriptionBody = fc
  .record(
    {
      type: fc.oneof(
        fc.constantFrom(
          'order.paid.v1',
          'order.created.v1',
          'order.*',
          '*',
          'Order.Paid.V1',
          'order.paid',
          '',
          'order.paid.v1 ',
        ),
        ascii(30),
      ),
      url: subscriptionUrl,
      retries: fc.oneof(fc.nat(20), fc.constantFrom(-1, 21, 1e9, 1.5, '3', null)),
      retryDelay,
      filter: fc.oneof(
        fc.constantFrom(
          { currency: 'EUR' },
          { amount: { $gt: 10 } },
          { $or: [{ a: 1 }, { b: { $in: [1, 2] } }] },
          { $where: 'x' },
          { a: { $regex: '.*' } },
        ),
        fc.jsonValue({ maxDepth: 4 }),
      ),
      pauseAfter: fc.oneof(fc.nat(100), fc.constantFrom(-1, 1e12, 'x')),
      maxConcurrency: fc.oneof(fc.nat(64), fc.constantFrom(-1, 0, 1e6, null)),
      paused: fc.oneof(fc.boolean(), fc.constantFrom('yes', 1, null)),
      id: ascii(20),
    },
    { requiredKeys: [] },
  )
  .map((value): Body => ({ kind: 'json', value }));
/** Creates that should succeed (public https targets): so later requests have API subscriptions to hit. */
const goodSubscriptionBody = fc
  .record(
    {
      type: fc.constantFrom('order.paid.v1', 'order.created.v1', 'order.*'),
      url: fc.constantFrom(
        'https://hooks.example.com/in',
        'https://93.184.216.34/hook',
        'https://billing.example.org/webhooks/x?tenant=1',
      ),
      retries: fc.nat(20),
      retryDelay: fc.constantFrom('1000', 'pow(2, retried) * 1000', 'min(60000, 500 * (retried + 1))'),
      filter: fc.constantFrom(
        { currency: 'EUR' },
        { amount: { $gt: 10 } },
        { $or: [{ currency: 'USD' }, { total: { $lt: 5 } }] },
      ),
      maxConcurrency: fc.integer({ min: 1, max: 64 }),
      paused: fc.boolean(),
    },
    { requiredKeys: ['type', 'url'] },
  )
  .map((value): Body => ({ kind: 'json', value }));

const subscriptionPatch = fc
  .record(
    {
      paused: fc.oneof(fc.boolean(), fc.constantFrom('true', 0)),
      url: subscriptionUrl,
      retries: fc.oneof(fc.nat(20), fc.constantFrom(-5, 99)),
      retryDelay,
      type: fc.constantFrom('order.paid.v1', 'x'),
      origin: fc.constantFrom('code', 'api'),
    },
    { requiredKeys: [] },
  )
  .map((value): Body => ({ kind: 'json', value }));
const subscriptionRef = fc.oneof(
  { weight: 4, arbitrary: fc.constant('{sub}') },
  { weight: 2, arbitrary: fc.constantFrom('code-paid', 'code-created') },
  { weight: 1, arbitrary: anyText(30).map((s) => pct(s)) },
);

// --- deliveries and reads ----------------------------------------------------------------------

const queryValue = fc.oneof(
  fc.constantFrom(
    'dead',
    'pending',
    'delivered',
    'DEAD',
    'order.paid.v1',
    'order.*',
    'code-paid',
    '2026-11-30T12:00:00Z',
    '2026-11-30',
    '0',
    '-1',
    '500',
    '501',
    '1e3',
    'eyJ4IjoxfQ',
    'WzEsIngiXQ',
    '',
  ),
  anyText(30),
);
const deliveriesQuery = fc
  .array(
    fc.tuple(
      fc.constantFrom('status', 'type', 'subscription', 'since', 'until', 'limit', 'cursor', 'x', 'status'),
      queryValue,
    ),
    { maxLength: 5 },
  )
  .map((pairs) => (pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${k}=${pct(v)}`).join('&')}`));
const replayFilter = fc
  .record(
    {
      status: fc.constantFrom('dead', 'pending', 'delivered', null, 1),
      type: fc.constantFrom('order.paid.v1', 'order.*', '*', ''),
      subscription: fc.constantFrom('code-paid', 'code-created', 'x', ''),
      since: hostileTime,
      until: hostileTime,
      limit: fc.nat(10),
    },
    { requiredKeys: [] },
  )
  .map((value): Body => ({ kind: 'json', value }));

const none = fc.constant<Body>({ kind: 'none' });
const strangePath = fc.oneof(
  fc.constantFrom(
    '/',
    '/v1',
    '/v1/',
    '/V1/EVENTS',
    '//v1/events',
    '/v1/events/',
    '/v1/../v1/events',
    '/v1/%2e%2e/v1/events',
    '/v1/events%00',
    '/v1/events/%ff',
    '/healthz',
    '/healthz/',
    '/metrics',
    '/openapi.json',
    '/dashboard',
    '/dashboard/',
    '/dashboard/sign-in',
    '/dashboard/events?id=%00',
    '/dashboard/deliveries?status=dead',
    '/dashboard/subscriptions',
    '/dashboard/assets/dashboard.css',
    '/dashboard/assets/..%2f..%2fpackage.json',
    '/v1/qstash/callback',
    '/webhooks/order.paid.v1',
    `/${'a'.repeat(10_000)}`,
  ),
  fc
    .array(
      anyText(12).map((s) => pct(s)),
      { minLength: 1, maxLength: 4 },
    )
    .map((parts) => `/${parts.join('/')}`),
);
const dashboardForm = fc
  .dictionary(
    fc.constantFrom('token', 'csrf', 'type', 'url', 'status', 'Admin token'),
    fc.oneof(ascii(40), fc.constant('reliability-admin-token-0123456789abcdef')),
    { maxKeys: 3 },
  )
  .map((form): Body => ({ kind: 'text', text: new URLSearchParams(form).toString() }));

/** A hostile request to the mesh's API. */
export const apiRequests: fc.Arbitrary<ApiRequest> = fc.oneof(
  { weight: 12, arbitrary: apiRequest('events', fc.constant('/v1/events'), method('POST'), eventsBody) },
  {
    weight: 2,
    arbitrary: apiRequest(
      'read',
      fc.oneof(
        fc.constant('/v1/events/{event}'),
        eventId.map((id) => `/v1/events/${pct(id)}`),
      ),
      method('GET'),
      none,
    ),
  },
  {
    weight: 3,
    arbitrary: fc.oneof(
      apiRequest(
        'subscriptions',
        fc.constant('/v1/subscriptions'),
        method('POST'),
        subscriptionBody,
        fc.constantFrom<Auth>('admin', 'admin', 'admin', 'producer', 'none'),
      ),
      apiRequest(
        'subscriptions',
        fc.constant('/v1/subscriptions'),
        fc.constant('POST'),
        goodSubscriptionBody,
        fc.constant<Auth>('admin'),
      ),
      apiRequest(
        'subscriptions',
        subscriptionRef.map((r) => `/v1/subscriptions/${r}`),
        method('PATCH'),
        subscriptionPatch,
        fc.constantFrom<Auth>('admin', 'admin', 'producer'),
      ),
      apiRequest(
        'subscriptions',
        subscriptionRef.map((r) => `/v1/subscriptions/${r}`),
        fc.constantFrom('DELETE', 'GET'),
        none,
        fc.constantFrom<Auth>('admin', 'producer', 'none'),
      ),
      apiRequest(
        'subscriptions',
        fc.constant('/v1/subscriptions'),
        fc.constant('GET'),
        none,
        fc.constantFrom<Auth>('admin', 'producer'),
      ),
    ),
  },
  {
    weight: 2,
    arbitrary: fc.oneof(
      apiRequest(
        'deliveries',
        deliveriesQuery.map((q) => `/v1/deliveries${q}`),
        method('GET'),
        none,
        fc.constantFrom<Auth>('admin', 'admin', 'producer', 'garbage'),
      ),
      apiRequest(
        'deliveries',
        fc.constant('/v1/deliveries/retry'),
        method('POST'),
        replayFilter,
        fc.constantFrom<Auth>('admin', 'admin', 'producer'),
      ),
      apiRequest(
        'deliveries',
        fc.oneof(
          fc.constant('/v1/deliveries/{delivery}/retry'),
          anyText(20).map((s) => `/v1/deliveries/${pct(s)}/retry`),
        ),
        method('POST'),
        none,
        fc.constantFrom<Auth>('admin', 'producer'),
      ),
      apiRequest(
        'deliveries',
        deliveriesQuery.map((q) => `/v1/deliveries${q}`),
        fc.constant('DELETE'),
        none,
        fc.constantFrom<Auth>('admin', 'producer'),
      ),
    ),
  },
  {
    weight: 2,
    arbitrary: fc.oneof(
      apiRequest(
        'misc',
        strangePath,
        fc.constantFrom('GET', 'GET', 'POST', 'HEAD', 'OPTIONS', 'DELETE'),
        fc.oneof(none, eventsBody),
      ),
      apiRequest(
        'misc',
        fc.constantFrom(
          '/dashboard/sign-in',
          '/dashboard/deliveries/replay',
          '/dashboard/subscriptions',
          '/dashboard/subscriptions/code-paid/pause',
          '/dashboard/sign-out',
        ),
        fc.constant('POST'),
        dashboardForm,
      ),
    ),
  },
);

// --- the webhook route -------------------------------------------------------------------------

const paidData = fc.record({
  orderId: fc.oneof(freshId, ascii(10)),
  amount: fc.double({ noNaN: true, noDefaultInfinity: true }),
  paidAt: fc.oneof(isoTime, ascii(10)),
});

/** A hostile request to the consuming service's `order.paid.v1` route (or near it). */
export const webhookRequests: fc.Arbitrary<WebhookRequest> = fc.record({
  target: fc.constant('handler' as const),
  method: method('POST'),
  route: fc.oneof(
    { weight: 14, arbitrary: fc.constant('/webhooks/order.paid.v1') },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '/webhooks/order.created.v1',
        '/webhooks/order.paid.v1/',
        '/webhooks/',
        '/webhooks/ORDER.PAID.V1',
        '/webhooks/order.paid.v2',
        '/webhooks/%2e%2e',
      ),
    },
  ),
  query: fc.oneof(
    { weight: 8, arbitrary: fc.constant('') },
    { weight: 1, arbitrary: fc.constantFrom('?a=1', '?', '?x=%00') },
  ),
  token: fc.oneof(
    { weight: 10, arbitrary: fc.constant<TokenKind>('valid') },
    { weight: 2, arbitrary: fc.constantFrom<TokenKind>('replay', 'replay-other-ce-id') },
    {
      weight: 6,
      arbitrary: fc.constantFrom<TokenKind>(
        'other-body',
        'other-subject',
        'other-key',
        'expired',
        'not-yet-valid',
        'alg-none',
        'hs512',
        'garbage',
        'missing',
        'truncated',
        'flipped',
      ),
    },
  ),
  body: fc.oneof(
    { weight: 200, arbitrary: paidData.map((data) => ({ kind: 'valid' as const, data })) },
    {
      weight: 40,
      arbitrary: fc.jsonValue({ maxDepth: 3 }).map((value) => ({ kind: 'mismatch' as const, value })),
    },
    {
      weight: 20,
      arbitrary: fc
        .oneof(fc.constantFrom('', '{', 'null', '{"orderId":1}'), anyText(100))
        .map((text) => ({ kind: 'text' as const, text })),
    },
    {
      weight: 20,
      arbitrary: fc.uint8Array({ maxLength: 100 }).map((bytes) => ({ kind: 'bytes' as const, bytes })),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(1024 * 1024 + 1, 2 * 1024 * 1024)
        .map((size) => ({ kind: 'huge' as const, size })),
    },
  ),
  ceId: fc.oneof(
    { weight: 8, arbitrary: freshId.map((id) => ({ kind: 'fresh' as const, id })) },
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 19 }).map((n) => ({ kind: 'pool' as const, n })) },
    {
      weight: 1,
      arbitrary: fc
        .oneof(fc.constantFrom<string | null>(null, '', 'x'.repeat(201), ' '), ascii(30))
        .map((value) => ({ kind: 'raw' as const, value })),
    },
  ),
  ceType: fc.oneof(
    { weight: 12, arbitrary: fc.constant<string | null>('order.paid.v1') },
    { weight: 1, arbitrary: fc.constantFrom<string | null>(null, 'order.created.v1', 'ORDER.PAID.V1', '') },
  ),
  ceSpecversion: fc.oneof(
    { weight: 12, arbitrary: fc.constant<string | null>('1.0') },
    { weight: 1, arbitrary: fc.constantFrom<string | null>(null, '0.3', '1.0 ', '') },
  ),
  ceSource: fc.oneof(
    { weight: 12, arbitrary: fc.constant<string | null>('/producers/reliability') },
    { weight: 1, arbitrary: fc.constantFrom<string | null>(null, '') },
  ),
  ceTime: fc.oneof(
    { weight: 12, arbitrary: isoTime.map((t): string | null => t) },
    { weight: 1, arbitrary: fc.constantFrom<string | null>(null, '', 'yesterday') },
  ),
  headers: fc.dictionary(
    fc.constantFrom(
      'upstash-retried',
      'upstash-message-id',
      'content-type',
      'traceparent',
      'content-encoding',
    ),
    fc.oneof(ascii(30), fc.constantFrom('0', '3', '-1', '1e9', 'NaN', 'application/json', 'gzip')),
    { maxKeys: 3 },
  ),
});

/** The mix scenario 5 sends: about three in five to the mesh, two in five to the webhook route. */
export const hostileRequests: fc.Arbitrary<HostileRequest> = fc.oneof(
  { weight: 3, arbitrary: apiRequests },
  { weight: 2, arbitrary: webhookRequests },
);
