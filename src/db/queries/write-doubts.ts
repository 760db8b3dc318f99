import type pg from 'pg';
import type { WriteDoubt } from '../../sync/push/ports.ts';
import { ident } from '../migrate.ts';

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
      const { rows } = await db.query<{
        id: string;
        entity_type: 'contact' | 'company';
        local_id: string;
        intercom_id: string | null;
        op: 'create' | 'update';
        fields: Record<string, unknown>;
        sent_at: Date;
      }>(
        `SELECT id, entity_type, local_id, intercom_id, op, fields, sent_at FROM ${t}
          WHERE entity_type = $1 AND local_id = $2 AND (op = 'create' OR sent_at >= now() - make_interval(secs => $3))
          ORDER BY id`,
        [entity, localId, windowSeconds],
      );
      return rows.map((r) => ({
        id: Number(r.id),
        entityType: r.entity_type,
        localId: Number(r.local_id),
        intercomId: r.intercom_id,
        op: r.op,
        fields: r.fields,
        sentAt: r.sent_at,
      }));
    },
  };
}
