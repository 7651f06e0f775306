CREATE TABLE `core_storage_documents` (
	`namespace` text NOT NULL,
	`key` text NOT NULL,
	`doc` text NOT NULL,
	PRIMARY KEY(`namespace`, `key`)
);
--> statement-breakpoint
CREATE TABLE `core_storage_schema_versions` (
	`namespace` text PRIMARY KEY NOT NULL,
	`version` integer NOT NULL,
	`updated_at` integer NOT NULL
);
