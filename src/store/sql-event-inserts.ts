import type { NewDomainEvent } from '../core/event-store.ts';
import type { SqlStatement, SqlValue } from './sql-driver.ts';

/** Rows per multi-row INSERT at most. */
const MAX_ROWS_PER_INSERT = 64;

/** Selects the subscriptions whose type or `prefix.*` pattern matches an integration event. */
const MATCHES = `s.deleted_at IS NULL AND (s.type = ie.type OR
  (substr(s.type, -2) = '.*' AND substr(ie.type, 1, length(s.type) - 1) = substr(s.type, 1, length(s.type) - 1)))`;

/**
 * The statements that write a group of events: multi-row INSERTs, then one INSERT … SELECT that
 * creates a delivery for every subscription matching at commit time (so a subscription created a
 * moment ago applies, on every process). A handful of statement shapes serve every group size, so
 * a driver that caches prepared statements prepares each once.
 */
export function toInsertStatements(events: readonly NewDomainEvent[], maxParams: number): SqlStatement[] {
  const statements: SqlStatement[] = [];
  const eventArgs: SqlValue[] = [];
  const integrationArgs: SqlValue[] = [];
  // [integration event id, type, received at, delivery id prefix, due at] per integration event.
  const deliveryRows: [string, string, number, string, number][] = [];
  for (const e of events) {
    eventArgs.push(
      e.id,
      e.type,
      e.source,
      e.data,
      e.occurredAt,
      e.metadata,
      e.traceparent,
      e.receivedAt,
      e.notBefore ?? null,
    );
    const prefix = toTimePrefix(e.receivedAt);
    // A `notBefore` in the past means now.
    const due = Math.max(e.receivedAt, e.notBefore ?? e.receivedAt);
    e.integrationEvents.forEach((ie, seq) => {
      integrationArgs.push(ie.id, e.id, seq, ie.type, ie.source, ie.time, ie.data);
      deliveryRows.push([ie.id, ie.type, e.receivedAt, prefix, due]);
    });
  }
  pushInserts(
    statements,
    'INSERT INTO domain_events (id, type, source, data, occurred_at, metadata, traceparent, received_at, not_before) VALUES ',
    9,
    eventArgs,
    maxParams,
  );
  pushInserts(
    statements,
    'INSERT INTO integration_events (id, domain_event_id, seq, type, source, time, data) VALUES ',
    7,
    integrationArgs,
    maxParams,
  );
  if (deliveryRows.length > 0) {
    // Delivery ids start with the time (12 hex digits of milliseconds) then 80 random bits: they
    // land at the end of the primary key's B-tree instead of all over it, so a commit writes a
    // few pages of that index rather than one per delivery. A delayed event's deliveries start due
    // at its `notBefore`, with `updated_at` there too: `next_attempt_at - updated_at` reads as the
    // back-off of a failed publish (sql-leased-delivery.ts), and none has failed yet.
    statements.push({
      sql: `INSERT INTO deliveries (id, integration_event_id, subscription_id, url, status, attempts, retried,
              max_retries, retry_delay, next_attempt_at, generation, created_at, updated_at)
            SELECT ie.prefix || lower(hex(randomblob(10))), ie.id, s.id, s.url, 'pending', 0, 0, s.retries,
              s.retry_delay, ie.due, 0, ie.at, ie.due
            FROM (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS type,
                    json_extract(value, '$[2]') AS at, json_extract(value, '$[3]') AS prefix,
                    json_extract(value, '$[4]') AS due
                  FROM json_each(?1)) ie
            JOIN subscriptions s ON ${MATCHES}`,
      args: [JSON.stringify(deliveryRows)],
    });
  }
  return statements;
}

let lastPrefixMs = Number.NaN;
let lastPrefix = '';

/** Milliseconds as 12 lower-case hex digits: ids that sort by time. A group shares its millisecond. */
function toTimePrefix(ms: number): string {
  if (ms !== lastPrefixMs) {
    lastPrefix = ms.toString(16).padStart(12, '0');
    lastPrefixMs = ms;
  }
  return lastPrefix;
}

/**
 * Appends multi-row INSERTs for `args` (rows of `width` values, flat): chunks of the most rows the
 * driver's parameter limit allows (at most 64), halved until they fit what is left — so a few
 * statement shapes cover every group size.
 */
function pushInserts(
  statements: SqlStatement[],
  head: string,
  width: number,
  args: SqlValue[],
  maxParams: number,
) {
  const rows = args.length / width;
  const most = Math.max(1, Math.min(MAX_ROWS_PER_INSERT, Math.floor(maxParams / width)));
  const placeholder = `(${new Array(width).fill('?').join(', ')})`;
  for (let done = 0; done < rows; ) {
    let size = most;
    while (size > rows - done) size >>= 1;
    statements.push({
      sql: head + new Array(size).fill(placeholder).join(', '),
      args: args.slice(done * width, (done + size) * width),
    });
    done += size;
  }
}
