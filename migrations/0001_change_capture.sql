-- Change capture: applications write contacts/companies/contact_companies with plain SQL; these triggers turn each
-- write into at most one pending outbox entry per entity, so the push engine sends Intercom the latest state once.
-- Writes made by intercom-sync while applying pulled data set `intercom_sync.applying = on` (transaction-local), and
-- are not enqueued: a pulled change must never echo back to Intercom.
-- The schema name "intercom" is re-targeted to SYNC_SCHEMA by the migrator.

CREATE OR REPLACE FUNCTION "intercom".sync_applying() RETURNS boolean
LANGUAGE sql STABLE AS $$ SELECT coalesce(current_setting('intercom_sync.applying', true), '') = 'on' $$;
--> statement-breakpoint
-- updated_at records local edits only: newest_wins compares it with Intercom's updated_at, so a pulled write must
-- not make an older local edit look newer. Pulled changes are visible in remote_updated_at instead.
CREATE OR REPLACE FUNCTION "intercom".touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NOT "intercom".sync_applying() THEN
    NEW.updated_at := now();
  END IF;
  RETURN NEW;
END $$;
--> statement-breakpoint
-- Columns intercom-sync maintains itself; an application rewriting them is not a change worth pushing.
CREATE OR REPLACE FUNCTION "intercom".sync_owned_columns() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
  SELECT ARRAY['id', 'intercom_id', 'remote_created_at', 'remote_updated_at', 'created_at', 'updated_at']
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION "intercom".enqueue_outbox(p_entity text, p_local bigint, p_related bigint, p_op text, p_fields text[])
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "intercom".sync_outbox AS o (entity_type, local_id, related_id, op, changed_fields)
  VALUES (p_entity, p_local, p_related, p_op, p_fields)
  ON CONFLICT (entity_type, local_id, related_id) WHERE status = 'pending'
  DO UPDATE SET
    op = EXCLUDED.op,
    changed_fields = ARRAY(SELECT DISTINCT f FROM unnest(o.changed_fields || EXCLUDED.changed_fields) AS f ORDER BY f),
    version = o.version + 1,
    -- A fresh change is worth trying now, unless the entry is backing off after failures.
    next_attempt_at = CASE WHEN o.attempts = 0 THEN now() ELSE o.next_attempt_at END,
    updated_at = now();
END $$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION "intercom".capture_entity_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  v_entity text := CASE TG_TABLE_NAME WHEN 'contacts' THEN 'contact' ELSE 'company' END;
  v_fields text[];
BEGIN
  IF "intercom".sync_applying() THEN
    RETURN NULL;
  END IF;
  -- Wakes the push engine at once. Identical notifications are folded by Postgres into one per transaction; the
  -- payload names the schema so several installations can share a database.
  PERFORM pg_notify('intercom_sync_outbox', TG_TABLE_SCHEMA);
  IF TG_OP = 'DELETE' THEN
    PERFORM "intercom".enqueue_outbox(v_entity, OLD.id, 0, 'delete', ARRAY[]::text[]);
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    SELECT coalesce(array_agg(k ORDER BY k), ARRAY[]::text[]) INTO v_fields
    FROM jsonb_object_keys(to_jsonb(NEW)) AS k
    WHERE NOT k = ANY ("intercom".sync_owned_columns()) AND to_jsonb(NEW) -> k <> 'null'::jsonb;
  ELSE
    SELECT coalesce(array_agg(k ORDER BY k), ARRAY[]::text[]) INTO v_fields
    FROM jsonb_object_keys(to_jsonb(NEW)) AS k
    WHERE NOT k = ANY ("intercom".sync_owned_columns())
      AND (to_jsonb(NEW) -> k) IS DISTINCT FROM (to_jsonb(OLD) -> k);
    IF cardinality(v_fields) = 0 THEN
      RETURN NULL;
    END IF;
  END IF;
  PERFORM "intercom".enqueue_outbox(v_entity, NEW.id, 0, 'upsert', v_fields);
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION "intercom".capture_association_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF "intercom".sync_applying() THEN
    RETURN NULL;
  END IF;
  PERFORM pg_notify('intercom_sync_outbox', TG_TABLE_SCHEMA);
  IF TG_OP = 'DELETE' THEN
    PERFORM "intercom".enqueue_outbox('contact_company', OLD.contact_id, OLD.company_id, 'detach', ARRAY[]::text[]);
  ELSE
    PERFORM "intercom".enqueue_outbox('contact_company', NEW.contact_id, NEW.company_id, 'attach', ARRAY[]::text[]);
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER contacts_touch_updated_at BEFORE UPDATE ON "intercom".contacts
  FOR EACH ROW EXECUTE FUNCTION "intercom".touch_updated_at();
--> statement-breakpoint
CREATE TRIGGER companies_touch_updated_at BEFORE UPDATE ON "intercom".companies
  FOR EACH ROW EXECUTE FUNCTION "intercom".touch_updated_at();
--> statement-breakpoint
CREATE TRIGGER contacts_capture_change AFTER INSERT OR UPDATE OR DELETE ON "intercom".contacts
  FOR EACH ROW EXECUTE FUNCTION "intercom".capture_entity_change();
--> statement-breakpoint
CREATE TRIGGER companies_capture_change AFTER INSERT OR UPDATE OR DELETE ON "intercom".companies
  FOR EACH ROW EXECUTE FUNCTION "intercom".capture_entity_change();
--> statement-breakpoint
CREATE TRIGGER contact_companies_capture_change AFTER INSERT OR DELETE ON "intercom".contact_companies
  FOR EACH ROW EXECUTE FUNCTION "intercom".capture_association_change();
