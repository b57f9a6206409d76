import type { NewDomainEvent, NewIntegrationEvent } from '../core/event-store.ts';

// Ingest names an integration event after its domain event (src/api/ingest.ts): source
// `/producers/<source>`, time the producer's `occurredAt`, else the receipt time in ISO form.
// Stored, that is ~42 B an event said twice; so `integration_events` keeps NULL where the value is
// exactly what these expressions give back from the domain event, and the text only where it is
// not (a producer name that URL-encoding changes, another writer, rows of releases before 0008).

/** The receipt time of `de` as `Date.prototype.toISOString` writes it, in integer arithmetic. */
const RECEIVED_ISO = (de: string) =>
  `strftime('%Y-%m-%dT%H:%M:%S.', ${de}.received_at / 1000, 'unixepoch') || substr(1000 + ${de}.received_at % 1000, 2) || 'Z'`;

/** Where `RECEIVED_ISO` and `toISOString` agree: years 1970 to 9999. */
const LAST_ISO_MS = 253_402_300_799_999;

/**
 * The SQL of an integration event's source: `ie`, `de` are aliases of `integration_events` and of
 * its `domain_events` row.
 * @example `SELECT ${integrationSource('ie', 'de')} FROM integration_events ie JOIN domain_events de ON …`
 */
export function integrationSource(ie: string, de: string): string {
  return `coalesce(${ie}.source, '/producers/' || ${de}.source)`;
}

/** The SQL of an integration event's time, as `integrationSource`. */
export function integrationTime(ie: string, de: string): string {
  return `coalesce(${ie}.time, ${de}.occurred_at, ${RECEIVED_ISO(de)})`;
}

/** The `source` to store for `ie` of `e`: null when `integrationSource` gives it back. */
export function toStoredSource(e: NewDomainEvent, ie: NewIntegrationEvent): string | null {
  return ie.source === `/producers/${e.source}` ? null : ie.source;
}

/** The `time` to store for `ie` of `e`: null when `integrationTime` gives it back. */
export function toStoredTime(e: NewDomainEvent, ie: NewIntegrationEvent): string | null {
  if (e.occurredAt !== null) return ie.time === e.occurredAt ? null : ie.time;
  const derivable = e.receivedAt >= 0 && e.receivedAt <= LAST_ISO_MS;
  return derivable && ie.time === new Date(e.receivedAt).toISOString() ? null : ie.time;
}
