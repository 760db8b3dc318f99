CREATE TABLE "intercom"."status_samples" (
	"minute" timestamp with time zone PRIMARY KEY NOT NULL,
	"requests" integer DEFAULT 0 NOT NULL,
	"rate_limited" integer DEFAULT 0 NOT NULL,
	"outbox_depth" integer,
	"dead_letters" integer
);
