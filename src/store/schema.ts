import { sql } from 'drizzle-orm';
import {
  blob,
  check,
  index,
  integer,
  primaryKey,
  sqliteTable,
  sqliteView,
  text,
} from 'drizzle-orm/sqlite-core';

// Times are integer milliseconds since the epoch; JSON payloads are stored as the exact text that
// is delivered, so "byte for byte as stored" holds on every transport and every retry.
// Integration event and delivery ids are their 16 bytes (0008), converted from and to their text
// in the SQL (sql-ids.ts); an id of another shape is kept as text in the same column.
// The handlers' inbox is not here: it belongs to the handler SDK (src/handler/sql-inbox.ts), which
// creates its own table, so a consuming service needs none of the mesh's migrations.

/**
 * Every domain and integration event type name ever accepted, once, with a small number (0009):
 * an event keeps the number, not a copy of the text (`OrderCreated`, `order.created.v1`: ~45 B an
 * event, rows and index). One table serves both kinds: a row stands for a name, whichever kind
 * uses it, so sharing changes no answer. Ingest adds a name in the batch that first uses it; the
 * retention job deletes a name once no event holds it (sql-retention.ts), and the next event of
 * that type adds it again.
 */
export const eventTypes = sqliteTable('event_types', {
  ref: integer('ref').primaryKey(),
  name: text('name').notNull().unique(),
});

export const domainEvents = sqliteTable(
  'domain_events',
  {
    /**
     * The row's number, which integration events hold instead of the producer's id (0008: that id
     * may be 200 characters). INTEGER PRIMARY KEY: the rowid itself, kept by VACUUM.
     */
    ref: integer('ref').primaryKey(),
    id: text('id').notNull().unique(),
    /** Its type's number in `event_types` (0009). */
    typeRef: integer('type_ref')
      .notNull()
      .references(() => eventTypes.ref),
    source: text('source').notNull(),
    data: text('data').notNull(),
    occurredAt: text('occurred_at'),
    metadata: text('metadata'),
    traceparent: text('traceparent'),
    receivedAt: integer('received_at').notNull(),
    /** The producer's `notBefore`, kept to compare a repeated POST; its deliveries start due then. */
    notBefore: integer('not_before'),
  },
  (t) => [
    index('domain_events_received_at').on(t.receivedAt),
    // The events page filtered by type, newest first, without walking every event of other types.
    // Ties in `received_at` (one group commit) are ordered by a short sort, not by a copy of the id
    // in every entry (0007: ~20 B an event).
    index('domain_events_type_received').on(t.typeRef, t.receivedAt),
  ],
);

export const integrationEvents = sqliteTable(
  'integration_events',
  {
    /**
     * The row's number, which deliveries hold instead of the 16-byte id (0008: ~27 B a delivery,
     * row and index). INTEGER PRIMARY KEY: the rowid itself, stored in no column, kept by VACUUM.
     */
    ref: integer('ref').primaryKey(),
    id: blob('id', { mode: 'buffer' }).notNull().unique(),
    domainEventRef: integer('domain_event_ref')
      .notNull()
      .references(() => domainEvents.ref),
    /** Position among the domain event's integration events, so answers list them in order. */
    seq: integer('seq').notNull(),
    /** Its type's number in `event_types` (0009). */
    typeRef: integer('type_ref')
      .notNull()
      .references(() => eventTypes.ref),
    /**
     * Null when it is what ingest derives from the domain event, which reads then derive again
     * (0008, sql-integration-event.ts): `/producers/<source>`, and the event's `occurred_at` or
     * else its receipt time.
     */
    source: text('source'),
    time: text('time'),
    data: text('data').notNull(),
  },
  (t) => [index('integration_events_domain_event').on(t.domainEventRef, t.seq)],
);

/**
 * Every URL a subscription has pointed at, once (0008): a delivery keeps the small id of its
 * endpoint, not a copy of the text (~44 B a delivery). Rows are never changed, so an accepted
 * delivery's target stays what it was, whatever happens to its subscription later; the retention
 * job deletes one once no subscription or delivery holds it (sql-retention.ts).
 */
export const endpoints = sqliteTable('endpoints', {
  id: integer('id').primaryKey(),
  url: text('url').notNull().unique(),
});

/**
 * Every subscription id ever used, once, with a small number (0008): a delivery keeps the number,
 * not the id's text (`sub_` and a UUID through the API: ~80 B a delivery, row and index). A row
 * stays while a subscription row or a delivery holds it, so a delivery names its subscription even
 * after that row is gone; the retention job deletes it after (sql-retention.ts).
 */
export const subscriptionRefs = sqliteTable('subscription_refs', {
  ref: integer('ref').primaryKey(),
  id: text('id').notNull().unique(),
});

export const subscriptions = sqliteTable(
  'subscriptions',
  {
    id: text('id').primaryKey(),
    /** Exact integration type or `prefix.*`. */
    type: text('type').notNull(),
    url: text('url').notNull(),
    /**
     * The endpoint of `url`, which ingest copies into each new delivery. Set by the triggers of
     * 0008 whenever a row is inserted or its `url` changes (hand-written: drizzle-kit has no
     * triggers), so every writer keeps it right.
     */
    endpointId: integer('endpoint_id').references(() => endpoints.id),
    /** Its number in `subscription_refs`, set by the insert trigger of 0008 as `endpoint_id` is. */
    ref: integer('ref')
      .unique()
      .references(() => subscriptionRefs.ref),
    retries: integer('retries').notNull().default(10),
    retryDelay: text('retry_delay'),
    origin: text('origin', { enum: ['code', 'api'] }).notNull(),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    deletedAt: integer('deleted_at'),
    /** Set while the subscription is paused: its deliveries are held (not leased, not published). */
    pausedAt: integer('paused_at'),
    /** Why it is paused (`manual`: an operator; `failing`: the circuit breaker); null while active. */
    pausedReason: text('paused_reason', { enum: ['manual', 'failing'] }),
    /** Most attempts in flight at once for this subscription, across dispatchers. */
    maxConcurrency: integer('max_concurrency').notNull().default(16),
    /** Consecutive failed attempts that pause it with reason `failing`; 0 = never. */
    pauseAfter: integer('pause_after').notNull().default(50),
    /** Failed attempts in a row across its deliveries; a delivered attempt or a resume resets it. */
    consecutiveFailures: integer('consecutive_failures').notNull().default(0),
    /**
     * The content filter's JSON text (src/core/subscription-filter.ts), null = every event of its
     * type. Ingest evaluates it in JS at commit time (sql-subscription-filters.ts).
     */
    filter: text('filter'),
  },
  (t) => [index('subscriptions_type').on(t.type)],
);

/**
 * One row (id 0) whose `revision` the triggers of 0005 bump whenever a filtered subscription is
 * created, deleted, or changes filter, type or deletion. Ingest writes deliveries for filtered
 * subscriptions from an in-process snapshot of them, and each batch first checks that the revision
 * is still the snapshot's: a stale one inserts row 1, which the CHECK refuses by name
 * (`subscriptions_changed`), so the batch rolls back and is retried on a fresh snapshot. The
 * triggers themselves are hand-written in migrations/0005_subscription_filter.sql (drizzle-kit
 * has no triggers).
 */
export const subscriptionRevision = sqliteTable(
  'subscription_revision',
  {
    id: integer('id').primaryKey(),
    revision: integer('revision').notNull().default(0),
  },
  (t) => [check('subscriptions_changed', sql`${t.id} = 0`)],
);

/**
 * The statuses the status indexes hold: every one but `delivered`. The order matters: `status =
 * 'in_flight' OR status = 'retrying'` (the QStash overdue check) is then a term SQLite matches.
 */
const NOT_DELIVERED = sql`status = 'in_flight' OR status = 'retrying' OR status = 'pending' OR status = 'dead'`;

export const deliveries = sqliteTable(
  'deliveries',
  {
    id: blob('id', { mode: 'buffer' }).primaryKey(),
    integrationEventRef: integer('integration_event_ref')
      .notNull()
      .references(() => integrationEvents.ref),
    subscriptionRef: integer('subscription_ref')
      .notNull()
      .references(() => subscriptionRefs.ref),
    /** Copied from the subscription at acceptance: later edits do not redirect accepted events. */
    endpointId: integer('endpoint_id')
      .notNull()
      .references(() => endpoints.id),
    status: text('status', { enum: ['pending', 'in_flight', 'retrying', 'delivered', 'dead'] }).notNull(),
    /** Attempts made so far, over every generation (the next attempt's number is this + 1). */
    attempts: integer('attempts').notNull().default(0),
    /** Retries made in the current generation (`Upstash-Retried`); a replay starts again at 0. */
    retried: integer('retried').notNull().default(0),
    maxRetries: integer('max_retries').notNull(),
    retryDelay: text('retry_delay'),
    nextAttemptAt: integer('next_attempt_at').notNull(),
    leaseOwner: text('lease_owner'),
    leaseExpiresAt: integer('lease_expires_at'),
    /** Bumped by every replay, so a re-publish never reuses a transport's deduplication id. */
    generation: integer('generation').notNull().default(0),
    /** The transport's id for the current publish (QStash `messageId`). */
    messageId: text('message_id'),
    /**
     * The integration event's ordering key (its definition's `orderingKey`), null without one. Of
     * one subscription's deliveries with a key, only the earliest not yet delivered or dead is
     * leased or published; "earliest" is the rowid, which SQLite hands out in commit order (so
     * this table must keep its implicit rowid: no INTEGER PRIMARY KEY, no WITHOUT ROWID). Cleared
     * once delivered (0008): it orders nothing then, and a delivered row never goes back.
     */
    orderingKey: text('ordering_key'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    /**
     * The attempt that delivered it (0011): kept here instead of as an `attempts` row, by the
     * statement that moves the delivery to `delivered` anyway — the attempt that delivers has a
     * response (its error is null) and `delivered` is terminal, so five columns say all of it.
     * Every other attempt is an `attempts` row; `attempt_log` reads both as one.
     */
    deliveredNumber: integer('delivered_number'),
    deliveredAt: integer('delivered_at'),
    deliveredStatus: integer('delivered_status'),
    deliveredDurationMs: integer('delivered_duration_ms'),
    deliveredExcerpt: text('delivered_excerpt'),
  },
  (t) => [
    // Partial (0007): delivered rows, the bulk of the table, are never looked up by status. A
    // query uses it when one of its terms is one of these disjuncts word for word (`status =
    // 'pending'`), or their first two (`status = 'in_flight' OR status = 'retrying'`): SQLite
    // proves a partial index usable only by matching terms, not `IN` lists or `<>`.
    index('deliveries_due').on(t.status, t.nextAttemptAt).where(NOT_DELIVERED),
    index('deliveries_integration_event').on(t.integrationEventRef),
    // Only the QStash transport sets a message id; the local one leaves it null.
    index('deliveries_message').on(t.messageId).where(sql`message_id IS NOT NULL`),
    // No index of `created_at` (dropped by 0010, one B-tree less in every ingest commit): an id
    // starts with its `created_at`, so the primary key lists deliveries in (created_at, id) order
    // (sql-delivery-admin-store.ts).
    // Leasing goes subscription by subscription (pause, maxConcurrency): each one's due deliveries
    // and its leases in flight are a short range of this index.
    index('deliveries_subscription_due')
      .on(t.subscriptionRef, t.status, t.nextAttemptAt)
      .where(NOT_DELIVERED),
    // The deliveries of one subscription in cursor order (dashboard, GET /v1/deliveries?subscription=)
    // without sorting all of them: 160-240 ms → 0.2 ms on 1M deliveries (bench:operator).
    index('deliveries_subscription_created').on(t.subscriptionRef, t.createdAt),
    // Ordering keys (0006): the unsettled deliveries of one (subscription, key), in rowid order
    // (every index ends with the rowid), so "is an earlier one unsettled?" is one short range.
    // Partial: deliveries without a key, and settled ones, cost nothing. A query uses it only
    // with `ORDERING_UNSETTLED` as one of its terms, word for word (sql-ordering-key.ts).
    index('deliveries_ordering')
      .on(t.subscriptionRef, t.orderingKey)
      .where(
        sql`ordering_key IS NOT NULL AND (status = 'pending' OR status = 'in_flight' OR status = 'retrying')`,
      ),
  ],
);

/**
 * WITHOUT ROWID (0008, hand-written: drizzle-kit cannot say it): the rows are stored in their
 * primary key's B-tree, so the key is not kept twice (table and index, ~49 B an attempt).
 */
export const attempts = sqliteTable(
  'attempts',
  {
    deliveryId: blob('delivery_id', { mode: 'buffer' })
      .notNull()
      .references(() => deliveries.id),
    ...attemptColumns(),
  },
  (t) => [primaryKey({ columns: [t.deliveryId, t.number] })],
);

/** An attempt's columns after its delivery's id, made anew for each of `attempts` and `attempt_log`. */
function attemptColumns() {
  return {
    number: integer('number').notNull(),
    at: integer('at').notNull(),
    /** HTTP status, or null when no response came (network error, timeout). */
    status: integer('status'),
    durationMs: integer('duration_ms').notNull(),
    error: text('error'),
    responseExcerpt: text('response_excerpt'),
  };
}

/**
 * Every attempt, however it is stored (0011): the `attempts` rows, and the delivering attempts
 * kept on their delivery's row. Read it, not `attempts`, for a delivery's history (an operator's
 * SQL, the tests): SQLite pushes a `WHERE delivery_id = ?` into both
 * halves, each served by its own primary key — but not an `IN (SELECT …)`, which would read both
 * tables whole, so the event view spells the two halves out (sql-event-view.ts). A migration that
 * rebuilds `deliveries` or `attempts` drops this view first and creates it again after: SQLite
 * checks every view when a table is renamed.
 */
export const attemptLog = sqliteView('attempt_log', {
  deliveryId: blob('delivery_id', { mode: 'buffer' }).notNull(),
  ...attemptColumns(),
}).as(
  sql`SELECT delivery_id, number, at, status, duration_ms, error, response_excerpt FROM attempts
UNION ALL
SELECT id, delivered_number, delivered_at, delivered_status, delivered_duration_ms, NULL, delivered_excerpt
FROM deliveries WHERE delivered_number IS NOT NULL`,
);
