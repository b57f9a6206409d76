import type { DeliveryStatus } from '../core/delivery-state.ts';
import type { AttemptView, DeliveryView, EventView } from '../core/event-store.ts';
import type { SqlDriver, SqlRow } from './sql-driver.ts';
import { typeNameOf } from './sql-event-types.ts';
import { deliveryIdOut, eventIdOut } from './sql-ids.ts';
import { integrationSource, integrationTime } from './sql-integration-event.ts';
import { toInteger, toIntegerOrNull, toText, toTextOrNull } from './sql-row.ts';

// Subqueries rather than id lists: one bound parameter however many rows (D1 binds ≤100).
const INTEGRATION_REFS = 'SELECT ref FROM integration_events WHERE domain_event_ref = ?1';

/**
 * The attempts of the event's deliveries, from both places an attempt is kept (0011: the view
 * `attempt_log`, spelled out): SQLite does not push an `IN (SELECT …)` into a compound view, so
 * through the view each half would read its whole table.
 */
const ATTEMPTS_OF_EVENT = `SELECT ${deliveryIdOut('delivery_id')} AS delivery_id, number, at, status, duration_ms, error, response_excerpt
  FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE integration_event_ref IN (${INTEGRATION_REFS}))
  UNION ALL
  SELECT ${deliveryIdOut('id')}, delivered_number, delivered_at, delivered_status, delivered_duration_ms, NULL, delivered_excerpt
  FROM deliveries WHERE integration_event_ref IN (${INTEGRATION_REFS}) AND delivered_number IS NOT NULL
  ORDER BY number`;

/** One event with its integration events, deliveries and attempts, in plain SQL (not a hot path). */
export async function readEventView(driver: SqlDriver, id: string): Promise<EventView | null> {
  const [event] = await driver.query(
    `SELECT ref, id, ${typeNameOf('type_ref')} AS type, source, received_at, occurred_at, data, metadata FROM domain_events WHERE id = ?`,
    [id],
  );
  if (!event) return null;
  const ref = toInteger(event.ref);
  const integration = await driver.query(
    `SELECT ie.ref, ${eventIdOut('ie.id')} AS id, ${typeNameOf('ie.type_ref')} AS type, ${integrationSource('ie', 'de')} AS source, ${integrationTime('ie', 'de')} AS time, ie.data
     FROM integration_events ie JOIN domain_events de ON de.ref = ie.domain_event_ref
     WHERE ie.domain_event_ref = ? ORDER BY ie.seq`,
    [ref],
  );
  const deliveryRows =
    integration.length === 0
      ? []
      : await driver.query(
          `SELECT ${deliveryIdOut('d.id')} AS id, d.integration_event_ref, sr.id AS subscription_id, e.url, d.status,
             d.next_attempt_at, d.ordering_key
           FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id
             JOIN subscription_refs sr ON sr.ref = d.subscription_ref
           WHERE d.integration_event_ref IN (${INTEGRATION_REFS}) ORDER BY d.created_at, d.id`,
          [ref],
        );
  const attemptRows = deliveryRows.length === 0 ? [] : await driver.query(ATTEMPTS_OF_EVENT, [ref]);
  const attemptsOf = (deliveryId: string): AttemptView[] =>
    attemptRows.filter((a) => a.delivery_id === deliveryId).map(toAttemptView);
  // Every delivery of an integration event carries its key (sql-event-inserts.ts): any one says it.
  const orderingKeyOf = (ieRef: unknown): string | null =>
    toTextOrNull(deliveryRows.find((d) => d.integration_event_ref === ieRef)?.ordering_key ?? null);
  return {
    id: toText(event.id),
    type: toText(event.type),
    source: toText(event.source),
    receivedAt: toInteger(event.received_at),
    occurredAt: toTextOrNull(event.occurred_at),
    data: toText(event.data),
    metadata: toTextOrNull(event.metadata),
    integrationEvents: integration.map((ie) => ({
      id: toText(ie.id),
      type: toText(ie.type),
      source: toText(ie.source),
      time: toText(ie.time),
      data: toText(ie.data),
      orderingKey: orderingKeyOf(ie.ref),
      deliveries: deliveryRows
        .filter((d) => d.integration_event_ref === ie.ref)
        .map(
          (d): DeliveryView => ({
            id: toText(d.id),
            subscriptionId: toText(d.subscription_id),
            url: toText(d.url),
            status: toText(d.status) as DeliveryStatus,
            nextAttemptAt: toInteger(d.next_attempt_at),
            attempts: attemptsOf(toText(d.id)),
          }),
        ),
    })),
  };
}

function toAttemptView(a: SqlRow): AttemptView {
  return {
    number: toInteger(a.number),
    at: toInteger(a.at),
    status: toIntegerOrNull(a.status),
    durationMs: toInteger(a.duration_ms),
    error: toTextOrNull(a.error),
    responseExcerpt: toTextOrNull(a.response_excerpt),
  };
}
