CREATE TABLE "intercom"."sync_write_doubts" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"entity_type" text NOT NULL,
	"local_id" bigint NOT NULL,
	"intercom_id" text,
	"op" text NOT NULL,
	"fields" jsonb NOT NULL,
	"sent_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sync_write_doubts_entity_type_check" CHECK ("intercom"."sync_write_doubts"."entity_type" in ('contact', 'company')),
	CONSTRAINT "sync_write_doubts_op_check" CHECK ("intercom"."sync_write_doubts"."op" in ('create', 'update'))
);
--> statement-breakpoint
CREATE INDEX "sync_write_doubts_entity_idx" ON "intercom"."sync_write_doubts" USING btree ("entity_type","local_id");