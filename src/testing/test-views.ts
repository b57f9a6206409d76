import type { DeliveryAdminStore, DeliveryFilter, DeliverySummary } from '../core/delivery-admin-store.ts';
import type { DeliveryStatus } from '../core/delivery-state.ts';
import type { AttemptRecord, LeasedDelivery } from '../core/dispatch-queue.ts';
import type { EventStore } from '../core/event-store.ts';

/** One attempt a `deliver` call made, and where it left its delivery. */
export interface TestAttempt {
  readonly deliveryId: string;
  /** The integration event's id: `ce-id`, the handler's deduplication key. */
  readonly integrationEventId: string;
  readonly type: string;
  readonly subscriptionId: string;
  readonly url: string;
  /** 1 for the first attempt, counted over replays too. */
  readonly number: number;
  readonly at: Date;
  /** The handler's HTTP status; null when no answer came (connection refused, a thrown interceptor). */
  readonly status: number | null;
  /** Why no answer came. */
  readonly error: string | null;
  readonly responseExcerpt: string | null;
  readonly durationMs: number;
  /** The delivery's state after this attempt. */
  readonly outcome: 'delivered' | 'retrying' | 'dead';
  /** When the next attempt is due (`retrying`), else null. */
  readonly nextAttemptAt: Date | null;
}

/** An attempt as the store recorded it. */
export interface TestDeliveryAttempt {
  readonly number: number;
  readonly at: Date;
  readonly status: number | null;
  readonly error: string | null;
  readonly responseExcerpt: string | null;
  readonly durationMs: number;
}

/** One integration event to one subscription, with every attempt so far. */
export interface TestDelivery {
  readonly id: string;
  /** The domain event it came from. */
  readonly eventId: string;
  readonly integrationEventId: string;
  readonly type: string;
  /** The integration event's payload, as delivered. */
  readonly data: unknown;
  readonly subscriptionId: string;
  readonly url: string;
  readonly status: DeliveryStatus;
  /** Replays so far (0 until a dead delivery is replayed). */
  readonly generation: number;
  readonly createdAt: Date;
  /** When the next attempt is due; null once delivered or dead. */
  readonly nextAttemptAt: Date | null;
  readonly attempts: readonly TestDeliveryAttempt[];
}

/** Which deliveries; every field narrows. */
export interface TestDeliveryFilter {
  readonly status?: DeliveryStatus;
  /** An integration event type, or `prefix.*`. */
  readonly type?: string;
  readonly subscription?: string;
  /** The domain event's id. */
  readonly event?: string;
}

const PAGE = 500;

/** An attempt the dispatcher just recorded. */
export function toTestAttempt(delivery: LeasedDelivery, record: AttemptRecord): TestAttempt {
  return {
    deliveryId: delivery.id,
    integrationEventId: delivery.event.id,
    type: delivery.event.type,
    subscriptionId: delivery.subscriptionId,
    url: delivery.url,
    number: record.number,
    at: new Date(record.at),
    status: record.status,
    error: record.error,
    responseExcerpt: record.responseExcerpt,
    durationMs: record.durationMs,
    outcome: record.next,
    nextAttemptAt: record.next === 'retrying' ? new Date(record.nextAttemptAt) : null,
  };
}

/** Every delivery matching the filter, oldest first, through the admin store's pages. */
export async function listAllDeliveries(
  store: DeliveryAdminStore,
  filter: DeliveryFilter,
): Promise<DeliverySummary[]> {
  const all: DeliverySummary[] = [];
  for (;;) {
    const last = all[all.length - 1];
    const page = await store.listDeliveries({
      ...filter,
      limit: PAGE,
      ...(last ? { after: { createdAt: last.createdAt, id: last.id } } : {}),
    });
    all.push(...page);
    if (page.length < PAGE) return all;
  }
}

/**
 * The deliveries matching the filter with their payloads and attempts, read as the admin API
 * reads them: the list, then each event's view.
 */
export async function readDeliveries(
  stores: { readonly deliveries: DeliveryAdminStore; readonly events: EventStore },
  filter: TestDeliveryFilter,
): Promise<TestDelivery[]> {
  const summaries = (
    await listAllDeliveries(stores.deliveries, {
      ...(filter.status === undefined ? {} : { status: filter.status }),
      ...(filter.type === undefined ? {} : { type: filter.type }),
      ...(filter.subscription === undefined ? {} : { subscriptionId: filter.subscription }),
    })
  ).filter((d) => filter.event === undefined || d.eventId === filter.event);
  const views = new Map<string, Awaited<ReturnType<EventStore['getEvent']>>>();
  for (const eventId of new Set(summaries.map((d) => d.eventId))) {
    views.set(eventId, await stores.events.getEvent(eventId));
  }
  return summaries.map((d) => {
    const integrationEvent = views
      .get(d.eventId)
      ?.integrationEvents.find((ie) => ie.id === d.integrationEventId);
    const view = integrationEvent?.deliveries.find((x) => x.id === d.id);
    const settled = d.status === 'delivered' || d.status === 'dead';
    return {
      id: d.id,
      eventId: d.eventId,
      integrationEventId: d.integrationEventId,
      type: d.type,
      data: integrationEvent ? (JSON.parse(integrationEvent.data) as unknown) : undefined,
      subscriptionId: d.subscriptionId,
      url: d.url,
      status: d.status,
      generation: d.generation,
      createdAt: new Date(d.createdAt),
      nextAttemptAt: settled ? null : new Date(d.nextAttemptAt),
      attempts: (view?.attempts ?? []).map((a) => ({
        number: a.number,
        at: new Date(a.at),
        status: a.status,
        error: a.error,
        responseExcerpt: a.responseExcerpt,
        durationMs: a.durationMs,
      })),
    };
  });
}
