import type pg from 'pg';
import type { WriteDoubt } from '../../sync/push/ports.ts';
import { ident } from '../migrate.ts';
import { WRITE_DOUBT_COLUMNS, type WriteDoubtRow } from '../rows.ts';

/** Reads of sync_write_doubts shared by the push store and the pull's apply transaction. */
export function writeDoubtQueries(schema: string) {
  return {
    async forEntity(
      db: Pick<pg.Pool | pg.PoolClient, 'query'>,
      entity: 'contact' | 'company',
      localId: number,
      windowSeconds: number,
    ): Promise<WriteDoubt[]> {
      return this.forEntities(db, entity, [localId], windowSeconds);
    },
    /** forEntity for many local ids in one statement (the pull's batched apply), ordered by id. */
    async forEntities(
      db: Pick<pg.Pool | pg.PoolClient, 'query'>,
      entity: 'contact' | 'company',
      localIds: readonly number[],
      windowSeconds: number,
    ): Promise<WriteDoubt[]> {
      if (localIds.length === 0) return [];
      const { rows } = await db.query<WriteDoubtRow>(writeDoubtsSelect(schema, '$1', '$2::bigint[]', '$3'), [entity, localIds, windowSeconds]);
      return rows.map(toWriteDoubt);
    },
  };
}

/**
 * The statement behind forEntities, for callers that send it with others in one round trip: `entity`, `localIds`
 * and `windowSeconds` are SQL expressions (parameters or literals) of types text, bigint[] and numeric.
 */
export function writeDoubtsSelect(schema: string, entity: string, localIds: string, windowSeconds: string): string {
  return `SELECT ${WRITE_DOUBT_COLUMNS} FROM ${ident(schema)}.sync_write_doubts
           WHERE entity_type = ${entity} AND local_id = ANY(${localIds})
             AND (op IN ('create', 'archive') OR sent_at >= now() - make_interval(secs => ${windowSeconds}))
           ORDER BY id`;
}

export function toWriteDoubt(r: WriteDoubtRow): WriteDoubt {
  return {
    id: r.id,
    // The table's CHECK constraints hold these to the two entities and three operations.
    entityType: r.entity_type as WriteDoubt['entityType'],
    localId: r.local_id,
    intercomId: r.intercom_id,
    op: r.op as WriteDoubt['op'],
    fields: r.fields,
    sentAt: r.sent_at,
  };
}
