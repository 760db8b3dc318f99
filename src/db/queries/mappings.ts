import type pg from 'pg';
import { ident } from '../migrate.ts';

type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

export type MappingEntity = 'contact' | 'company';
export type MappingStatus = 'pending' | 'active' | 'merged' | 'deleted' | 'archived' | 'conflict' | 'ambiguous';

export interface Mapping {
  id: number;
  entity_type: MappingEntity;
  local_id: number;
  intercom_id: string | null;
  external_key: string | null;
  status: MappingStatus;
  status_reason: string | null;
  merged_into: string | null;
  base_snapshot: Record<string, unknown> | null;
  base_hash: string | null;
  remote_updated_at: Date | null;
  last_synced_at: Date | null;
}

export interface MappingWrite {
  entityType: MappingEntity;
  localId: number;
  intercomId: string | null;
  externalKey: string | null;
  status: MappingStatus;
  statusReason?: string | null;
  mergedInto?: string | null;
  baseSnapshot: Record<string, unknown> | null;
  baseHash: string | null;
  remoteUpdatedAt: Date | null;
}

const COLUMNS = `id, entity_type, local_id, intercom_id, external_key, status, status_reason, merged_into,
                 base_snapshot, base_hash, remote_updated_at, last_synced_at`;

/**
 * sync_mappings: one row per synced entity, local id ⇄ Intercom id ⇄ external key, with the last snapshot both sides
 * agreed on (the base of three-way merges). The mirror column `intercom_id` on contacts/companies is kept equal by
 * `upsert` so applications can join without knowing this table; callers run it in sync-apply mode.
 */
export function mappingQueries(schema: string) {
  const t = `${ident(schema)}.sync_mappings`;
  const dataTable = (e: MappingEntity) => `${ident(schema)}.${e === 'contact' ? 'contacts' : 'companies'}`;
  return {
    async byLocalIds(db: Queryable, entity: MappingEntity, localIds: readonly number[], lock = false): Promise<Mapping[]> {
      if (localIds.length === 0) return [];
      const { rows } = await db.query<Mapping>(
        `SELECT ${COLUMNS} FROM ${t} WHERE entity_type = $1 AND local_id = ANY($2::bigint[]) ORDER BY local_id${lock ? ' FOR UPDATE' : ''}`,
        [entity, localIds],
      );
      return rows;
    },
    async byIntercomIds(db: Queryable, entity: MappingEntity, ids: readonly string[], lock = false): Promise<Mapping[]> {
      if (ids.length === 0) return [];
      const { rows } = await db.query<Mapping>(
        `SELECT ${COLUMNS} FROM ${t} WHERE entity_type = $1 AND intercom_id = ANY($2::text[]) ORDER BY local_id${lock ? ' FOR UPDATE' : ''}`,
        [entity, ids],
      );
      return rows;
    },
    async byExternalKeys(db: Queryable, entity: MappingEntity, keys: readonly string[], lock = false): Promise<Mapping[]> {
      if (keys.length === 0) return [];
      const { rows } = await db.query<Mapping>(
        `SELECT ${COLUMNS} FROM ${t} WHERE entity_type = $1 AND external_key = ANY($2::text[]) ORDER BY local_id${lock ? ' FOR UPDATE' : ''}`,
        [entity, keys],
      );
      return rows;
    },
    /** Creates or replaces the mapping of one local entity and mirrors the Intercom id onto the data row. */
    async upsert(db: Pick<pg.PoolClient, 'query'>, m: MappingWrite): Promise<Mapping> {
      // Another local row may still claim this Intercom id (e.g. a lead merged into this user): release it first.
      if (m.intercomId) {
        await db.query(
          `UPDATE ${t} SET intercom_id = NULL, status = CASE WHEN status = 'active' THEN 'merged' ELSE status END,
                  merged_into = coalesce(merged_into, $3), updated_at = now()
            WHERE entity_type = $1 AND intercom_id = $3 AND local_id <> $2`,
          [m.entityType, m.localId, m.intercomId],
        );
      }
      const { rows } = await db.query<Mapping>(
        `INSERT INTO ${t} (entity_type, local_id, intercom_id, external_key, status, status_reason, merged_into,
                           base_snapshot, base_hash, remote_updated_at, last_synced_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now())
         ON CONFLICT (entity_type, local_id) DO UPDATE SET
           intercom_id = EXCLUDED.intercom_id, external_key = EXCLUDED.external_key, status = EXCLUDED.status,
           status_reason = EXCLUDED.status_reason, merged_into = EXCLUDED.merged_into,
           base_snapshot = EXCLUDED.base_snapshot, base_hash = EXCLUDED.base_hash,
           remote_updated_at = EXCLUDED.remote_updated_at, last_synced_at = now(), updated_at = now()
         RETURNING ${COLUMNS}`,
        [
          m.entityType,
          m.localId,
          m.intercomId,
          m.externalKey,
          m.status,
          m.statusReason ?? null,
          m.mergedInto ?? null,
          m.baseSnapshot === null ? null : JSON.stringify(m.baseSnapshot),
          m.baseHash,
          m.remoteUpdatedAt,
        ],
      );
      await db.query(
        `UPDATE ${dataTable(m.entityType)} SET intercom_id = $2, remote_updated_at = $3
          WHERE id = $1 AND (intercom_id IS DISTINCT FROM $2 OR remote_updated_at IS DISTINCT FROM $3)`,
        [m.localId, m.status === 'active' ? m.intercomId : null, m.remoteUpdatedAt],
      );
      return rows[0]!;
    },
    async setStatus(
      db: Queryable,
      entity: MappingEntity,
      localId: number,
      status: MappingStatus,
      reason: string | null,
      mergedInto: string | null = null,
    ): Promise<void> {
      await db.query(
        `UPDATE ${t} SET status = $3, status_reason = $4, merged_into = coalesce($5, merged_into), updated_at = now()
          WHERE entity_type = $1 AND local_id = $2`,
        [entity, localId, status, reason, mergedInto],
      );
    },
  };
}
