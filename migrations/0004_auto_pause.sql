ALTER TABLE `subscriptions` ADD `pause_after` integer DEFAULT 50 NOT NULL;--> statement-breakpoint
ALTER TABLE `subscriptions` ADD `consecutive_failures` integer DEFAULT 0 NOT NULL;