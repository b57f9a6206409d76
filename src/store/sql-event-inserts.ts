import type { NewDomainEvent } from '../core/event-store.ts';
import type { SqlStatement, SqlValue } from './sql-driver.ts';
import { toTypeInserts, typeRefOf } from './sql-event-types.ts';
import { eventIdIn } from './sql-ids.ts';
import { toStoredSource, toStoredTime } from './sql-integration-event.ts';
import { type FilterSnapshot, toSnapshotGuard } from './sql-subscription-filters.ts';

/** Rows per multi-row INSERT at most. */
const MAX_ROWS_PER_INSERT = 64;

/** Selects the subscriptions whose type or `prefix.*` pattern matches an integration event. */
const MATCHES = `s.deleted_at IS NULL AND (s.type = ie.type OR
  (substr(s.type, -2) = '.*' AND substr(ie.type, 1, length(s.type) - 1) = substr(s.type, 1, length(s.type) - 1)))`;

/**
 * Filters are JSON the database cannot evaluate: the filter snapshot decides in JS which filtered
 * subscriptions take an integration event, and a second INSERT … SELECT writes those deliveries by
 * primary key, one JSON row per event and matching subscription (`ie.subscription`). The first
 * skips filtered subscriptions with one column test: they cost the plain path next to nothing.
 */
const UNFILTERED = `s.filter IS NULL AND ${MATCHES}`;
const FILTERED = 's.id = ie.subscription AND s.deleted_at IS NULL AND s.filter IS NOT NULL';

/**
 * [integration event id as `uuidOrNull` gives it, the id otherwise (else null), type, received at,
 * delivery id prefix, due at, filtered subscription id (null in the rows matched by type),
 * ordering key or null].
 */
type DeliveryRow = [
  string | null,
  string | null,
  string,
  number,
  string,
  number,
  string | null,
  string | null,
];

/** A UUID as `eventIdOut` writes it: 36 characters, lower-case hex digits, dashes at 8, 13, 18, 23. */
const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The id when `eventIdIn` stores it as its 16 bytes — exactly the canonical UUIDs, which ingest
 * gives every integration event — else null. Decided here, the SQL converts such an id with one
 * `unhex` instead of `eventIdIn`'s round trip (five `hex`, `substr`s, `lower`, a comparison) per
 * row and lookup; any other id still goes through `eventIdIn`, so every id is stored as before.
 */
function uuidOrNull(id: string): string | null {
  return CANONICAL_UUID.test(id) ? id : null;
}

/** SQL: the stored form of an id given as `uuid` (`uuidOrNull`) and `other` (the id when that is null). */
function storedEventId(uuid: string, other: string): string {
  return `coalesce(unhex(${uuid}, '-'), ${eventIdIn(other)})`;
}

// Through a SELECT, whose columns (`columnN` of the VALUES) can be converted: a type's name to
// its number (written by an earlier statement if new), the id to its bytes, the domain event's id
// to its `ref` (its row is written by an earlier statement of the batch).
const DOMAIN_EVENTS_INSERT = valuesShape(
  `INSERT INTO domain_events (id, type_ref, source, data, occurred_at, metadata, traceparent, received_at, not_before)
     SELECT column1, ${typeRefOf('column2')}, column3, column4, column5, column6, column7, column8, column9 FROM (VALUES `,
  9,
  ') WHERE column1 IS NOT NULL',
);
const INTEGRATION_EVENTS_INSERT = valuesShape(
  `INSERT INTO integration_events (id, domain_event_ref, seq, type_ref, source, time, data)
     SELECT ${storedEventId('column1', 'column2')}, (SELECT ref FROM domain_events WHERE id = column3), column4, ${typeRefOf('column5')}, column6, column7, column8 FROM (VALUES `,
  8,
  ') WHERE column3 IS NOT NULL',
);

/**
 * The statements that write a group of events: multi-row INSERTs, then one INSERT … SELECT that
 * creates a delivery for every subscription matching at commit time (so a subscription created a
 * moment ago applies, on every process). A handful of statement shapes serve every group size, so
 * a driver that caches prepared statements prepares each once.
 */
export function toInsertStatements(
  events: readonly NewDomainEvent[],
  maxParams: number,
  /**
   * The filtered subscriptions as this process last read them: the batch opens with a guard that
   * fails it (`isStaleSnapshotError`) if they changed since.
   */
  filters?: FilterSnapshot,
  /**
   * Type names believed to be in `event_types` already: no INSERT OR IGNORE for them, two
   * statements fewer in a batch of one domain event type. Retention may delete a name no event
   * holds; the batch then fails on the missing row and is written again with its types inserted.
   */
  knownTypes?: ReadonlySet<string>,
): SqlStatement[] {
  const statements: SqlStatement[] = filters ? [toSnapshotGuard(filters.revision)] : [];
  const types = new Set<string>();
  const eventArgs: SqlValue[] = [];
  const integrationArgs: SqlValue[] = [];
  // One per integration event, and one per integration event and filtered subscription it matches.
  const deliveryRows: DeliveryRow[] = [];
  const filteredRows: DeliveryRow[] = [];
  for (const e of events) {
    if (!knownTypes?.has(e.type)) types.add(e.type);
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
      if (!knownTypes?.has(ie.type)) types.add(ie.type);
      const uuid = uuidOrNull(ie.id);
      const other = uuid === null ? ie.id : null;
      integrationArgs.push(
        uuid,
        other,
        e.id,
        seq,
        ie.type,
        toStoredSource(e, ie),
        toStoredTime(e, ie),
        ie.data,
      );
      const orderingKey = ie.orderingKey ?? null;
      deliveryRows.push([uuid, other, ie.type, e.receivedAt, prefix, due, null, orderingKey]);
      if (filters && filters.index.size > 0) {
        for (const id of filters.index.matching(ie.type, ie.data)) {
          filteredRows.push([uuid, other, ie.type, e.receivedAt, prefix, due, id, orderingKey]);
        }
      }
    });
  }
  if (types.size > 0) statements.push(...toTypeInserts(types));
  pushInserts(statements, DOMAIN_EVENTS_INSERT, eventArgs, maxParams);
  pushInserts(statements, INTEGRATION_EVENTS_INSERT, integrationArgs, maxParams);
  if (deliveryRows.length > 0) {
    // Delivery ids start with the time (48 bits of milliseconds) then 80 random bits: they
    // land at the end of the primary key's B-tree instead of all over it, so a commit writes a
    // few pages of that index rather than one per delivery. A delayed event's deliveries start due
    // at its `notBefore`, with `updated_at` there too: `next_attempt_at - updated_at` reads as the
    // back-off of a failed publish (sql-leased-delivery.ts), and none has failed yet.
    // The rowids these INSERTs hand out are the acceptance order of ordering keys: a subscription's
    // deliveries all come from one of them, in the order of `json_each` (the events' order in the
    // group), which the contract tests check (ordering-key.contract.ts, "… one group …").
    pushDeliveryInserts(statements, UNFILTERED, deliveryRows, maxParams);
  }
  if (filteredRows.length > 0) pushDeliveryInserts(statements, FILTERED, filteredRows, maxParams);
  return statements;
}

/** How the statements that write deliveries begin: their changes are the deliveries written. */
const DELIVERY_INSERT = 'INSERT INTO deliveries';

/** Whether `statement` is one of ingest's delivery INSERTs (its changes: the deliveries written). */
export const insertsDeliveries = (statement: SqlStatement): boolean =>
  statement.sql.startsWith(DELIVERY_INSERT);

/** The columns of a delivery row (`ie`), by `DeliveryRow`'s order. */
const DELIVERY_COLUMNS = ['uuid', 'id', 'type', 'at', 'prefix', 'due', 'subscription', 'ordering_key'];

/** Deliveries' rows as one bound JSON array (`json_each`), named as `DELIVERY_COLUMNS`. */
const DELIVERY_JSON_ROWS = `(SELECT ${DELIVERY_COLUMNS.map((c, i) => `json_extract(value, '$[${i}]') AS ${c}`).join(', ')}
  FROM json_each(?1))`;

/**
 * The INSERT … SELECT of deliveries: rows (`ie`: `rows` then `end`) joined with `subscriptions s`
 * on `join`, `ie` first (`CROSS JOIN`): its rows are read once, in their order, which is the
 * rowids' order. An integration event is found by its id for its `ref` (written by an earlier
 * statement of the batch) in a subquery, which leaves that order as it was.
 */
function toDeliverySql(rows: string, end: string, join: string): [string, string] {
  return [
    `${DELIVERY_INSERT} (id, integration_event_ref, subscription_ref, endpoint_id, status, attempts, retried,
        max_retries, retry_delay, next_attempt_at, generation, created_at, updated_at, ordering_key)
      SELECT unhex(ie.prefix || hex(randomblob(10))), (SELECT ref FROM integration_events WHERE id = ${storedEventId('ie.uuid', 'ie.id')}),
        s.ref, s.endpoint_id, 'pending', 0, 0, s.retries,
        s.retry_delay, ie.due, 0, ie.at, ie.due, ie.ordering_key
      FROM ${rows}`,
    `${end} ie
      CROSS JOIN subscriptions s ON ${join}`,
  ];
}

/** Deliveries' rows as bound VALUES (`columnN`), named as `DELIVERY_COLUMNS`. */
const deliveryValues = (join: string) => {
  const [prefix, suffix] = toDeliverySql(
    `(SELECT ${DELIVERY_COLUMNS.map((c, i) => `column${i + 1} AS ${c}`).join(', ')} FROM (VALUES `,
    '))',
    join,
  );
  return valuesShape(prefix, DELIVERY_COLUMNS.length, suffix);
};
const UNFILTERED_DELIVERIES = deliveryValues(UNFILTERED);
const FILTERED_DELIVERIES = deliveryValues(FILTERED);

/**
 * Appends the delivery INSERTs of `rows`. Where the driver binds enough parameters (the file: one
 * statement per 64 rows), the rows are bound VALUES, padded as `pushInserts` pads — a padding
 * row's NULL type and subscription match no subscription. Otherwise (D1 binds 100) one JSON array
 * holds them all, one statement whatever their number; each row then costs `json_each` and a
 * `json_extract` per column more.
 */
function pushDeliveryInserts(
  statements: SqlStatement[],
  join: string,
  rows: readonly DeliveryRow[],
  maxParams: number,
) {
  const width = DELIVERY_COLUMNS.length;
  if (maxParams < MAX_ROWS_PER_INSERT * width) {
    statements.push({
      sql: toDeliverySql(DELIVERY_JSON_ROWS, '', join).join(''),
      args: [JSON.stringify(rows)],
    });
    return;
  }
  const shape = join === UNFILTERED ? UNFILTERED_DELIVERIES : FILTERED_DELIVERIES;
  for (let done = 0; done < rows.length; ) {
    const size = toChunkRows(rows.length - done, MAX_ROWS_PER_INSERT);
    const args: SqlValue[] = [];
    for (let i = done; i < done + size; i++) {
      const row = rows[i];
      if (row === undefined) for (let j = 0; j < width; j++) args.push(null);
      else for (const value of row) args.push(value);
    }
    statements.push({ sql: toValuesSql(shape, size), args });
    done += size;
  }
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
 * Appends multi-row INSERTs for `args` (rows of `width` values, flat) as few statements as the
 * driver's parameter limit allows: chunks of the most rows it takes (at most 64), the last one
 * sized by `toChunkRows`, padded with rows of NULLs that the shape drops (its WHERE tests a
 * column never NULL in a real row). So a few statement shapes cover every group size, and a group
 * of 13 events is one statement per table rather than 8 + 4 + 1: each statement run costs the
 * native binding more than a dozen NULLs bound.
 */
function pushInserts(statements: SqlStatement[], shape: ValuesShape, args: SqlValue[], maxParams: number) {
  const { width } = shape;
  const rows = args.length / width;
  const most = Math.max(1, Math.min(MAX_ROWS_PER_INSERT, Math.floor(maxParams / width)));
  for (let done = 0; done < rows; ) {
    const size = toChunkRows(rows - done, most);
    const chunk = args.slice(done * width, (done + size) * width);
    for (let i = chunk.length; i < size * width; i++) chunk.push(null);
    statements.push({ sql: toValuesSql(shape, size), args: chunk });
    done += size;
  }
}

/** Rows a shape rounds up to past eight: a multiple of this. */
const ROW_STEP = 8;

/**
 * The rows of the statement that takes the next of `left` rows, at most `most`: the smallest power
 * of two that holds them up to eight rows, then the next multiple of eight (where the driver binds
 * 64 rows a statement). Every bound value costs the native binding (~0.1 µs, a NULL included), so
 * a group of 44 is padded to 48 rows rather than 64 — three statements of a batch bind ~400 NULLs
 * fewer — for 11 shapes per table instead of 7. A driver that binds fewer halves `most` instead.
 */
function toChunkRows(left: number, most: number): number {
  if (left >= most) return most;
  if (left > ROW_STEP && most === MAX_ROWS_PER_INSERT) return Math.ceil(left / ROW_STEP) * ROW_STEP;
  let size = most;
  while (size >> 1 >= left) size >>= 1;
  return size;
}

/**
 * A multi-row statement: `prefix`, then `rows` VALUES rows of `width` placeholders, then `suffix`.
 * Its SQL per row count is built once: the driver's statement cache then looks up the same string
 * each time rather than hashing a new one of a few KiB.
 */
interface ValuesShape {
  readonly prefix: string;
  readonly width: number;
  readonly suffix: string;
  readonly bySize: string[];
}

function valuesShape(prefix: string, width: number, suffix: string): ValuesShape {
  return { prefix, width, suffix, bySize: [] };
}

function toValuesSql(shape: ValuesShape, rows: number): string {
  let sql = shape.bySize[rows];
  if (sql === undefined) {
    const placeholder = `(${new Array(shape.width).fill('?').join(', ')})`;
    sql = `${shape.prefix}${new Array(rows).fill(placeholder).join(', ')}${shape.suffix}`;
    shape.bySize[rows] = sql;
  }
  return sql;
}
