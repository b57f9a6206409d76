CREATE TABLE `attempts` (
	`delivery_id` text NOT NULL,
	`number` integer NOT NULL,
	`at` integer NOT NULL,
	`status` integer,
	`duration_ms` integer NOT NULL,
	`error` text,
	`response_excerpt` text,
	PRIMARY KEY(`delivery_id`, `number`),
	FOREIGN KEY (`delivery_id`) REFERENCES `deliveries`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`integration_event_id` text NOT NULL,
	`subscription_id` text NOT NULL,
	`url` text NOT NULL,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`retried` integer DEFAULT 0 NOT NULL,
	`max_retries` integer NOT NULL,
	`retry_delay` text,
	`next_attempt_at` integer NOT NULL,
	`lease_owner` text,
	`lease_expires_at` integer,
	`generation` integer DEFAULT 0 NOT NULL,
	`message_id` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`integration_event_id`) REFERENCES `integration_events`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `deliveries_due` ON `deliveries` (`status`,`next_attempt_at`);--> statement-breakpoint
CREATE INDEX `deliveries_integration_event` ON `deliveries` (`integration_event_id`);--> statement-breakpoint
CREATE INDEX `deliveries_message` ON `deliveries` (`message_id`);--> statement-breakpoint
CREATE INDEX `deliveries_created` ON `deliveries` (`created_at`,`id`);--> statement-breakpoint
CREATE TABLE `domain_events` (
	`id` text PRIMARY KEY NOT NULL,
	`type` text NOT NULL,
	`source` text NOT NULL,
	`data` text NOT NULL,
	`occurred_at` text,
	`metadata` text,
	`traceparent` text,
	`received_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `domain_events_received_at` ON `domain_events` (`received_at`);--> statement-breakpoint
CREATE TABLE `integration_events` (
	`id` text PRIMARY KEY NOT NULL,
	`domain_event_id` text NOT NULL,
	`seq` integer NOT NULL,
	`type` text NOT NULL,
	`source` text NOT NULL,
	`time` text NOT NULL,
	`data` text NOT NULL,
	FOREIGN KEY (`domain_event_id`) REFERENCES `domain_events`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `integration_events_domain_event` ON `integration_events` (`domain_event_id`,`seq`);--> statement-breakpoint
CREATE TABLE `subscriptions` (
	`id` text PRIMARY KEY NOT NULL,
	`type` text NOT NULL,
	`url` text NOT NULL,
	`retries` integer DEFAULT 10 NOT NULL,
	`retry_delay` text,
	`origin` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`deleted_at` integer
);
--> statement-breakpoint
CREATE INDEX `subscriptions_type` ON `subscriptions` (`type`);