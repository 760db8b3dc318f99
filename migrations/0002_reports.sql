-- Reports: read-only views over the sync tables, so operators can answer "is it healthy, what did it do, what needs
-- me" with plain SQL (or `intercom-sync report <name>`). Views hold no data; CREATE OR REPLACE keeps later column
-- additions cheap. Days and hours are UTC. The schema name "intercom" is re-targeted to SYNC_SCHEMA by the migrator.

-- One row per stream. Pull streams measure lag as the distance of their watermark from now; push streams as the age
-- of their oldest pending outbox entry (how long a local change has been waiting); verify streams as the age of the
-- start of their last complete pass (drift older than that has been looked for).
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
)
SELECT s.stream,
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
 ORDER BY s.ord;
--> statement-breakpoint

-- What the sync did, per UTC day: the audit log counted by direction, entity and action.
CREATE OR REPLACE VIEW "intercom".report_daily_activity AS
SELECT (a.at AT TIME ZONE 'UTC')::date AS day,
       a.direction,
       a.entity_type,
       a.action,
       count(*)::int AS count
  FROM "intercom".audit_log a
 GROUP BY 1, 2, 3, 4;
--> statement-breakpoint

-- Every conflict a three-way merge resolved: which fields both sides changed, and the entity's mapping today.
CREATE OR REPLACE VIEW "intercom".report_conflicts AS
SELECT a.id AS audit_id,
       a.at,
       a.run_id,
       a.direction,
       a.entity_type,
       a.local_id,
       a.intercom_id,
       a.external_key,
       ARRAY(SELECT k FROM jsonb_object_keys(a.changes) AS k ORDER BY k) AS fields,
       -- CONFLICT_POLICY at the time and the side that won; 'ambiguous' conflicts (identity, not fields) have neither.
       a.details ->> 'policy' AS policy,
       a.details ->> 'winner' AS winner,
       a.changes,
       a.details,
       m.status AS mapping_status
  FROM "intercom".audit_log a
  LEFT JOIN "intercom".sync_mappings m
    ON m.entity_type = a.entity_type AND m.local_id = a.local_id
 WHERE a.action = 'conflict';
--> statement-breakpoint

-- Merges: contacts whose Intercom record was merged into another (by us on request, or seen after the fact), and
-- lead → user merges the application asked for (contacts.merge_into_id) that have not happened yet.
CREATE OR REPLACE VIEW "intercom".report_merges AS
SELECT 'merged'::text AS state,
       m.entity_type,
       m.local_id,
       m.external_key,
       la.intercom_id AS from_intercom_id,
       m.merged_into AS into_intercom_id,
       survivor.local_id AS into_local_id,
       coalesce(la.at, m.updated_at) AS at,
       la.direction,
       m.status_reason AS reason,
       la.request_id
  FROM "intercom".sync_mappings m
  LEFT JOIN LATERAL (
    SELECT a.at, a.direction, a.intercom_id, a.request_id
      FROM "intercom".audit_log a
     WHERE a.entity_type = m.entity_type AND a.local_id = m.local_id AND a.action = 'merge'
     ORDER BY a.at DESC, a.id DESC LIMIT 1
  ) la ON true
  LEFT JOIN "intercom".sync_mappings survivor
    ON survivor.entity_type = m.entity_type AND survivor.intercom_id = m.merged_into
 WHERE m.status = 'merged'
UNION ALL
SELECT 'requested'::text AS state,
       'contact'::text AS entity_type,
       c.id AS local_id,
       coalesce(c.external_id, c.email) AS external_key,
       c.intercom_id AS from_intercom_id,
       target.intercom_id AS into_intercom_id,
       c.merge_into_id AS into_local_id,
       c.updated_at AS at,
       NULL::text AS direction,
       NULL::text AS reason,
       NULL::text AS request_id
  FROM "intercom".contacts c
  LEFT JOIN "intercom".contacts target ON target.id = c.merge_into_id
  LEFT JOIN "intercom".sync_mappings m ON m.entity_type = 'contact' AND m.local_id = c.id
 WHERE c.merge_into_id IS NOT NULL AND c.deleted_at IS NULL AND m.status IS DISTINCT FROM 'merged';
--> statement-breakpoint

-- What needs a human: dead and failing outbox entries, failed runs, mappings stuck in conflict or ambiguity, and
-- records Intercom or the local side sent that could not be applied (audit action 'invalid').
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
 WHERE r.status IN ('failed', 'aborted')
UNION ALL
SELECT 'mapping_' || m.status, m.updated_at, m.entity_type, m.local_id, NULL, m.intercom_id, NULL, NULL,
       m.status_reason, jsonb_build_object('external_key', m.external_key), m.id
  FROM "intercom".sync_mappings m
 WHERE m.status IN ('conflict', 'ambiguous')
UNION ALL
SELECT 'invalid', a.at, a.entity_type, a.local_id, NULL, a.intercom_id, a.direction, NULL,
       coalesce(a.details ->> 'reason', a.details ->> 'error', a.details ->> 'message'), a.details, a.id
  FROM "intercom".audit_log a
 WHERE a.action = 'invalid';
--> statement-breakpoint

-- Intercom requests per UTC hour and endpoint template, split by answer class; status 0 = no answer (timeout or
-- dropped connection).
CREATE OR REPLACE VIEW "intercom".report_api_usage AS
SELECT u.hour,
       u.endpoint,
       sum(u.requests)::int AS requests,
       coalesce(sum(u.requests) FILTER (WHERE u.status BETWEEN 200 AND 399), 0)::int AS ok,
       coalesce(sum(u.requests) FILTER (WHERE u.status = 429), 0)::int AS rate_limited,
       coalesce(sum(u.requests) FILTER (WHERE u.status BETWEEN 400 AND 499 AND u.status <> 429), 0)::int AS client_errors,
       coalesce(sum(u.requests) FILTER (WHERE u.status >= 500), 0)::int AS server_errors,
       coalesce(sum(u.requests) FILTER (WHERE u.status = 0), 0)::int AS no_answer,
       round(sum(u.total_ms)::numeric / nullif(sum(u.requests), 0), 1)::float8 AS avg_ms,
       (SELECT jsonb_object_agg(p.priority, p.n ORDER BY p.priority)
          FROM (SELECT x.priority, sum(x.requests)::int AS n
                  FROM "intercom".api_usage x
                 WHERE x.hour = u.hour AND x.endpoint = u.endpoint
                 GROUP BY x.priority) p) AS by_priority
  FROM "intercom".api_usage u
 GROUP BY u.hour, u.endpoint;
--> statement-breakpoint

-- Possible duplicates: live contacts sharing an email (case and surrounding spaces ignored).
CREATE OR REPLACE VIEW "intercom".report_duplicates AS
SELECT lower(btrim(c.email)) AS email,
       count(*)::int AS contacts,
       array_agg(c.id ORDER BY c.id) AS local_ids,
       array_agg(c.intercom_id ORDER BY c.id) AS intercom_ids,
       array_agg(c.external_id ORDER BY c.id) AS external_ids,
       array_agg(c.role ORDER BY c.id) AS roles
  FROM "intercom".contacts c
 WHERE c.email IS NOT NULL AND c.deleted_at IS NULL
 GROUP BY lower(btrim(c.email))
HAVING count(*) > 1;
--> statement-breakpoint

-- Live local rows with no Intercom counterpart yet (never pushed, or stuck), and why, as far as we know.
-- Rows merged, deleted or archived in Intercom are unlinked on purpose and not listed.
CREATE OR REPLACE VIEW "intercom".report_unlinked AS
SELECT 'contact'::text AS entity_type,
       c.id AS local_id,
       coalesce(c.external_id, c.email) AS key,
       m.status AS mapping_status,
       m.status_reason,
       o.status AS outbox_status,
       o.attempts AS outbox_attempts,
       o.last_error,
       c.created_at,
       c.updated_at
  FROM "intercom".contacts c
  LEFT JOIN "intercom".sync_mappings m ON m.entity_type = 'contact' AND m.local_id = c.id
  LEFT JOIN LATERAL (
    SELECT x.status, x.attempts, x.last_error FROM "intercom".sync_outbox x
     WHERE x.entity_type = 'contact' AND x.local_id = c.id AND x.related_id = 0
     ORDER BY (x.status = 'pending') DESC, x.id DESC LIMIT 1
  ) o ON true
 WHERE c.deleted_at IS NULL
   AND (m.id IS NULL OR (m.intercom_id IS NULL AND m.status NOT IN ('merged', 'deleted', 'archived')))
UNION ALL
SELECT 'company', c.id, c.company_id, m.status, m.status_reason, o.status, o.attempts, o.last_error,
       c.created_at, c.updated_at
  FROM "intercom".companies c
  LEFT JOIN "intercom".sync_mappings m ON m.entity_type = 'company' AND m.local_id = c.id
  LEFT JOIN LATERAL (
    SELECT x.status, x.attempts, x.last_error FROM "intercom".sync_outbox x
     WHERE x.entity_type = 'company' AND x.local_id = c.id AND x.related_id = 0
     ORDER BY (x.status = 'pending') DESC, x.id DESC LIMIT 1
  ) o ON true
 WHERE c.deleted_at IS NULL
   AND (m.id IS NULL OR (m.intercom_id IS NULL AND m.status NOT IN ('merged', 'deleted', 'archived')));
