// Column values as the drivers return them, typed. libSQL (client and file) and D1 all give TEXT
// as strings and INTEGER as numbers; the conversions make that explicit where a row becomes a
// domain object, as `toLeasedDelivery` does.

/** A NOT NULL TEXT column. */
export function toText(value: unknown): string {
  return String(value);
}

/** A nullable TEXT column. */
export function toTextOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}

/** A NOT NULL INTEGER column (or an aggregate such as `count(*)`). */
export function toInteger(value: unknown): number {
  return Number(value);
}

/** A nullable INTEGER column. */
export function toIntegerOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}
