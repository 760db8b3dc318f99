import type pg from 'pg';
import { tryAdvisoryLock } from '../advisory-lock.ts';
import { ident } from '../migrate.ts';
import type { BackfillStorePort } from '../../sync/backfill/ports.ts';
import type { PushStorePort } from '../../sync/push/ports.ts';
import { runQueries } from './runs.ts';

/** Bookkeeping for `intercom-sync backfill`: its lock, its sync_runs rows, and outbox depth for progress. */
export function createBackfillStore(pool: pg.Pool, schema: string, outbox: Pick<PushStorePort, 'enqueueUnlinked'>): BackfillStorePort {
  const s = ident(schema);
  const runs = runQueries(schema);
  const entityTypes = (e: 'contact' | 'company' | undefined) =>
    e === 'contact' ? ['contact', 'contact_company'] : e === 'company' ? ['company'] : ['contact', 'company', 'contact_company'];
  return {
    tryLock: () => tryAdvisoryLock(pool, `intercom-sync:backfill:${schema}`),
    abandonRunning: () => runs.abandonRunning(pool, { kind: 'backfill' }),
    startRun: (details) => runs.start(pool, 'backfill', details),
    async markPhaseDone(runId, phase) {
      await pool.query(
        `UPDATE ${s}.sync_runs
            SET details = jsonb_set(coalesce(details, '{}'::jsonb), '{phases_done}',
                                    coalesce(details->'phases_done', '[]'::jsonb) || to_jsonb($2::text))
          WHERE id = $1`,
        [runId, phase],
      );
    },
    async phasesDoneByInterruptedRun(scope) {
      // Only the latest backfill counts, and only if it ended without finishing and covered the same ground.
      const { rows } = await pool.query<{ status: string; details: Record<string, unknown> | null }>(
        `SELECT status, details FROM ${s}.sync_runs WHERE kind = 'backfill' ORDER BY id DESC LIMIT 1`,
      );
      const last = rows[0];
      if (!last || (last.status !== 'aborted' && last.status !== 'failed')) return [];
      if (last.details?.entity !== scope.entity || last.details?.direction !== scope.direction) return [];
      const done = last.details?.phases_done;
      return Array.isArray(done) ? done.filter((p): p is string => typeof p === 'string') : [];
    },
    finishRun: (id, status, summary, error) => runs.finish(pool, id, status, summary, error),
    enqueueUnlinked: (entity) => outbox.enqueueUnlinked(entity ? { entity } : {}),
    async outboxPending(entity) {
      const { rows } = await pool.query<{ pending: number; due: number }>(
        `SELECT count(*)::int AS pending, (count(*) FILTER (WHERE next_attempt_at <= now()))::int AS due
           FROM ${s}.sync_outbox WHERE status = 'pending' AND entity_type = ANY($1::text[])`,
        [entityTypes(entity)],
      );
      return rows[0] ?? { pending: 0, due: 0 };
    },
  };
}
