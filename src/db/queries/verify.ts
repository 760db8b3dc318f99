import type pg from 'pg';
import { ident } from '../migrate.ts';
import type { VerifyStorePort } from '../../sync/verify/ports.ts';
import { withTransaction } from '../transaction.ts';
import { auditQueries } from './audit.ts';
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
  const audit = auditQueries(schema);
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
    async markArchived({ entity, mapping, runId, reason }) {
      await withTransaction(pool, async (tx) => {
        // Locked like every apply does, so a push or pull working on the same entity goes first or after, not across.
        const [current] = await mappings.byLocalIds(tx, entity, [mapping.local_id], true);
        if (!current || current.status !== 'active' || current.intercom_id !== mapping.intercom_id) return;
        await mappings.setStatus(tx, entity, mapping.local_id, 'archived', reason);
        await audit.insert(tx, [
          {
            runId,
            direction: 'pull',
            entityType: entity,
            localId: mapping.local_id,
            intercomId: mapping.intercom_id,
            externalKey: mapping.external_key,
            action: 'archive',
            details: { reason, source: 'verify' },
          },
        ]);
      });
    },
    getStream: (stream) => pullStore.getStream(stream),
    setStream: (stream, patch) => pullStore.setStream(stream, patch),
    tryAdvisoryLock: (name) => pullStore.tryAdvisoryLock(name),
  };
}
