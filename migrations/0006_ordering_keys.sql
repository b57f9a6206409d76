ALTER TABLE `deliveries` ADD `ordering_key` text;--> statement-breakpoint
CREATE INDEX `deliveries_ordering` ON `deliveries` (`subscription_id`,`ordering_key`) WHERE ordering_key IS NOT NULL AND (status = 'pending' OR status = 'in_flight' OR status = 'retrying');
