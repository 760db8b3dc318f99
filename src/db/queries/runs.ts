import type pg from 'pg';
import { ident } from '../migrate.ts';
import type { RunKind, RunSummary } from '../../contract/run.ts';
import { storedText } from './stored-text.ts';

type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

/** sync_runs: one row per pull, push, backfill, verify or webhook run, with its counts and request cost. */
export function runQueries(schema: string) {
  const t = `${ident(schema)}.sync_runs`;
  return {
    async start(db: Queryable, kind: RunKind, details: Record<string, unknown> = {}): Promise<number> {
      const { rows } = await db.query<{ id: number }>(
        `INSERT INTO ${t} (kind, details) VALUES ($1, $2) RETURNING id`,
        [kind, details],
      );
      return rows[0]!.id;
    },
    async finish(
      db: Queryable,
      id: number,
      status: 'succeeded' | 'failed' | 'aborted' | 'halted',
      summary: RunSummary,
      error?: string,
    ): Promise<void> {
      await db.query(
        `UPDATE ${t} SET status = $2, finished_at = now(), counts = $3, requests = $4, error = $5,
                details = details || $6::jsonb
          WHERE id = $1`,
        [id, status, summary.counts, summary.requests, storedText(error), summary.details ?? {}],
      );
    },
    /**
     * Runs left 'running' by a process that died: close them so reports do not show phantom work. Only safe for a
     * caller that holds the lock its kind runs under (the leader lock for daemon runs, the backfill lock for
     * backfills), since then no live process can own them.
     */
    async abandonRunning(db: Queryable, opts: { kind?: RunKind } = {}): Promise<number> {
      const r = await db.query(
        `UPDATE ${t} SET status = 'aborted', finished_at = now(), error = 'process ended before the run finished'
          WHERE status = 'running' AND ($1::text IS NULL OR kind = $1)`,
        [opts.kind ?? null],
      );
      return r.rowCount ?? 0;
    },
  };
}
