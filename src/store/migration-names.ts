/**
 * The migrations this release ships (`migrations/*.sql`), in order. A Worker cannot list files, so
 * /healthz compares this list with `d1_migrations` to know when wrangler has applied them all.
 * `test/store/migration-names.test.ts` fails when a generated migration is missing here.
 */
export const MIGRATION_NAMES: readonly string[] = [
  '0000_init.sql',
  '0001_subscription_control.sql',
  '0002_listing_indexes.sql',
  '0003_delayed_delivery.sql',
  '0004_auto_pause.sql',
  '0005_subscription_filter.sql',
  '0006_ordering_keys.sql',
  '0007_lean_storage.sql',
  '0008_compact_storage.sql',
  '0009_event_types.sql',
  '0010_delivery_order_by_id.sql',
  '0011_delivered_attempt.sql',
];
