import type pg from 'pg';
import { ident } from '../migrate.ts';

type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

export interface OutboxGaugeRow {
  entity_type: string;
  status: string;
  count: number;
  oldest_age_seconds: number | null;
}

export interface StreamLagRow {
  stream: string;
  lag_seconds: number | null;
  watermark_age_seconds: number | null;
}

export interface MappingCountRow {
  entity_type: string;
  status: string;
  count: number;
}

/** The gauges /metrics reads from the database on each scrape; small aggregate queries over indexed columns. */
export function daemonMetricsQueries(schema: string) {
  const s = ident(schema);
  return {
    async outbox(db: Queryable): Promise<OutboxGaugeRow[]> {
      const { rows } = await db.query<OutboxGaugeRow>(
        `SELECT entity_type, status, count(*)::int AS count,
                extract(epoch FROM now() - min(created_at))::float8 AS oldest_age_seconds
           FROM ${s}.sync_outbox GROUP BY entity_type, status`,
      );
      return rows;
    },
    /**
     * Per pull stream: seconds since its last successful run finished (how stale our copy may be, whatever the
     * traffic) and how far its watermark trails now (large on a quiet workspace, so not an alert on its own).
     */
    async pullLag(db: Queryable): Promise<StreamLagRow[]> {
      const { rows } = await db.query<StreamLagRow>(
        `SELECT st.stream,
                (SELECT extract(epoch FROM now() - max(r.finished_at))::float8 FROM ${s}.sync_runs r
                  WHERE r.kind = 'pull_' || st.stream AND r.status = 'succeeded') AS lag_seconds,
                extract(epoch FROM now() - w.watermark)::float8 AS watermark_age_seconds
           FROM (VALUES ('contacts'), ('companies')) AS st(stream)
           LEFT JOIN ${s}.sync_state w ON w.stream = st.stream`,
      );
      return rows;
    },
    async mappings(db: Queryable): Promise<MappingCountRow[]> {
      const { rows } = await db.query<MappingCountRow>(
        `SELECT entity_type, status, count(*)::int AS count FROM ${s}.sync_mappings GROUP BY entity_type, status`,
      );
      return rows;
    },
  };
}
