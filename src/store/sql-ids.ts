// Integration event ids (UUIDv7 text, 36 characters) and delivery ids (32 hex digits) are stored
// as their 16 bytes (0008): half the size in every table and index that holds one. The stores
// keep speaking text — ids are converted in the SQL, on the way in and on the way out — so
// answers, headers and the transports' deduplication ids are the same strings as before.
//
// An id of any other shape (the port takes ids from its caller; tests name them `ie1`) is stored
// as the text it is. The rule that tells them apart is a round trip: a text goes in as bytes only
// when those bytes come out as that very text. So `out(in(x)) = x` for every x, two texts never
// share a stored form, and a byte string never equals a text (SQLite compares them by type).
// Bytes sort as their hex digits do, so orders and cursors over ids are the ones of the text.

/** SQL: the 36-character UUID text of the bytes `b`. */
function uuidText(b: string): string {
  const hex = `hex(${b})`;
  return `lower(substr(${hex}, 1, 8) || '-' || substr(${hex}, 9, 4) || '-' || substr(${hex}, 13, 4) || '-' || substr(${hex}, 17, 4) || '-' || substr(${hex}, 21))`;
}

/**
 * SQL: the stored form of the integration event id `text` (an SQL expression: `?1`, `r.id`).
 * @example `SELECT … FROM integration_events WHERE id = ${eventIdIn('?')}`
 */
export function eventIdIn(text: string): string {
  const bytes = `unhex(${text}, '-')`;
  return `(CASE WHEN ${uuidText(bytes)} = ${text} THEN ${bytes} ELSE ${text} END)`;
}

/** SQL: the text of the stored integration event id `column`, as `eventIdIn` took it. */
export function eventIdOut(column: string): string {
  return `(CASE WHEN typeof(${column}) = 'blob' THEN ${uuidText(column)} ELSE ${column} END)`;
}

/** SQL: the stored form of the delivery id `text`, as `eventIdIn`. */
export function deliveryIdIn(text: string): string {
  return `(CASE WHEN lower(hex(unhex(${text}))) = ${text} THEN unhex(${text}) ELSE ${text} END)`;
}

/**
 * Whether `deliveryIdIn` stores the delivery id `text` as bytes — lower-case hex digits in pairs,
 * the ids the mesh makes — decided in JS: statements over such ids alone may use
 * `deliveryIdBytesIn`, which skips the round-trip check.
 */
export function isDeliveryIdBytes(text: string): boolean {
  return HEX_PAIRS.test(text);
}

const HEX_PAIRS = /^(?:[0-9a-f]{2})*$/;

/** SQL: `deliveryIdIn` of a `text` known to pass `isDeliveryIdBytes` — its bytes, no check. */
export function deliveryIdBytesIn(text: string): string {
  return `unhex(${text})`;
}

/** SQL: the text of the stored delivery id `column`. */
export function deliveryIdOut(column: string): string {
  return `(CASE WHEN typeof(${column}) = 'blob' THEN lower(hex(${column})) ELSE ${column} END)`;
}

/**
 * SQL: `deliveryIdIn` of one anonymous `?` parameter, bound once (`deliveryIdIn('?')` would make
 * three parameters of it) — for statements that number their parameters by position.
 */
export const DELIVERY_ID_PARAM = `(SELECT ${deliveryIdIn('v')} FROM (SELECT ? AS v))`;
