import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { OutboxStore } from '../core/outbox-store.ts';
import { type AuthEnv, type Authenticator, requireAuth } from './auth.ts';
import { toEventResponse } from './event-response.ts';
import type { IngestService } from './ingest.ts';
import { problem } from './problem.ts';

export interface EventsRoutesOptions {
  readonly ingest: IngestService;
  readonly store: OutboxStore;
  readonly auth: Authenticator;
  /** Largest accepted body, in bytes (default 256 KiB). */
  readonly maxBodyBytes: number;
  /** Requests allowed inside POST /v1/events at once; past it, 429 (default 256). */
  readonly maxInFlight: number;
}

const JSON_MEDIA = /^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i;

export function createEventsRoutes(options: EventsRoutesOptions) {
  const { ingest, store, auth } = options;
  let inFlight = 0;

  return new Hono<AuthEnv>()
    .post(
      '/',
      async (c, next) => {
        // Shed load before reading bodies: a bounded queue keeps latency bounded for what is admitted.
        if (inFlight >= options.maxInFlight) {
          return problem(
            c,
            429,
            'too-many-requests',
            'the mesh is at capacity; retry shortly',
            {},
            { 'retry-after': '1' },
          );
        }
        inFlight++;
        try {
          await next();
        } finally {
          inFlight--;
        }
      },
      requireAuth(auth, ['producer']),
      async (c, next) => {
        const type = c.req.header('content-type');
        if (!type || !JSON_MEDIA.test(type)) {
          return problem(
            c,
            415,
            'unsupported-media-type',
            'send the event as application/json',
            {},
            { accept: 'application/json' },
          );
        }
        await next();
      },
      bodyLimit({
        maxSize: options.maxBodyBytes,
        onError: (c) =>
          problem(c, 413, 'payload-too-large', `the body exceeds ${options.maxBodyBytes} bytes`),
      }),
      async (c) => {
        const text = await c.req.text();
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch (error) {
          return problem(c, 400, 'malformed-json', `the body is not valid JSON: ${(error as Error).message}`);
        }
        const principal = c.get('principal');
        const result = await ingest.ingest({
          body,
          source: principal.kind === 'producer' ? principal.name : 'admin',
          idempotencyKey: c.req.header('idempotency-key') ?? null,
          traceparent: c.req.header('traceparent') ?? null,
        });
        switch (result.kind) {
          case 'invalid':
            return problem(c, 400, 'invalid-event', result.detail, { issues: result.issues });
          case 'unknown_type':
            return problem(c, 422, 'unknown-event-type', result.detail, { issues: result.issues });
          case 'accepted': {
            const status = result.created ? 202 : 200;
            const payload = Array.isArray(body) ? { events: result.receipts } : result.receipts[0];
            return c.json(payload, status);
          }
        }
      },
    )
    .get('/:id', requireAuth(auth, ['producer', 'admin']), async (c) => {
      const id = c.req.param('id');
      const event = await store.getEvent(id);
      const principal = c.get('principal');
      // Another producer's event is indistinguishable from a missing one.
      if (!event || (principal.kind === 'producer' && event.source !== principal.name)) {
        return problem(c, 404, 'not-found', `no event ${JSON.stringify(id)}`);
      }
      return c.json(toEventResponse(event));
    });
}
