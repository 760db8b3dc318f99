import type pg from 'pg';
import { ident } from '../migrate.ts';
import { storedJson } from './stored-text.ts';

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
      await db.query(auditInsertSql(t, 1, null), auditColumns(entries));
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
    entries.map((e) => storedJson(e.details)),
  ];
}

/**
 * The INSERT behind auditQueries' insert, reading the ten auditColumns arrays from parameters $first..$first+9.
 * `fillFrom` names a relation (id, intercom_id), e.g. rows a sibling CTE just inserted: entries with a null local id
 * take the id of the row with their Intercom id.
 */
export function auditInsertSql(table: string, first: number, fillFrom: string | null): string {
  const p = (i: number) => `$${first + i}`;
  return `INSERT INTO ${table} (run_id, direction, entity_type, local_id, intercom_id, external_key, action, changes, request_id, details)
          SELECT e.run_id, e.direction, e.entity_type, ${fillFrom ? `coalesce(e.local_id, f.id)` : 'e.local_id'}, e.intercom_id,
                 e.external_key, e.action, e.changes::jsonb, e.request_id, e.details::jsonb
            FROM unnest(${p(0)}::bigint[], ${p(1)}::text[], ${p(2)}::text[], ${p(3)}::bigint[], ${p(4)}::text[], ${p(5)}::text[],
                        ${p(6)}::text[], ${p(7)}::text[], ${p(8)}::text[], ${p(9)}::text[])
                 WITH ORDINALITY AS e(run_id, direction, entity_type, local_id, intercom_id, external_key, action, changes,
                                      request_id, details, n)
            ${fillFrom ? `LEFT JOIN ${fillFrom} f ON e.local_id IS NULL AND f.intercom_id = e.intercom_id` : ''}
           ORDER BY e.n`;
}
