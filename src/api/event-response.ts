import type { EventView } from '../core/event-store.ts';
import type { Principal } from './auth.ts';

/**
 * `GET /v1/events/:id`'s shape (DESIGN.md): stored JSON text becomes JSON again, times ISO 8601.
 * A producer sees how its event is being delivered (states, attempt numbers, times, statuses,
 * durations) but not what the subscribers answered: response excerpts and error texts belong to
 * other services and can carry their internals (stack traces, resolved addresses, TLS errors).
 * For a producer both are null — the fields stay, so the shape is the same for every reader.
 * @example c.json(toEventResponse(event, principal.kind))
 */
export function toEventResponse(event: EventView, reader: Principal['kind']) {
  const seesResponses = reader === 'admin';
  return {
    id: event.id,
    type: event.type,
    source: event.source,
    receivedAt: new Date(event.receivedAt).toISOString(),
    occurredAt: event.occurredAt,
    data: JSON.parse(event.data) as unknown,
    metadata: event.metadata === null ? null : (JSON.parse(event.metadata) as unknown),
    integrationEvents: event.integrationEvents.map((ie) => ({
      id: ie.id,
      type: ie.type,
      source: ie.source,
      time: ie.time,
      data: JSON.parse(ie.data) as unknown,
      orderingKey: ie.orderingKey,
      deliveries: ie.deliveries.map((d) => ({
        id: d.id,
        subscriptionId: d.subscriptionId,
        url: d.url,
        status: d.status,
        nextAttemptAt:
          d.status === 'delivered' || d.status === 'dead' ? null : new Date(d.nextAttemptAt).toISOString(),
        attempts: d.attempts.map((a) => ({
          number: a.number,
          at: new Date(a.at).toISOString(),
          status: a.status,
          durationMs: a.durationMs,
          error: seesResponses ? a.error : null,
          responseExcerpt: seesResponses ? a.responseExcerpt : null,
        })),
      })),
    })),
  };
}
