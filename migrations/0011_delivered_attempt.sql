ALTER TABLE `deliveries` ADD `delivered_number` integer;--> statement-breakpoint
ALTER TABLE `deliveries` ADD `delivered_at` integer;--> statement-breakpoint
ALTER TABLE `deliveries` ADD `delivered_status` integer;--> statement-breakpoint
ALTER TABLE `deliveries` ADD `delivered_duration_ms` integer;--> statement-breakpoint
ALTER TABLE `deliveries` ADD `delivered_excerpt` text;--> statement-breakpoint
CREATE VIEW `attempt_log` AS SELECT delivery_id, number, at, status, duration_ms, error, response_excerpt FROM attempts
UNION ALL
SELECT id, delivered_number, delivered_at, delivered_status, delivered_duration_ms, NULL, delivered_excerpt
FROM deliveries WHERE delivered_number IS NOT NULL;