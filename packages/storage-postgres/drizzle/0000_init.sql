CREATE TABLE "core_documents" (
	"namespace" text COLLATE "C" NOT NULL,
	"key" text COLLATE "C" NOT NULL,
	"value" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "core_documents_pkey" PRIMARY KEY("namespace","key")
);
--> statement-breakpoint
CREATE TABLE "core_schema_versions" (
	"namespace" text COLLATE "C" PRIMARY KEY NOT NULL,
	"version" integer NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "core_documents_value_gin" ON "core_documents" USING gin ("value" jsonb_path_ops) WITH (gin_pending_list_limit=256);