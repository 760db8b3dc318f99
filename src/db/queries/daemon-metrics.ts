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
    /** How far each incremental pull's watermark trails the clock. */
    async pullLag(db: Queryable): Promise<StreamLagRow[]> {
      const { rows } = await db.query<StreamLagRow>(
        `SELECT stream, extract(epoch FROM now() - watermark)::float8 AS lag_seconds
           FROM ${s}.sync_state WHERE stream IN ('contacts', 'companies')`,
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
