ALTER TABLE `subscriptions` ADD `filter` text;--> statement-breakpoint
CREATE TABLE `subscription_revision` (
	`id` integer PRIMARY KEY NOT NULL,
	`revision` integer DEFAULT 0 NOT NULL,
	CONSTRAINT "subscriptions_changed" CHECK("subscription_revision"."id" = 0)
);
--> statement-breakpoint
INSERT INTO `subscription_revision` (`id`, `revision`) VALUES (0, 0);--> statement-breakpoint
CREATE TRIGGER `subscription_revision_insert` AFTER INSERT ON `subscriptions` WHEN NEW.`filter` IS NOT NULL BEGIN UPDATE `subscription_revision` SET `revision` = `revision` + 1 WHERE `id` = 0; END;--> statement-breakpoint
CREATE TRIGGER `subscription_revision_update` AFTER UPDATE OF `filter`, `type`, `deleted_at` ON `subscriptions` WHEN (OLD.`filter` IS NOT NULL OR NEW.`filter` IS NOT NULL) AND (OLD.`filter` IS NOT NEW.`filter` OR OLD.`type` IS NOT NEW.`type` OR OLD.`deleted_at` IS NOT NEW.`deleted_at`) BEGIN UPDATE `subscription_revision` SET `revision` = `revision` + 1 WHERE `id` = 0; END;--> statement-breakpoint
CREATE TRIGGER `subscription_revision_delete` AFTER DELETE ON `subscriptions` WHEN OLD.`filter` IS NOT NULL BEGIN UPDATE `subscription_revision` SET `revision` = `revision` + 1 WHERE `id` = 0; END;
