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

/** audit_log is append-only: one multi-row INSERT per batch, inside the caller's transaction. */
export function auditQueries(schema: string) {
  const t = `${ident(schema)}.audit_log`;
  return {
    async insert(db: Pick<pg.PoolClient, 'query'>, entries: readonly AuditEntry[]): Promise<void> {
      if (entries.length === 0) return;
      const values: unknown[] = [];
      const tuples = entries.map((e, i) => {
        values.push(
          e.runId,
          e.direction,
          e.entityType,
          e.localId,
          e.intercomId,
          e.externalKey,
          e.action,
          JSON.stringify(e.changes ?? {}),
          e.requestId ?? null,
          e.details ? JSON.stringify(e.details) : null,
        );
        const b = i * 10;
        return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7}, $${b + 8}::jsonb, $${b + 9}, $${b + 10}::jsonb)`;
      });
      await db.query(
        `INSERT INTO ${t} (run_id, direction, entity_type, local_id, intercom_id, external_key, action, changes, request_id, details)
         VALUES ${tuples.join(', ')}`,
        values,
      );
    },
  };
}
