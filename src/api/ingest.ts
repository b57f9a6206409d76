import * as v from 'valibot';
import type { Clock } from '../core/clock.ts';
import { ConflictError } from '../core/errors.ts';
import type {
  EventStore,
  NewDomainEvent,
  NewIntegrationEvent,
  StoredDomainEvent,
} from '../core/event-store.ts';
import type { Issue } from '../core/issues.ts';
import { toIssues } from '../core/issues.ts';
import type { Registry } from '../core/registry.ts';
import { toCanonicalJson } from './canonical-json.ts';

export const MAX_EVENTS_PER_REQUEST = 100;

/** How far ahead of the mesh's clock an event's `notBefore` may lie (DESIGN "Delayed delivery"). */
export const MAX_NOT_BEFORE_AHEAD_MS = 7 * 24 * 60 * 60 * 1000;

/** The answer for one event: its id and the integration events it became. */
export interface EventReceipt {
  readonly id: string;
  readonly integrationEvents: readonly { readonly id: string; readonly type: string }[];
}

export type IngestResult =
  | { readonly kind: 'accepted'; readonly created: boolean; readonly receipts: readonly EventReceipt[] }
  | { readonly kind: 'invalid'; readonly detail: string; readonly issues: readonly Issue[] }
  | { readonly kind: 'unknown_type'; readonly detail: string; readonly issues: readonly Issue[] };

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
const NO_CONTROL_CHARACTERS = /^[^\u0000-\u001f\u007f-\u009f]*$/;

/**
 * An event id (DESIGN "Vocabulary"), in the body or as the `Idempotency-Key` header: 1–200
 * characters, no control characters, well-formed Unicode (no lone surrogates).
 */
export const EventIdSchema = v.pipe(
  v.string('id must be a string'),
  v.minLength(1, 'id must be 1 to 200 characters'),
  v.maxLength(200, 'id must be 1 to 200 characters'),
  v.regex(NO_CONTROL_CHARACTERS, 'id must not contain control characters'),
  v.check((id) => id.isWellFormed(), 'id must be well-formed Unicode'),
  v.description('Unique across the mesh: 1–200 characters, no control characters, well-formed Unicode'),
);

/**
 * One domain event as `POST /v1/events` takes it; `data` is checked against its type's schema
 * after this. The OpenAPI document is generated from this schema (src/api/openapi/).
 */
export const EnvelopeSchema = v.strictObject({
  id: v.optional(EventIdSchema),
  type: v.pipe(v.string(), v.minLength(1), v.maxLength(200)),
  data: v.unknown(),
  occurredAt: v.optional(v.pipe(v.string(), v.isoTimestamp('occurredAt must be an RFC 3339 timestamp'))),
  metadata: v.optional(
    v.pipe(
      v.custom<Record<string, unknown>>(
        (m) => typeof m === 'object' && m !== null && !Array.isArray(m),
        'metadata must be a JSON object',
      ),
      // What the custom check means, for the OpenAPI document; no effect on validation.
      v.metadata({ type: 'object' }),
    ),
  ),
  notBefore: v.optional(
    v.pipe(
      v.string(),
      v.isoTimestamp('notBefore must be an RFC 3339 timestamp'),
      v.description(
        "Deliver no earlier than this (RFC 3339, at most 7 days ahead of the mesh's clock; a past time means now)",
      ),
    ),
  ),
});

type Envelope = v.InferOutput<typeof EnvelopeSchema>;

const ENVELOPE_KEYS = new Set(['id', 'type', 'data', 'occurredAt', 'metadata', 'notBefore']);

/**
 * `EnvelopeSchema`'s output for an envelope that plainly passes it, else null — then the schema
 * itself decides, and words the issues. Accepts only what the schema accepts, and gives what it
 * gives (the members present, the same values): so valibot's generic walk, a few microseconds of
 * every request, runs only for envelopes that are not plain.
 */
export function plainEnvelope(item: unknown): Envelope | null {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return null;
  const o = item as Record<string, unknown>;
  for (const key in o) if (!ENVELOPE_KEYS.has(key)) return null;
  const { id, type, occurredAt, metadata, notBefore } = o;
  if (typeof type !== 'string' || type.length < 1 || type.length > 200 || !('data' in o)) return null;
  const envelope: Mutable<Envelope> = { type, data: o.data };
  if ('id' in o) {
    if (
      typeof id !== 'string' ||
      id.length < 1 ||
      id.length > 200 ||
      !NO_CONTROL_CHARACTERS.test(id) ||
      !id.isWellFormed()
    ) {
      return null;
    }
    envelope.id = id;
  }
  if ('occurredAt' in o) {
    if (typeof occurredAt !== 'string' || !v.ISO_TIMESTAMP_REGEX.test(occurredAt)) return null;
    envelope.occurredAt = occurredAt;
  }
  if ('metadata' in o) {
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) return null;
    envelope.metadata = metadata as Record<string, unknown>;
  }
  if ('notBefore' in o) {
    if (typeof notBefore !== 'string' || !v.ISO_TIMESTAMP_REGEX.test(notBefore)) return null;
    envelope.notBefore = notBefore;
  }
  return envelope;
}

/** W3C trace context; a `traceparent` header that does not match is not stored. */
export const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

export interface IngestService {
  /**
   * Validates, converts and writes one request's events, all or nothing. A copy of an event
   * already accepted (same id, same body) is answered as the first was; a different body under
   * the same id throws `ConflictError`. A copy arriving while the first is being written waits.
   */
  ingest(request: {
    body: unknown;
    source: string;
    idempotencyKey: string | null;
    traceparent: string | null;
  }): Promise<IngestResult>;
}

export function createIngestService(deps: {
  registry: Registry;
  events: EventStore;
  clock: Clock;
  newId: () => string;
}): IngestService {
  const { registry, events: store, clock, newId } = deps;
  // A producer's integration event source, made once per producer (a handful of names).
  const integrationSources = new Map<string, string>();
  const toIntegrationSource = (source: string) => {
    let made = integrationSources.get(source);
    if (made === undefined) {
      made = `/producers/${encodeURIComponent(source)}`;
      if (integrationSources.size < 1_000) integrationSources.set(source, made);
    }
    return made;
  };
  // Ids being written by this process right now: a copy waits for the first to settle.
  const writing = new Map<string, Promise<unknown>>();
  // Requests accepted together share their millisecond: format it once.
  let isoMs = Number.NaN;
  let iso = '';
  const toIso = (ms: number) => {
    if (ms !== isoMs) {
      iso = new Date(ms).toISOString();
      isoMs = ms;
    }
    return iso;
  };

  const validate = (
    body: unknown,
    idempotencyKey: string | null,
    now: number,
  ):
    | {
        ok: true;
        events: Envelope[];
        data: unknown[];
        notBefore: (number | null)[];
      }
    | Exclude<IngestResult, { kind: 'accepted' }> => {
    const single = !Array.isArray(body);
    const items: unknown[] = single ? [body] : (body as unknown[]);
    if (!single && idempotencyKey !== null) {
      return invalid(
        'Idempotency-Key applies to a single event; in an array each event carries its own id',
        [],
      );
    }
    if (items.length === 0) return invalid('the array holds no events', []);
    if (items.length > MAX_EVENTS_PER_REQUEST) {
      return invalid(`an array holds at most ${MAX_EVENTS_PER_REQUEST} events, this one ${items.length}`, []);
    }
    const issues: Issue[] = [];
    const unknownTypes: Issue[] = [];
    const events: Envelope[] = [];
    const data: unknown[] = [];
    const notBefore: (number | null)[] = [];
    const seen = new Set<string>();
    items.forEach((item, index) => {
      const at = single ? '' : `/${index}`;
      let event = plainEnvelope(item);
      if (event === null) {
        const envelope = v.safeParse(EnvelopeSchema, item);
        if (!envelope.success) {
          issues.push(...toIssues(envelope.issues, at));
          return;
        }
        event = envelope.output;
      }
      const due = event.notBefore === undefined ? null : Date.parse(event.notBefore);
      if (due !== null && !(due - now <= MAX_NOT_BEFORE_AHEAD_MS)) {
        issues.push({
          path: `${at}/notBefore`,
          message: Number.isNaN(due)
            ? 'notBefore must be an RFC 3339 timestamp'
            : 'notBefore must be at most 7 days ahead',
        });
        return;
      }
      if (single && idempotencyKey !== null) {
        if (event.id !== undefined && event.id !== idempotencyKey) {
          issues.push({ path: `${at}/id`, message: 'differs from the Idempotency-Key header' });
          return;
        }
        const key = v.safeParse(EventIdSchema, idempotencyKey, { abortPipeEarly: true });
        if (!key.success) issues.push(...toIssues(key.issues, `${at}/id`));
        event = { ...event, id: idempotencyKey };
      }
      if (event.id !== undefined) {
        if (seen.has(event.id))
          issues.push({ path: `${at}/id`, message: 'id appears twice in this request' });
        seen.add(event.id);
      }
      const checked = registry.validate(event.type, event.data, `${at}/data`);
      if (!checked.ok) {
        if (checked.reason === 'unknown_type') {
          unknownTypes.push({
            path: `${at}/type`,
            message: `no domain event is named ${JSON.stringify(event.type)}`,
          });
        } else {
          issues.push(...checked.issues);
        }
        return;
      }
      events.push(event);
      data.push(checked.data);
      notBefore.push(due);
    });
    if (issues.length > 0)
      return invalid(issues.length === 1 ? issues[0]!.message : 'the request has invalid fields', issues);
    if (unknownTypes.length > 0) {
      return { kind: 'unknown_type', detail: unknownTypes[0]!.message, issues: unknownTypes };
    }
    return { ok: true, events, data, notBefore };
  };

  const compareWithStored = (stored: StoredDomainEvent, incoming: NewDomainEvent) =>
    stored.type === incoming.type &&
    stored.source === incoming.source &&
    stored.occurredAt === incoming.occurredAt &&
    stored.notBefore === (incoming.notBefore ?? null) &&
    toCanonicalJson(JSON.parse(stored.data)) === toCanonicalJson(JSON.parse(incoming.data)) &&
    (stored.metadata === null ? null : toCanonicalJson(JSON.parse(stored.metadata))) ===
      (incoming.metadata === null ? null : toCanonicalJson(JSON.parse(incoming.metadata)));

  const write = async (events: NewDomainEvent[]): Promise<{ created: boolean; receipts: EventReceipt[] }> => {
    const first = await store.appendEvents(events);
    if (first.ok) return { created: true, receipts: events.map(toReceipt) };
    const receipts = new Map<string, EventReceipt>();
    let pending = events;
    let created = false;
    // A conflict means another writer got there first; a few rounds settle any interleaving.
    for (let round = 0; pending.length > 0; round++) {
      const result = round === 0 ? first : await store.appendEvents(pending);
      if (result.ok) {
        created = true;
        for (const e of pending) receipts.set(e.id, toReceipt(e));
        break;
      }
      if (round >= 3) throw new Error('the outbox kept refusing the write with conflicting ids');
      const stored = await store.findEvents(result.existing);
      for (const s of stored) {
        const incoming = pending.find((e) => e.id === s.id)!;
        if (!compareWithStored(s, incoming)) {
          throw new ConflictError(`event ${JSON.stringify(s.id)} was already accepted with a different body`);
        }
        receipts.set(s.id, {
          id: s.id,
          integrationEvents: s.integrationEvents.map((ie) => ({ id: ie.id, type: ie.type })),
        });
      }
      pending = pending.filter((e) => !receipts.has(e.id));
    }
    return { created, receipts: events.map((e) => receipts.get(e.id)!) };
  };

  return {
    async ingest({ body, source, idempotencyKey, traceparent }) {
      const receivedAt = clock.now();
      const checked = validate(body, idempotencyKey, receivedAt);
      if (!('ok' in checked)) return checked;
      const receivedIso = toIso(receivedAt);
      const integrationSource = toIntegrationSource(source);
      const trace = traceparent !== null && TRACEPARENT.test(traceparent) ? traceparent : null;
      const events: NewDomainEvent[] = checked.events.map((envelope, index) => {
        const data = checked.data[index];
        const id = envelope.id ?? newId();
        const occurredAt = envelope.occurredAt ?? null;
        const metadata = envelope.metadata ?? null;
        const due = checked.notBefore[index] ?? null;
        const drafts = registry.convert({
          id,
          type: envelope.type,
          data,
          source,
          occurredAt,
          receivedAt: receivedIso,
          metadata,
        });
        // Optional members assigned after, not spread in: one object, one shape, no copies.
        const integrationEvents = drafts.map((draft) => {
          const ie: Mutable<NewIntegrationEvent> = {
            id: newId(),
            type: draft.type,
            source: integrationSource,
            time: occurredAt ?? receivedIso,
            data: draft.json,
          };
          if (draft.orderingKey !== undefined) ie.orderingKey = draft.orderingKey;
          return ie;
        });
        const event: Mutable<NewDomainEvent> = {
          id,
          type: envelope.type,
          source,
          data: JSON.stringify(data),
          occurredAt,
          metadata: metadata === null ? null : JSON.stringify(metadata),
          traceparent: trace,
          receivedAt,
          integrationEvents,
        };
        if (due !== null) event.notBefore = due;
        return event;
      });

      const earlier: Promise<unknown>[] = [];
      for (const e of events) {
        const copy = writing.get(e.id);
        if (copy !== undefined) earlier.push(copy);
      }
      if (earlier.length > 0) await Promise.allSettled(earlier);
      const done = write(events);
      for (const e of events) writing.set(e.id, done);
      try {
        const { created, receipts } = await done;
        return { kind: 'accepted', created, receipts };
      } finally {
        for (const e of events) if (writing.get(e.id) === done) writing.delete(e.id);
      }
    },
  };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function invalid(
  detail: string,
  issues: Issue[],
): Exclude<IngestResult, { kind: 'accepted' | 'unknown_type' }> {
  return { kind: 'invalid', detail, issues };
}

function toReceipt(event: NewDomainEvent): EventReceipt {
  return {
    id: event.id,
    integrationEvents: event.integrationEvents.map((ie) => ({ id: ie.id, type: ie.type })),
  };
}
