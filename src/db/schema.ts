import { sql } from 'drizzle-orm';
import { EMAIL_REFUSED_CLASS_SQL, EMAIL_SHAPE_PATTERN } from '../email-shape.ts';
import {
  bigint,
  bigserial,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgSchema,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import type { CompanySnapshot, ContactSnapshot } from '../contract/snapshot.ts';

// The value sets the check constraints below allow, as TypeScript types: `$type` narrows the inferred row types
// (src/db/rows.ts) without changing the generated SQL.
export type MappingEntity = 'contact' | 'company';
export type MappingStatus = 'pending' | 'active' | 'merged' | 'deleted' | 'archived' | 'conflict' | 'ambiguous';
export type OutboxEntity = 'contact' | 'company' | 'contact_company';
export type OutboxOp = 'upsert' | 'delete' | 'attach' | 'detach';

/**
 * The tables live in one Postgres schema whose name is configurable (SYNC_SCHEMA). Drizzle binds a schema name
 * at definition time, so the tables are built by a factory; `intercomTables` is the default instance that
 * drizzle-kit reads to generate migrations (which the migrator re-targets to the configured schema).
 */
export const DEFAULT_SCHEMA = 'intercom';

// Generic in the name so the column's SQL name stays a literal type (rows.ts keys row types by it).
const tz = <N extends string>(name: N) => timestamp(name, { withTimezone: true, mode: 'date' });

export function defineTables(schemaName: string) {
  const s = pgSchema(schemaName);

  // ---- The product's interface: applications read and write these with plain SQL. ----
  const contacts = s.table(
    'contacts',
    {
      id: bigint('id', { mode: 'number' }).primaryKey().generatedByDefaultAsIdentity(),
      externalId: text('external_id'),
      role: text('role').notNull().default('user'),
      email: text('email'),
      phone: text('phone'),
      name: text('name'),
      avatar: text('avatar'),
      ownerId: bigint('owner_id', { mode: 'number' }),
      unsubscribedFromEmails: boolean('unsubscribed_from_emails').notNull().default(false),
      customAttributes: jsonb('custom_attributes').$type<Record<string, unknown>>().notNull().default({}),
      signedUpAt: tz('signed_up_at'),
      lastSeenAt: tz('last_seen_at'),
      /** Set by the application to ask for a lead → user merge in Intercom (the local id of the user row). */
      mergeIntoId: bigint('merge_into_id', { mode: 'number' }),
      /** Maintained by intercom-sync; read-only for applications. */
      intercomId: text('intercom_id'),
      remoteCreatedAt: tz('remote_created_at'),
      remoteUpdatedAt: tz('remote_updated_at'),
      createdAt: tz('created_at').notNull().defaultNow(),
      updatedAt: tz('updated_at').notNull().defaultNow(),
      deletedAt: tz('deleted_at'),
    },
    (t) => [
      uniqueIndex('contacts_external_id_key').on(t.externalId),
      uniqueIndex('contacts_intercom_id_key').on(t.intercomId),
      index('contacts_email_idx').on(t.email),
      // Leads and users without an external_id are linked by email, compared case-insensitively; without this the
      // look-up scans the table once per page (measured: a 1,000,000-contact backfill fell to ~700 contacts/s).
      index('contacts_unkeyed_email_idx')
        .on(sql`lower(${t.email})`)
        .where(sql`${t.externalId} is null and ${t.deletedAt} is null`),
      check('contacts_role_check', sql`${t.role} in ('user', 'lead')`),
      check(
        'contacts_email_format_check',
        // The refused characters are spelled out rather than [:space:] or [:cntrl:], whose members depend on the
        // database's locale; the push validator reads the same definition (src/email-shape.ts).
        sql`${t.email} is null or (${t.email} ~ '${sql.raw(EMAIL_SHAPE_PATTERN)}' and ${t.email} !~ '${sql.raw(EMAIL_REFUSED_CLASS_SQL)}')`,
      ),
      check('contacts_external_id_not_blank_check', sql`${t.externalId} is null or btrim(${t.externalId}) <> ''`),
      check('contacts_custom_attributes_object_check', sql`jsonb_typeof(${t.customAttributes}) = 'object'`),
      check('contacts_merge_into_not_self_check', sql`${t.mergeIntoId} is null or ${t.mergeIntoId} <> ${t.id}`),
    ],
  );

  const companies = s.table(
    'companies',
    {
      id: bigint('id', { mode: 'number' }).primaryKey().generatedByDefaultAsIdentity(),
      companyId: text('company_id').notNull(),
      name: text('name'),
      plan: text('plan'),
      size: integer('size'),
      website: text('website'),
      industry: text('industry'),
      monthlySpend: bigint('monthly_spend', { mode: 'number' }),
      customAttributes: jsonb('custom_attributes').$type<Record<string, unknown>>().notNull().default({}),
      remoteCreatedAt: tz('remote_created_at'),
      intercomId: text('intercom_id'),
      remoteUpdatedAt: tz('remote_updated_at'),
      createdAt: tz('created_at').notNull().defaultNow(),
      updatedAt: tz('updated_at').notNull().defaultNow(),
      deletedAt: tz('deleted_at'),
    },
    (t) => [
      uniqueIndex('companies_company_id_key').on(t.companyId),
      uniqueIndex('companies_intercom_id_key').on(t.intercomId),
      check('companies_company_id_not_blank_check', sql`btrim(${t.companyId}) <> ''`),
      check('companies_size_check', sql`${t.size} is null or ${t.size} >= 0`),
      check(
        'companies_monthly_spend_check',
        sql`${t.monthlySpend} is null or (${t.monthlySpend} >= 0 and ${t.monthlySpend} <= 2147483647)`,
      ),
      check('companies_custom_attributes_object_check', sql`jsonb_typeof(${t.customAttributes}) = 'object'`),
    ],
  );

  const contactCompanies = s.table(
    'contact_companies',
    {
      contactId: bigint('contact_id', { mode: 'number' })
        .notNull()
        .references(() => contacts.id, { onDelete: 'cascade' }),
      companyId: bigint('company_id', { mode: 'number' })
        .notNull()
        .references(() => companies.id, { onDelete: 'cascade' }),
      createdAt: tz('created_at').notNull().defaultNow(),
    },
    (t) => [primaryKey({ name: 'contact_companies_pkey', columns: [t.contactId, t.companyId] }), index('contact_companies_company_idx').on(t.companyId)],
  );

  // ---- Sync state: owned by intercom-sync. ----
  const syncMappings = s.table(
    'sync_mappings',
    {
      id: bigserial('id', { mode: 'number' }).primaryKey(),
      entityType: text('entity_type').$type<MappingEntity>().notNull(),
      localId: bigint('local_id', { mode: 'number' }).notNull(),
      intercomId: text('intercom_id'),
      externalKey: text('external_key'),
      status: text('status').$type<MappingStatus>().notNull().default('active'),
      statusReason: text('status_reason'),
      mergedInto: text('merged_into'),
      /** Parsed where it is read (mappingQueries): the type is only as good as that parse. */
      baseSnapshot: jsonb('base_snapshot').$type<ContactSnapshot | CompanySnapshot>(),
      baseHash: text('base_hash'),
      remoteUpdatedAt: tz('remote_updated_at'),
      lastSyncedAt: tz('last_synced_at'),
      createdAt: tz('created_at').notNull().defaultNow(),
      updatedAt: tz('updated_at').notNull().defaultNow(),
    },
    (t) => [
      uniqueIndex('sync_mappings_local_key').on(t.entityType, t.localId),
      uniqueIndex('sync_mappings_intercom_key').on(t.entityType, t.intercomId),
      index('sync_mappings_external_idx').on(t.entityType, t.externalKey),
      check('sync_mappings_entity_type_check', sql`${t.entityType} in ('contact', 'company')`),
      check(
        'sync_mappings_status_check',
        sql`${t.status} in ('pending', 'active', 'merged', 'deleted', 'archived', 'conflict', 'ambiguous')`,
      ),
    ],
  );

  const syncOutbox = s.table(
    'sync_outbox',
    {
      id: bigserial('id', { mode: 'number' }).primaryKey(),
      entityType: text('entity_type').$type<OutboxEntity>().notNull(),
      localId: bigint('local_id', { mode: 'number' }).notNull(),
      /** For contact_company rows: the local company id (local_id is the contact). 0 otherwise. */
      relatedId: bigint('related_id', { mode: 'number' }).notNull().default(0),
      op: text('op').$type<OutboxOp>().notNull(),
      status: text('status').notNull().default('pending'),
      changedFields: text('changed_fields').array().notNull().default(sql`'{}'::text[]`),
      /** Bumped on every coalesced change, so a worker that read an older version never deletes a newer one. */
      version: integer('version').notNull().default(1),
      attempts: integer('attempts').notNull().default(0),
      nextAttemptAt: tz('next_attempt_at').notNull().defaultNow(),
      lockedBy: text('locked_by'),
      lockedUntil: tz('locked_until'),
      lastError: text('last_error'),
      lastErrorDetails: jsonb('last_error_details'),
      createdAt: tz('created_at').notNull().defaultNow(),
      updatedAt: tz('updated_at').notNull().defaultNow(),
    },
    (t) => [
      uniqueIndex('sync_outbox_pending_key')
        .on(t.entityType, t.localId, t.relatedId)
        .where(sql`${t.status} = 'pending'`),
      index('sync_outbox_due_idx').on(t.nextAttemptAt).where(sql`${t.status} = 'pending'`),
      check('sync_outbox_entity_type_check', sql`${t.entityType} in ('contact', 'company', 'contact_company')`),
      check('sync_outbox_op_check', sql`${t.op} in ('upsert', 'delete', 'attach', 'detach')`),
      check('sync_outbox_status_check', sql`${t.status} in ('pending', 'dead')`),
    ],
  );

  /**
   * Writes to Intercom whose outcome we do not know (docs/guarantees.md, "Writes in doubt"). A row is committed before
   * the request is sent and deleted in the transaction that records its answer; a row that outlives its request
   * (timeout, dropped connection, 5xx, a crash) is a write Intercom may have applied, or may still apply later.
   * Creates in doubt are resolved by lookup before any new create; updates in doubt let the pull recognise our own
   * late-applied value as an echo instead of a remote edit; an archive in doubt is undone (unarchive) if the row is
   * live when it is next pushed.
   */
  const syncWriteDoubts = s.table(
    'sync_write_doubts',
    {
      id: bigserial('id', { mode: 'number' }).primaryKey(),
      entityType: text('entity_type').notNull(),
      localId: bigint('local_id', { mode: 'number' }).notNull(),
      /** null for a create: the id is what is in doubt. */
      intercomId: text('intercom_id'),
      op: text('op').notNull(),
      /** The fields as sent, in snapshot form (custom_attributes: only the keys sent). */
      fields: jsonb('fields').$type<Record<string, unknown>>().notNull(),
      sentAt: tz('sent_at').notNull().defaultNow(),
    },
    (t) => [
      index('sync_write_doubts_entity_idx').on(t.entityType, t.localId),
      check('sync_write_doubts_entity_type_check', sql`${t.entityType} in ('contact', 'company')`),
      check('sync_write_doubts_op_check', sql`${t.op} in ('create', 'update', 'archive')`),
    ],
  );

  const syncState = s.table('sync_state', {
    stream: text('stream').primaryKey(),
    watermark: tz('watermark'),
    cursor: text('cursor'),
    details: jsonb('details').$type<Record<string, unknown>>().notNull().default({}),
    updatedAt: tz('updated_at').notNull().defaultNow(),
  });

  const syncRuns = s.table(
    'sync_runs',
    {
      id: bigserial('id', { mode: 'number' }).primaryKey(),
      kind: text('kind').notNull(),
      status: text('status').notNull().default('running'),
      startedAt: tz('started_at').notNull().defaultNow(),
      finishedAt: tz('finished_at'),
      counts: jsonb('counts').$type<Record<string, number>>().notNull().default({}),
      requests: integer('requests').notNull().default(0),
      error: text('error'),
      details: jsonb('details').$type<Record<string, unknown>>().notNull().default({}),
    },
    (t) => [
      index('sync_runs_kind_started_idx').on(t.kind, t.startedAt),
      // 'halted': the run could not work because Intercom refused the access token. Neither 'failed' nor 'succeeded':
      // nothing was attempted, and the run resumes by itself once the token is accepted (README, "A token refused
      // everywhere").
      check('sync_runs_status_check', sql`${t.status} in ('running', 'succeeded', 'failed', 'aborted', 'halted')`),
    ],
  );

  const auditLog = s.table(
    'audit_log',
    {
      id: bigserial('id', { mode: 'number' }).primaryKey(),
      at: tz('at').notNull().defaultNow(),
      runId: bigint('run_id', { mode: 'number' }),
      direction: text('direction').notNull(),
      entityType: text('entity_type').notNull(),
      localId: bigint('local_id', { mode: 'number' }),
      intercomId: text('intercom_id'),
      externalKey: text('external_key'),
      action: text('action').notNull(),
      changes: jsonb('changes').$type<Record<string, { before: unknown; after: unknown }>>().notNull().default({}),
      requestId: text('request_id'),
      details: jsonb('details').$type<Record<string, unknown>>(),
    },
    (t) => [
      index('audit_log_at_idx').on(t.at),
      index('audit_log_entity_idx').on(t.entityType, t.localId),
      check('audit_log_direction_check', sql`${t.direction} in ('pull', 'push', 'local')`),
    ],
  );

  const apiUsage = s.table(
    'api_usage',
    {
      hour: tz('hour').notNull(),
      endpoint: text('endpoint').notNull(),
      status: integer('status').notNull(),
      priority: text('priority').notNull(),
      requests: integer('requests').notNull().default(0),
      totalMs: bigint('total_ms', { mode: 'number' }).notNull().default(0),
    },
    (t) => [primaryKey({ name: 'api_usage_pkey', columns: [t.hour, t.endpoint, t.status, t.priority] })],
  );

  /**
   * What Intercom refuses us right now: one row per endpoint refused for a missing permission, and '*' while the
   * token itself is refused. Written by the gateway's observer (src/engines.ts), read by `status` and `report errors`.
   */
  const intercomAccess = s.table('intercom_access', {
    endpoint: text('endpoint').primaryKey(),
    status: integer('status'),
    code: text('code'),
    permission: text('permission'),
    message: text('message').notNull(),
    requestId: text('request_id'),
    since: tz('since').notNull(),
    lastSeenAt: tz('last_seen_at').notNull(),
    nextProbeAt: tz('next_probe_at'),
  });

  /**
   * One row per UTC minute for the status page's 24-hour charts: Intercom requests and 429s (added by every replica's
   * API usage recorder) and the outbox depth sampled once a minute. Pruned after two days
   * by the recorder that writes it (src/db/queries/status.ts), so it stays at a few thousand rows.
   */
  const statusSamples = s.table('status_samples', {
    minute: tz('minute').primaryKey(),
    requests: integer('requests').notNull().default(0),
    rateLimited: integer('rate_limited').notNull().default(0),
    outboxDepth: integer('outbox_depth'),
    deadLetters: integer('dead_letters'),
  });

  return {
    contacts,
    companies,
    contactCompanies,
    syncMappings,
    syncOutbox,
    syncWriteDoubts,
    syncState,
    syncRuns,
    auditLog,
    apiUsage,
    statusSamples,
    intercomAccess,
  };
}

const defaults = defineTables(DEFAULT_SCHEMA);
export const intercomSchema = pgSchema(DEFAULT_SCHEMA);
export const {
  contacts,
  companies,
  contactCompanies,
  syncMappings,
  syncOutbox,
  syncWriteDoubts,
  syncState,
  syncRuns,
  auditLog,
  apiUsage,
  intercomAccess,
  statusSamples,
} = defaults;
