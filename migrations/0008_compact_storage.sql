PRAGMA defer_foreign_keys = on;--> statement-breakpoint
CREATE TABLE `endpoints` (
	`id` integer PRIMARY KEY NOT NULL,
	`url` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `endpoints_url_unique` ON `endpoints` (`url`);--> statement-breakpoint
INSERT INTO `endpoints` (`url`) SELECT `url` FROM `subscriptions` UNION SELECT `url` FROM `deliveries`;--> statement-breakpoint
ALTER TABLE `subscriptions` ADD `endpoint_id` integer REFERENCES endpoints(id);--> statement-breakpoint
UPDATE `subscriptions` SET `endpoint_id` = (SELECT `id` FROM `endpoints` WHERE `endpoints`.`url` = `subscriptions`.`url`);--> statement-breakpoint
CREATE TABLE `subscription_refs` (
	`ref` integer PRIMARY KEY NOT NULL,
	`id` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `subscription_refs_id_unique` ON `subscription_refs` (`id`);--> statement-breakpoint
INSERT INTO `subscription_refs` (`id`) SELECT `id` FROM `subscriptions` UNION SELECT `subscription_id` FROM `deliveries`;--> statement-breakpoint
ALTER TABLE `subscriptions` ADD `ref` integer REFERENCES subscription_refs(ref);--> statement-breakpoint
UPDATE `subscriptions` SET `ref` = (SELECT `ref` FROM `subscription_refs` WHERE `subscription_refs`.`id` = `subscriptions`.`id`);--> statement-breakpoint
CREATE UNIQUE INDEX `subscriptions_ref_unique` ON `subscriptions` (`ref`);--> statement-breakpoint
CREATE TRIGGER `subscription_refs_insert` AFTER INSERT ON `subscriptions` BEGIN INSERT OR IGNORE INTO `endpoints` (`url`) VALUES (NEW.`url`); INSERT OR IGNORE INTO `subscription_refs` (`id`) VALUES (NEW.`id`); UPDATE `subscriptions` SET `endpoint_id` = (SELECT `id` FROM `endpoints` WHERE `url` = NEW.`url`), `ref` = (SELECT `ref` FROM `subscription_refs` WHERE `id` = NEW.`id`) WHERE `id` = NEW.`id`; END;--> statement-breakpoint
CREATE TRIGGER `subscription_endpoint_update` AFTER UPDATE OF `url` ON `subscriptions` WHEN OLD.`url` IS NOT NEW.`url` BEGIN INSERT OR IGNORE INTO `endpoints` (`url`) VALUES (NEW.`url`); UPDATE `subscriptions` SET `endpoint_id` = (SELECT `id` FROM `endpoints` WHERE `url` = NEW.`url`) WHERE `id` = NEW.`id`; END;--> statement-breakpoint
ALTER TABLE `attempts` RENAME TO `attempts_0007`;--> statement-breakpoint
ALTER TABLE `deliveries` RENAME TO `deliveries_0007`;--> statement-breakpoint
ALTER TABLE `integration_events` RENAME TO `integration_events_0007`;--> statement-breakpoint
ALTER TABLE `domain_events` RENAME TO `domain_events_0007`;--> statement-breakpoint
CREATE TABLE `domain_events` (
	`ref` integer PRIMARY KEY NOT NULL,
	`id` text NOT NULL,
	`type` text NOT NULL,
	`source` text NOT NULL,
	`data` text NOT NULL,
	`occurred_at` text,
	`metadata` text,
	`traceparent` text,
	`received_at` integer NOT NULL,
	`not_before` integer
);
--> statement-breakpoint
INSERT INTO `domain_events` (`ref`, `id`, `type`, `source`, `data`, `occurred_at`, `metadata`, `traceparent`, `received_at`, `not_before`)
	SELECT `rowid`, `id`, `type`, `source`, `data`, `occurred_at`, `metadata`, `traceparent`, `received_at`, `not_before`
	FROM `domain_events_0007` ORDER BY `rowid`;--> statement-breakpoint
CREATE TABLE `integration_events` (
	`ref` integer PRIMARY KEY NOT NULL,
	`id` blob NOT NULL,
	`domain_event_ref` integer NOT NULL,
	`seq` integer NOT NULL,
	`type` text NOT NULL,
	`source` text,
	`time` text,
	`data` text NOT NULL,
	FOREIGN KEY (`domain_event_ref`) REFERENCES `domain_events`(`ref`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
INSERT INTO `integration_events` (`ref`, `id`, `domain_event_ref`, `seq`, `type`, `source`, `time`, `data`)
	SELECT ie.`rowid`, (CASE WHEN lower(substr(hex(unhex(ie.`id`, '-')), 1, 8) || '-' || substr(hex(unhex(ie.`id`, '-')), 9, 4) || '-' || substr(hex(unhex(ie.`id`, '-')), 13, 4) || '-' || substr(hex(unhex(ie.`id`, '-')), 17, 4) || '-' || substr(hex(unhex(ie.`id`, '-')), 21)) = ie.`id` THEN unhex(ie.`id`, '-') ELSE ie.`id` END), de.`rowid`, ie.`seq`, ie.`type`,
		nullif(ie.`source`, '/producers/' || de.`source`),
		nullif(ie.`time`, coalesce(de.`occurred_at`, strftime('%Y-%m-%dT%H:%M:%S.', de.`received_at` / 1000, 'unixepoch') || substr(1000 + de.`received_at` % 1000, 2) || 'Z')),
		ie.`data`
	FROM `integration_events_0007` ie JOIN `domain_events_0007` de ON de.`id` = ie.`domain_event_id` ORDER BY ie.`rowid`;--> statement-breakpoint
CREATE TABLE `deliveries` (
	`id` blob PRIMARY KEY NOT NULL,
	`integration_event_ref` integer NOT NULL,
	`subscription_ref` integer NOT NULL,
	`endpoint_id` integer NOT NULL,
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
	`ordering_key` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`integration_event_ref`) REFERENCES `integration_events`(`ref`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`subscription_ref`) REFERENCES `subscription_refs`(`ref`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`endpoint_id`) REFERENCES `endpoints`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
INSERT INTO `deliveries` (`rowid`, `id`, `integration_event_ref`, `subscription_ref`, `endpoint_id`, `status`, `attempts`,
		`retried`, `max_retries`, `retry_delay`, `next_attempt_at`, `lease_owner`, `lease_expires_at`, `generation`,
		`message_id`, `ordering_key`, `created_at`, `updated_at`)
	SELECT d.`rowid`, (CASE WHEN lower(hex(unhex(d.`id`))) = d.`id` THEN unhex(d.`id`) ELSE d.`id` END),
		ie.`rowid`,
		sr.`ref`, e.`id`, d.`status`, d.`attempts`,
		d.`retried`, d.`max_retries`, d.`retry_delay`, d.`next_attempt_at`, d.`lease_owner`, d.`lease_expires_at`,
		d.`generation`, d.`message_id`, CASE WHEN d.`status` = 'delivered' THEN NULL ELSE d.`ordering_key` END,
		d.`created_at`, d.`updated_at`
	FROM `deliveries_0007` d JOIN `endpoints` e ON e.`url` = d.`url`
		JOIN `integration_events_0007` ie ON ie.`id` = d.`integration_event_id`
		JOIN `subscription_refs` sr ON sr.`id` = d.`subscription_id` ORDER BY d.`rowid`;--> statement-breakpoint
CREATE TABLE `attempts` (
	`delivery_id` blob NOT NULL,
	`number` integer NOT NULL,
	`at` integer NOT NULL,
	`status` integer,
	`duration_ms` integer NOT NULL,
	`error` text,
	`response_excerpt` text,
	PRIMARY KEY(`delivery_id`, `number`),
	FOREIGN KEY (`delivery_id`) REFERENCES `deliveries`(`id`) ON UPDATE no action ON DELETE no action
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `attempts` (`delivery_id`, `number`, `at`, `status`, `duration_ms`, `error`, `response_excerpt`)
	SELECT (CASE WHEN lower(hex(unhex(`delivery_id`))) = `delivery_id` THEN unhex(`delivery_id`) ELSE `delivery_id` END), `number`, `at`, `status`, `duration_ms`, `error`, `response_excerpt`
	FROM `attempts_0007`;--> statement-breakpoint
DROP TABLE `attempts_0007`;--> statement-breakpoint
DROP TABLE `deliveries_0007`;--> statement-breakpoint
DROP TABLE `integration_events_0007`;--> statement-breakpoint
DROP TABLE `domain_events_0007`;--> statement-breakpoint
CREATE UNIQUE INDEX `domain_events_id_unique` ON `domain_events` (`id`);--> statement-breakpoint
CREATE INDEX `domain_events_received_at` ON `domain_events` (`received_at`);--> statement-breakpoint
CREATE INDEX `domain_events_type_received` ON `domain_events` (`type`,`received_at`);--> statement-breakpoint
CREATE UNIQUE INDEX `integration_events_id_unique` ON `integration_events` (`id`);--> statement-breakpoint
CREATE INDEX `integration_events_domain_event` ON `integration_events` (`domain_event_ref`,`seq`);--> statement-breakpoint
CREATE INDEX `deliveries_due` ON `deliveries` (`status`,`next_attempt_at`) WHERE status = 'in_flight' OR status = 'retrying' OR status = 'pending' OR status = 'dead';--> statement-breakpoint
CREATE INDEX `deliveries_integration_event` ON `deliveries` (`integration_event_ref`);--> statement-breakpoint
CREATE INDEX `deliveries_message` ON `deliveries` (`message_id`) WHERE message_id IS NOT NULL;--> statement-breakpoint
CREATE INDEX `deliveries_created` ON `deliveries` (`created_at`);--> statement-breakpoint
CREATE INDEX `deliveries_subscription_due` ON `deliveries` (`subscription_ref`,`status`,`next_attempt_at`) WHERE status = 'in_flight' OR status = 'retrying' OR status = 'pending' OR status = 'dead';--> statement-breakpoint
CREATE INDEX `deliveries_subscription_created` ON `deliveries` (`subscription_ref`,`created_at`);--> statement-breakpoint
CREATE INDEX `deliveries_ordering` ON `deliveries` (`subscription_ref`,`ordering_key`) WHERE ordering_key IS NOT NULL AND (status = 'pending' OR status = 'in_flight' OR status = 'retrying');
