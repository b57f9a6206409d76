DROP INDEX IF EXISTS `deliveries_due`;--> statement-breakpoint
CREATE INDEX `deliveries_due` ON `deliveries` (`status`,`next_attempt_at`) WHERE status = 'in_flight' OR status = 'retrying' OR status = 'pending' OR status = 'dead';--> statement-breakpoint
DROP INDEX IF EXISTS `deliveries_subscription_due`;--> statement-breakpoint
CREATE INDEX `deliveries_subscription_due` ON `deliveries` (`subscription_id`,`status`,`next_attempt_at`) WHERE status = 'in_flight' OR status = 'retrying' OR status = 'pending' OR status = 'dead';--> statement-breakpoint
DROP INDEX IF EXISTS `deliveries_message`;--> statement-breakpoint
CREATE INDEX `deliveries_message` ON `deliveries` (`message_id`) WHERE message_id IS NOT NULL;--> statement-breakpoint
DROP INDEX IF EXISTS `deliveries_created`;--> statement-breakpoint
CREATE INDEX `deliveries_created` ON `deliveries` (`created_at`);--> statement-breakpoint
DROP INDEX IF EXISTS `deliveries_subscription_created`;--> statement-breakpoint
CREATE INDEX `deliveries_subscription_created` ON `deliveries` (`subscription_id`,`created_at`);--> statement-breakpoint
DROP INDEX IF EXISTS `domain_events_type_received`;--> statement-breakpoint
CREATE INDEX `domain_events_type_received` ON `domain_events` (`type`,`received_at`);
