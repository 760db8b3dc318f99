-- Availability (issues 11 and 13): runs that could not work because Intercom refused the token are 'halted', and
-- what Intercom refuses us right now (the token, or one endpoint for a missing permission) is kept in
-- intercom_access, so `intercom-sync status` and `report errors` show it from any process.
ALTER TABLE "intercom"."sync_runs" DROP CONSTRAINT "sync_runs_status_check";
--> statement-breakpoint
ALTER TABLE "intercom"."sync_runs" ADD CONSTRAINT "sync_runs_status_check" CHECK ("intercom"."sync_runs"."status" in ('running', 'succeeded', 'failed', 'aborted', 'halted'));
--> statement-breakpoint
CREATE TABLE "intercom"."intercom_access" (
	"endpoint" text PRIMARY KEY NOT NULL,
	"status" integer,
	"code" text,
	"permission" text,
	"message" text NOT NULL,
	"request_id" text,
	"since" timestamp with time zone NOT NULL,
	"last_seen_at" timestamp with time zone NOT NULL,
	"next_probe_at" timestamp with time zone
);
--> statement-breakpoint

CREATE OR REPLACE VIEW "intercom".report_overview AS
WITH streams(ord, stream, kind, state_stream, outbox_entity) AS (
  VALUES
    (1, 'pull:contacts', 'pull_contacts', 'contacts', NULL),
    (2, 'pull:companies', 'pull_companies', 'companies', NULL),
    (3, 'push:contacts', 'push', NULL, 'contact'),
    (4, 'push:companies', 'push', NULL, 'company'),
    (5, 'push:associations', 'push', NULL, 'contact_company'),
    (6, 'backfill:contacts', 'backfill', 'backfill:contacts', NULL),
    (7, 'backfill:companies', 'backfill', 'backfill:companies', NULL),
    (8, 'verify:contacts', 'verify', 'verify:contacts', NULL),
    (9, 'verify:companies', 'verify', 'verify:companies', NULL),
    (10, 'webhook', 'webhook', NULL, NULL)
),
outbox AS (
  SELECT entity_type,
         count(*) FILTER (WHERE status = 'pending') AS pending,
         count(*) FILTER (WHERE status = 'dead') AS dead,
         min(created_at) FILTER (WHERE status = 'pending') AS oldest_pending
    FROM "intercom".sync_outbox GROUP BY entity_type
),
base AS (
SELECT s.ord,
       s.stream,
       s.kind AS run_kind,
       lr.started_at AS last_run_at,
       lr.status AS last_run_status,
       ls.finished_at AS last_success_at,
       lr.error AS last_error,
       st.watermark,
       -- A cursor left behind means a full listing stopped part-way and will resume from there.
       (st.cursor IS NOT NULL) AS in_progress,
       CASE
         WHEN s.outbox_entity IS NOT NULL THEN floor(extract(epoch FROM now() - o.oldest_pending))::bigint
         -- A quiet workspace has an old watermark but no lag: local data is as fresh as the start of the last
         -- successful pull.
         WHEN s.stream LIKE 'pull:%' THEN floor(extract(epoch FROM now() - ls.started_at))::bigint
         WHEN s.stream LIKE 'verify:%' THEN floor(extract(epoch FROM now() - st.watermark))::bigint
       END AS lag_seconds,
       CASE WHEN s.outbox_entity IS NOT NULL THEN coalesce(o.pending, 0)::int END AS outbox_depth,
       CASE WHEN s.outbox_entity IS NOT NULL THEN coalesce(o.dead, 0)::int END AS dead_letters
  FROM streams s
  -- sync_runs grows by a row per scheduled run; these walk its (kind, started_at) index from the newest end.
  LEFT JOIN LATERAL (
    SELECT r.started_at, r.status, r.error FROM "intercom".sync_runs r
     WHERE r.kind = s.kind ORDER BY r.started_at DESC, r.id DESC LIMIT 1
  ) lr ON true
  LEFT JOIN LATERAL (
    SELECT r.started_at, r.finished_at FROM "intercom".sync_runs r
     WHERE r.kind = s.kind AND r.status = 'succeeded' ORDER BY r.started_at DESC, r.id DESC LIMIT 1
  ) ls ON true
  LEFT JOIN "intercom".sync_state st ON st.stream = s.state_stream
  LEFT JOIN outbox o ON o.entity_type = s.outbox_entity
),
-- What Intercom refuses us now: the token ('intercom:token', every call halted until GET /me is accepted again) or
-- one endpoint for a missing permission; lag_seconds is how long it has lasted.
access AS (
SELECT 100 + row_number() OVER (ORDER BY a.endpoint) AS ord,
       CASE WHEN a.endpoint = '*' THEN 'intercom:token' ELSE 'intercom:' || a.endpoint END AS stream,
       NULL::text AS run_kind,
       a.last_seen_at AS last_run_at,
       CASE WHEN a.endpoint = '*' THEN 'halted' ELSE 'denied' END AS last_run_status,
       NULL::timestamptz AS last_success_at,
       a.message AS last_error,
       NULL::timestamptz AS watermark,
       false AS in_progress,
       floor(extract(epoch FROM now() - a.since))::bigint AS lag_seconds,
       NULL::int AS outbox_depth,
       NULL::int AS dead_letters
  FROM "intercom".intercom_access a
)
SELECT stream, run_kind, last_run_at, last_run_status, last_success_at, last_error, watermark, in_progress,
       lag_seconds, outbox_depth, dead_letters
  FROM (SELECT * FROM base UNION ALL SELECT * FROM access) x
 ORDER BY ord;
--> statement-breakpoint

CREATE OR REPLACE VIEW "intercom".report_errors AS
SELECT CASE o.status WHEN 'dead' THEN 'dead_letter' ELSE 'retrying' END AS kind,
       o.updated_at AS at,
       o.entity_type,
       o.local_id,
       CASE WHEN o.related_id = 0 THEN NULL ELSE o.related_id END AS related_id,
       m.intercom_id,
       o.op AS operation,
       o.attempts,
       o.last_error AS reason,
       o.last_error_details AS details,
       o.id AS source_id
  FROM "intercom".sync_outbox o
  LEFT JOIN "intercom".sync_mappings m
    ON m.entity_type = o.entity_type AND m.local_id = o.local_id
 WHERE o.status = 'dead' OR o.last_error IS NOT NULL
UNION ALL
SELECT 'failed_run', coalesce(r.finished_at, r.started_at), NULL, NULL, NULL, NULL, r.kind, NULL, r.error,
       jsonb_build_object('status', r.status, 'counts', r.counts, 'requests', r.requests), r.id
  FROM "intercom".sync_runs r
 WHERE r.status IN ('failed', 'aborted', 'halted')
UNION ALL
SELECT 'mapping_' || m.status, m.updated_at, m.entity_type, m.local_id, NULL, m.intercom_id, NULL, NULL,
       m.status_reason, jsonb_build_object('external_key', m.external_key), m.id
  FROM "intercom".sync_mappings m
 WHERE m.status IN ('conflict', 'ambiguous')
UNION ALL
SELECT 'invalid', a.at, a.entity_type, a.local_id, NULL, a.intercom_id, a.direction, NULL,
       coalesce(a.details ->> 'reason', a.details ->> 'error', a.details ->> 'message'), a.details, a.id
  FROM "intercom".audit_log a
 WHERE a.action = 'invalid'
UNION ALL
-- Refusals in force: 'token_refused' (every call halted) or 'permission_denied' (one endpoint, named in operation).
SELECT CASE WHEN x.endpoint = '*' THEN 'token_refused' ELSE 'permission_denied' END, x.last_seen_at, NULL, NULL, NULL,
       NULL, x.endpoint, NULL, x.message,
       jsonb_build_object('status', x.status, 'code', x.code, 'permission', x.permission, 'request_id', x.request_id,
                          'since', x.since, 'next_probe_at', x.next_probe_at),
       NULL
  FROM "intercom".intercom_access x;
