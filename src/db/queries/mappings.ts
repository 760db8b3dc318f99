import type pg from 'pg';
import { ident } from '../migrate.ts';
import { MAPPING_COLUMNS, type MappingRow } from '../rows.ts';
import { storedText } from './stored-text.ts';
import type { MappingEntity, MappingStatus } from '../schema.ts';
import { snapshotSchemas, type SnapshotByEntity } from '../../contract/snapshot.ts';

type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

export type { MappingEntity, MappingStatus };

/** A sync_mappings row whose base is the snapshot type of its entity (checked when the row is read). */
export type Mapping<E extends MappingEntity = MappingEntity> = Omit<MappingRow, 'entity_type' | 'base_snapshot'> & {
  entity_type: E;
  base_snapshot: SnapshotByEntity[E] | null;
};

/** A mapping linked to an Intercom record: what look-ups by Intercom id, and the active-mapping sweeps, return. */
export type LinkedMapping<E extends MappingEntity = MappingEntity> = Mapping<E> & { intercom_id: string };

export interface MappingWrite<E extends MappingEntity = MappingEntity> {
  entityType: E;
  localId: number;
  intercomId: string | null;
  externalKey: string | null;
  status: MappingStatus;
  statusReason?: string | null;
  mergedInto?: string | null;
  baseSnapshot: SnapshotByEntity[E] | null;
  baseHash: string | null;
  remoteUpdatedAt: Date | null;
}

/**
 * The read boundary of the base snapshot: jsonb comes back as whatever was stored, so it is parsed with the
 * entity's schema here, once, and the sync core works with typed snapshots. A base that does not parse is a broken
 * invariant (only this module writes it, from typed snapshots), so it fails loudly with the mapping's ids.
 */
export function toMapping<E extends MappingEntity>(entity: E, row: MappingRow): Mapping<E> {
  if (row.entity_type !== entity) throw new Error(`mapping ${row.id} is a ${row.entity_type} mapping, not a ${entity} one`);
  if (row.base_snapshot === null) return { ...row, entity_type: entity, base_snapshot: null };
  const parsed = snapshotSchemas[entity].safeParse(row.base_snapshot);
  if (!parsed.success) {
    throw new Error(
      `sync_mappings ${row.id} (${entity} ${row.local_id}, Intercom ${row.intercom_id ?? 'none'}): stored base snapshot ` +
        `does not match the ${entity} snapshot schema: ${parsed.error.message}`,
    );
  }
  return { ...row, entity_type: entity, base_snapshot: parsed.data };
}

/** Rows selected WHERE intercom_id matched (or IS NOT NULL): linked by construction, checked rather than asserted. */
export function toLinkedMapping<E extends MappingEntity>(entity: E, row: MappingRow): LinkedMapping<E> {
  const { intercom_id } = row;
  if (intercom_id === null) throw new Error(`sync_mappings ${row.id} was selected as linked but has no intercom_id`);
  return { ...toMapping(entity, row), intercom_id };
}

/**
 * sync_mappings: one row per synced entity, local id ⇄ Intercom id ⇄ external key, with the last snapshot both sides
 * agreed on (the base of three-way merges). The mirror column `intercom_id` on contacts/companies is kept equal by
 * `upsert` so applications can join without knowing this table; callers run it in sync-apply mode.
 */
export function mappingQueries(schema: string) {
  const t = `${ident(schema)}.sync_mappings`;
  const dataTable = (e: MappingEntity) => `${ident(schema)}.${e === 'contact' ? 'contacts' : 'companies'}`;
  return {
    async byLocalIds<E extends MappingEntity>(db: Queryable, entity: E, localIds: readonly number[], lock = false): Promise<Mapping<E>[]> {
      if (localIds.length === 0) return [];
      const { rows } = await db.query<MappingRow>(
        `SELECT ${MAPPING_COLUMNS} FROM ${t} WHERE entity_type = $1 AND local_id = ANY($2::bigint[]) ORDER BY local_id${lock ? ' FOR UPDATE' : ''}`,
        [entity, localIds],
      );
      return rows.map((r) => toMapping(entity, r));
    },
    async byIntercomIds<E extends MappingEntity>(
      db: Queryable,
      entity: E,
      ids: readonly string[],
      lock = false,
    ): Promise<LinkedMapping<E>[]> {
      if (ids.length === 0) return [];
      const { rows } = await db.query<MappingRow>(
        `SELECT ${MAPPING_COLUMNS} FROM ${t} WHERE entity_type = $1 AND intercom_id = ANY($2::text[]) ORDER BY local_id${lock ? ' FOR UPDATE' : ''}`,
        [entity, ids],
      );
      return rows.map((r) => toLinkedMapping(entity, r));
    },
    async byExternalKeys<E extends MappingEntity>(db: Queryable, entity: E, keys: readonly string[], lock = false): Promise<Mapping<E>[]> {
      if (keys.length === 0) return [];
      const { rows } = await db.query<MappingRow>(
        `SELECT ${MAPPING_COLUMNS} FROM ${t} WHERE entity_type = $1 AND external_key = ANY($2::text[]) ORDER BY local_id${lock ? ' FOR UPDATE' : ''}`,
        [entity, keys],
      );
      return rows.map((r) => toMapping(entity, r));
    },
    /** Creates or replaces the mapping of one local entity and mirrors the Intercom id onto the data row. */
    async upsert<E extends MappingEntity>(db: Pick<pg.PoolClient, 'query'>, m: MappingWrite<E>): Promise<Mapping<E>> {
      // Another local row may still claim this Intercom id (e.g. a lead merged into this user): release it first.
      if (m.intercomId) {
        await db.query(
          `UPDATE ${t} SET intercom_id = NULL, status = CASE WHEN status = 'active' THEN 'merged' ELSE status END,
                  merged_into = coalesce(merged_into, $3), updated_at = now()
            WHERE entity_type = $1 AND intercom_id = $3 AND local_id <> $2`,
          [m.entityType, m.localId, m.intercomId],
        );
      }
      const { rows } = await db.query<MappingRow>(
        `INSERT INTO ${t} (entity_type, local_id, intercom_id, external_key, status, status_reason, merged_into,
                           base_snapshot, base_hash, remote_updated_at, last_synced_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now())
         ON CONFLICT (entity_type, local_id) DO UPDATE SET
           intercom_id = EXCLUDED.intercom_id, external_key = EXCLUDED.external_key, status = EXCLUDED.status,
           status_reason = EXCLUDED.status_reason, merged_into = EXCLUDED.merged_into,
           base_snapshot = EXCLUDED.base_snapshot, base_hash = EXCLUDED.base_hash,
           remote_updated_at = EXCLUDED.remote_updated_at, last_synced_at = now(), updated_at = now()
         RETURNING ${MAPPING_COLUMNS}`,
        [
          m.entityType,
          m.localId,
          m.intercomId,
          m.externalKey,
          m.status,
          storedText(m.statusReason),
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
      const row = rows[0];
      if (!row) throw new Error(`upsert of the ${m.entityType} ${m.localId} mapping returned no row`);
      return toMapping(m.entityType, row);
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
        [entity, localId, status, storedText(reason), mergedInto],
      );
    },
  };
}
