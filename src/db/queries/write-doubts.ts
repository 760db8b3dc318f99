import type pg from 'pg';
import type { WriteDoubt } from '../../sync/push/ports.ts';
import { ident } from '../migrate.ts';
import { WRITE_DOUBT_COLUMNS, type WriteDoubtRow } from '../rows.ts';

/** Reads of sync_write_doubts shared by the push store and the pull's apply transaction. */
export function writeDoubtQueries(schema: string) {
  const t = `${ident(schema)}.sync_write_doubts`;
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
      const { rows } = await db.query<WriteDoubtRow>(
        `SELECT ${WRITE_DOUBT_COLUMNS} FROM ${t}
          WHERE entity_type = $1 AND local_id = ANY($2::bigint[]) AND (op = 'create' OR sent_at >= now() - make_interval(secs => $3))
          ORDER BY id`,
        [entity, localIds, windowSeconds],
      );
      return rows.map((r) => ({
        id: r.id,
        // The table's CHECK constraints hold these to the two entities and two operations.
        entityType: r.entity_type as WriteDoubt['entityType'],
        localId: r.local_id,
        intercomId: r.intercom_id,
        op: r.op as WriteDoubt['op'],
        fields: r.fields,
        sentAt: r.sent_at,
      }));
    },
  };
}
