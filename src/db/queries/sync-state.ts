import type pg from 'pg';
import { ident } from '../migrate.ts';

type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

export interface StreamState {
  stream: string;
  watermark: Date | null;
  cursor: string | null;
  details: Record<string, unknown>;
  /** When the row was last written (the database's clock). */
  updated_at: Date;
}

/** sync_state: one row per stream (watermarks for incremental pulls, cursors for resumable full pulls). */
export function syncStateQueries(schema: string) {
  const t = `${ident(schema)}.sync_state`;
  return {
    async get(db: Queryable, stream: string): Promise<StreamState | null> {
      const { rows } = await db.query<StreamState>(`SELECT stream, watermark, cursor, details, updated_at FROM ${t} WHERE stream = $1`, [stream]);
      return rows[0] ?? null;
    },
    /** Every stream whose name starts with `prefix` (the partitions of a partitioned pull). */
    async list(db: Queryable, prefix: string): Promise<StreamState[]> {
      const { rows } = await db.query<StreamState>(
        `SELECT stream, watermark, cursor, details, updated_at FROM ${t} WHERE starts_with(stream, $1) ORDER BY stream`,
        [prefix],
      );
      return rows;
    },
    async deleteWithPrefix(db: Queryable, prefix: string): Promise<number> {
      const { rowCount } = await db.query(`DELETE FROM ${t} WHERE starts_with(stream, $1)`, [prefix]);
      return rowCount ?? 0;
    },
    /** Locks the stream's row for the caller's transaction, creating it if needed. */
    async lock(db: Pick<pg.PoolClient, 'query'>, stream: string): Promise<StreamState> {
      await db.query(`INSERT INTO ${t} (stream) VALUES ($1) ON CONFLICT (stream) DO NOTHING`, [stream]);
      const { rows } = await db.query<StreamState>(
        `SELECT stream, watermark, cursor, details, updated_at FROM ${t} WHERE stream = $1 FOR UPDATE`,
        [stream],
      );
      return rows[0]!;
    },
    async set(
      db: Queryable,
      stream: string,
      patch: { watermark?: Date | null; cursor?: string | null; details?: Record<string, unknown> },
    ): Promise<void> {
      await db.query(
        `INSERT INTO ${t} (stream, watermark, cursor, details, updated_at)
         VALUES ($1, $2, $3, coalesce($4::jsonb, '{}'::jsonb), now())
         ON CONFLICT (stream) DO UPDATE SET
           watermark = CASE WHEN $5 THEN EXCLUDED.watermark ELSE ${t}.watermark END,
           cursor = CASE WHEN $6 THEN EXCLUDED.cursor ELSE ${t}.cursor END,
           details = CASE WHEN $4::jsonb IS NULL THEN ${t}.details ELSE ${t}.details || $4::jsonb END,
           updated_at = now()`,
        [
          stream,
          patch.watermark ?? null,
          patch.cursor ?? null,
          patch.details ? JSON.stringify(patch.details) : null,
          'watermark' in patch,
          'cursor' in patch,
        ],
      );
    },
  };
}
