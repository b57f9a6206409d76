import { asc, eq, inArray } from 'drizzle-orm';
import type { DeliveryStatus } from '../core/delivery-state.ts';
import type { AttemptView, DeliveryView, EventView } from '../core/event-store.ts';
import * as schema from './schema.ts';
import type { OutboxDatabase } from './sql-database.ts';

/** One event with its integration events, deliveries and attempts, through Drizzle (not a hot path). */
export async function readEventView(db: OutboxDatabase, id: string): Promise<EventView | null> {
  const [event] = await db.select().from(schema.domainEvents).where(eq(schema.domainEvents.id, id));
  if (!event) return null;
  const integration = await db
    .select()
    .from(schema.integrationEvents)
    .where(eq(schema.integrationEvents.domainEventId, id))
    .orderBy(asc(schema.integrationEvents.seq));
  // Subqueries rather than id lists: one bound parameter however many rows (D1 binds ≤100).
  const ieIds = db
    .select({ id: schema.integrationEvents.id })
    .from(schema.integrationEvents)
    .where(eq(schema.integrationEvents.domainEventId, id));
  const deliveryRows =
    integration.length === 0
      ? []
      : await db
          .select()
          .from(schema.deliveries)
          .where(inArray(schema.deliveries.integrationEventId, ieIds))
          .orderBy(asc(schema.deliveries.createdAt), asc(schema.deliveries.id));
  const attemptRows =
    deliveryRows.length === 0
      ? []
      : await db
          .select()
          .from(schema.attempts)
          .where(
            inArray(
              schema.attempts.deliveryId,
              db
                .select({ id: schema.deliveries.id })
                .from(schema.deliveries)
                .where(inArray(schema.deliveries.integrationEventId, ieIds)),
            ),
          )
          .orderBy(asc(schema.attempts.number));
  const attemptsOf = (deliveryId: string): AttemptView[] =>
    attemptRows
      .filter((a) => a.deliveryId === deliveryId)
      .map((a) => ({
        number: a.number,
        at: a.at,
        status: a.status,
        durationMs: a.durationMs,
        error: a.error,
        responseExcerpt: a.responseExcerpt,
      }));
  return {
    id: event.id,
    type: event.type,
    source: event.source,
    receivedAt: event.receivedAt,
    occurredAt: event.occurredAt,
    data: event.data,
    metadata: event.metadata,
    integrationEvents: integration.map((ie) => ({
      id: ie.id,
      type: ie.type,
      source: ie.source,
      time: ie.time,
      data: ie.data,
      deliveries: deliveryRows
        .filter((d) => d.integrationEventId === ie.id)
        .map(
          (d): DeliveryView => ({
            id: d.id,
            subscriptionId: d.subscriptionId,
            url: d.url,
            status: d.status as DeliveryStatus,
            nextAttemptAt: d.nextAttemptAt,
            attempts: attemptsOf(d.id),
          }),
        ),
    })),
  };
}
