PRAGMA defer_foreign_keys = on;--> statement-breakpoint
CREATE TABLE `attempts_0008` (
	`delivery_id` text NOT NULL,
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
INSERT INTO `attempts_0008` (`delivery_id`, `number`, `at`, `status`, `duration_ms`, `error`, `response_excerpt`)
	SELECT `delivery_id`, `number`, `at`, `status`, `duration_ms`, `error`, `response_excerpt` FROM `attempts`;--> statement-breakpoint
DROP TABLE `attempts`;--> statement-breakpoint
ALTER TABLE `attempts_0008` RENAME TO `attempts`;
