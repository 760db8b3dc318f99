import type pg from 'pg';
import { ident } from '../migrate.ts';

export interface AuditEntry {
  runId: number | null;
  direction: 'pull' | 'push' | 'local';
  entityType: 'contact' | 'company' | 'contact_company';
  localId: number | null;
  intercomId: string | null;
  externalKey: string | null;
  /** create | update | delete | archive | unarchive | merge | link | relink | conflict | attach | detach | invalid | dead | requeue */
  action: string;
  changes?: Record<string, { before: unknown; after: unknown }>;
  requestId?: string | null;
  details?: Record<string, unknown> | null;
}

/**
 * audit_log is append-only: one INSERT per batch, inside the caller's transaction. The rows travel as one array per
 * column, so the statement's text and its 10 parameters are the same for any number of rows (a VALUES list would
 * be parsed and planned anew with 1,500 parameters for a page of 150).
 */
export function auditQueries(schema: string) {
  const t = `${ident(schema)}.audit_log`;
  return {
    async insert(db: Pick<pg.PoolClient, 'query'>, entries: readonly AuditEntry[]): Promise<void> {
      if (entries.length === 0) return;
      await db.query(
        `INSERT INTO ${t} (run_id, direction, entity_type, local_id, intercom_id, external_key, action, changes, request_id, details)
         SELECT run_id, direction, entity_type, local_id, intercom_id, external_key, action, changes::jsonb, request_id, details::jsonb
           FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[],
                       $9::text[], $10::text[])
                WITH ORDINALITY AS e(run_id, direction, entity_type, local_id, intercom_id, external_key, action, changes,
                                     request_id, details, n)
          ORDER BY n`,
        auditColumns(entries),
      );
    },
  };
}

/** The ten column arrays of auditQueries' insert, in its parameter order (ids are assigned in the entries' order). */
export function auditColumns(entries: readonly AuditEntry[]): unknown[][] {
  return [
    entries.map((e) => e.runId),
    entries.map((e) => e.direction),
    entries.map((e) => e.entityType),
    entries.map((e) => e.localId),
    entries.map((e) => e.intercomId),
    entries.map((e) => e.externalKey),
    entries.map((e) => e.action),
    entries.map((e) => JSON.stringify(e.changes ?? {})),
    entries.map((e) => e.requestId ?? null),
    entries.map((e) => (e.details ? JSON.stringify(e.details) : null)),
  ];
}
