ALTER TABLE `subscriptions` ADD `paused_at` integer;--> statement-breakpoint
ALTER TABLE `subscriptions` ADD `paused_reason` text;--> statement-breakpoint
ALTER TABLE `subscriptions` ADD `max_concurrency` integer DEFAULT 16 NOT NULL;--> statement-breakpoint
CREATE INDEX `deliveries_subscription_due` ON `deliveries` (`subscription_id`,`status`,`next_attempt_at`);