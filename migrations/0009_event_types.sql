PRAGMA defer_foreign_keys = on;--> statement-breakpoint
CREATE TABLE `event_types` (
	`ref` integer PRIMARY KEY NOT NULL,
	`name` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `event_types_name_unique` ON `event_types` (`name`);--> statement-breakpoint
INSERT INTO `event_types` (`name`) SELECT `type` FROM `domain_events` UNION SELECT `type` FROM `integration_events`;--> statement-breakpoint
CREATE TABLE `domain_events_0008` AS SELECT de.`ref`, de.`id`, t.`ref` AS `type_ref`, de.`source`, de.`data`, de.`occurred_at`, de.`metadata`, de.`traceparent`, de.`received_at`, de.`not_before`
	FROM `domain_events` de JOIN `event_types` t ON t.`name` = de.`type`;--> statement-breakpoint
CREATE TABLE `integration_events_0008` AS SELECT ie.`ref`, ie.`id`, ie.`domain_event_ref`, ie.`seq`, t.`ref` AS `type_ref`, ie.`source`, ie.`time`, ie.`data`
	FROM `integration_events` ie JOIN `event_types` t ON t.`name` = ie.`type`;--> statement-breakpoint
DROP TABLE `integration_events`;--> statement-breakpoint
DROP TABLE `domain_events`;--> statement-breakpoint
CREATE TABLE `domain_events` (
	`ref` integer PRIMARY KEY NOT NULL,
	`id` text NOT NULL,
	`type_ref` integer NOT NULL,
	`source` text NOT NULL,
	`data` text NOT NULL,
	`occurred_at` text,
	`metadata` text,
	`traceparent` text,
	`received_at` integer NOT NULL,
	`not_before` integer,
	FOREIGN KEY (`type_ref`) REFERENCES `event_types`(`ref`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
INSERT INTO `domain_events` (`ref`, `id`, `type_ref`, `source`, `data`, `occurred_at`, `metadata`, `traceparent`, `received_at`, `not_before`)
	SELECT `ref`, `id`, `type_ref`, `source`, `data`, `occurred_at`, `metadata`, `traceparent`, `received_at`, `not_before`
	FROM `domain_events_0008` ORDER BY `ref`;--> statement-breakpoint
CREATE TABLE `integration_events` (
	`ref` integer PRIMARY KEY NOT NULL,
	`id` blob NOT NULL,
	`domain_event_ref` integer NOT NULL,
	`seq` integer NOT NULL,
	`type_ref` integer NOT NULL,
	`source` text,
	`time` text,
	`data` text NOT NULL,
	FOREIGN KEY (`domain_event_ref`) REFERENCES `domain_events`(`ref`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`type_ref`) REFERENCES `event_types`(`ref`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
INSERT INTO `integration_events` (`ref`, `id`, `domain_event_ref`, `seq`, `type_ref`, `source`, `time`, `data`)
	SELECT `ref`, `id`, `domain_event_ref`, `seq`, `type_ref`, `source`, `time`, `data`
	FROM `integration_events_0008` ORDER BY `ref`;--> statement-breakpoint
DROP TABLE `integration_events_0008`;--> statement-breakpoint
DROP TABLE `domain_events_0008`;--> statement-breakpoint
CREATE UNIQUE INDEX `domain_events_id_unique` ON `domain_events` (`id`);--> statement-breakpoint
CREATE INDEX `domain_events_received_at` ON `domain_events` (`received_at`);--> statement-breakpoint
CREATE INDEX `domain_events_type_received` ON `domain_events` (`type_ref`,`received_at`);--> statement-breakpoint
CREATE UNIQUE INDEX `integration_events_id_unique` ON `integration_events` (`id`);--> statement-breakpoint
CREATE INDEX `integration_events_domain_event` ON `integration_events` (`domain_event_ref`,`seq`);
