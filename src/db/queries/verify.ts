import type pg from 'pg';
import { ident } from '../migrate.ts';
import type { VerifyStorePort } from '../../sync/verify/ports.ts';
import { mappingQueries, type MappingEntity } from './mappings.ts';
import { createPullStore } from './pull.ts';

/**
 * The drift sweep's store. Stream state, stale-mapping lookups and the scroll lock are the pull store's own, so the
 * sweep and the pull agree on what "seen" means and take the very same advisory lock around a company scroll.
 */
export function createVerifyStore(pool: pg.Pool, schema: string): VerifyStorePort {
  const s = ident(schema);
  const pullStore = createPullStore(pool, schema);
  const mappings = mappingQueries(schema);
  return {
    async now() {
      const { rows } = await pool.query<{ now: Date }>('SELECT now() AS now');
      return rows[0]!.now;
    },
    mappingsByIntercomIds: (entity, ids) => mappings.byIntercomIds(pool, entity, ids),
    async touchMappings(entity: MappingEntity, ids) {
      if (ids.length === 0) return;
      await pool.query(
        `UPDATE ${s}.sync_mappings SET last_synced_at = now() WHERE entity_type = $1 AND intercom_id = ANY($2::text[])`,
        [entity, ids],
      );
    },
    staleActiveMappings: (entity, since, limit) => pullStore.staleActiveMappings(entity, since, limit),
    async countActiveMappings(entity) {
      const { rows } = await pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${s}.sync_mappings WHERE entity_type = $1 AND status = 'active' AND intercom_id IS NOT NULL`,
        [entity],
      );
      return rows[0]?.n ?? 0;
    },
    getStream: (stream) => pullStore.getStream(stream),
    setStream: (stream, patch) => pullStore.setStream(stream, patch),
    tryAdvisoryLock: (name) => pullStore.tryAdvisoryLock(name),
  };
}
