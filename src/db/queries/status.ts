import type pg from 'pg';
import { ident } from '../migrate.ts';
import { boundedSelectList, reportQueries, reportTypes, type ReportResult } from './reports.ts';

type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

/** Requests and 429s counted in one UTC minute by one process; replicas add theirs to the same row. */
export interface MinuteCount {
  minute: Date;
  requests: number;
  rateLimited: number;
}

export interface StatusSample {
  minute: Date;
  requests: number;
  rate_limited: number;
  /** null for minutes nobody sampled (no process running). */
  outbox_depth: number | null;
  dead_letters: number | null;
}

/** Everything the status page shows, read in one go from the report views and status_samples. */
export interface StatusSnapshot {
  at: Date;
  hours: number;
  overview: ReportResult;
  deadLetters: { total: number; rows: Record<string, unknown>[] };
  retrying: number;
  conflicts: { total: number; rows: Record<string, unknown>[] };
  merges: { total: number; rows: Record<string, unknown>[] };
  /** Records the pull could not apply (report_errors kind 'invalid'): unparsable, refused by the database, or dated in the future. */
  invalid: { total: number; rows: Record<string, unknown>[] };
  samples: StatusSample[];
}

/** Two days: the page charts one; the second covers a daemon that was down over the boundary. */
export const SAMPLE_RETENTION_HOURS = 48;
const LIST_LIMIT = 50;

export function statusQueries(schema: string) {
  const s = ident(schema);
  const samples = `${s}.status_samples`;
  const reports = reportQueries(schema);

  async function listed(db: Queryable, view: string, where: string, orderBy: string) {
    const qualified = `${s}.${ident(view)}`;
    const columns = await boundedSelectList(db, qualified);
    const [rows, total] = await Promise.all([
      db.query<Record<string, unknown>>({
        text: `SELECT ${columns} FROM ${qualified} v WHERE ${where} ORDER BY ${orderBy} LIMIT ${LIST_LIMIT}`,
        types: reportTypes,
      }),
      db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${s}.${ident(view)} WHERE ${where}`),
    ]);
    return { total: total.rows[0]?.n ?? 0, rows: rows.rows };
  }

  return {
    /** Adds to the minute's counts (ON CONFLICT: several replicas and flushes share a minute). */
    async addRequests(db: Queryable, counts: readonly MinuteCount[]): Promise<void> {
      if (counts.length === 0) return;
      const values: unknown[] = [];
      const tuples = counts.map((c, i) => {
        values.push(c.minute, c.requests, c.rateLimited);
        return `($${i * 3 + 1}::timestamptz, $${i * 3 + 2}::int, $${i * 3 + 3}::int)`;
      });
      await db.query(
        `INSERT INTO ${samples} AS x (minute, requests, rate_limited) VALUES ${tuples.join(', ')}
         ON CONFLICT (minute) DO UPDATE SET requests = x.requests + EXCLUDED.requests,
                                            rate_limited = x.rate_limited + EXCLUDED.rate_limited`,
        values,
      );
    },

    /** Records the outbox depth for the current minute; replicas sampling the same minute write the same figure. */
    async sampleOutbox(db: Queryable): Promise<void> {
      await db.query(
        `INSERT INTO ${samples} (minute, outbox_depth, dead_letters)
         SELECT date_trunc('minute', now()), count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'dead')
           FROM ${s}.sync_outbox
         ON CONFLICT (minute) DO UPDATE SET outbox_depth = EXCLUDED.outbox_depth, dead_letters = EXCLUDED.dead_letters`,
      );
    },

    async prune(db: Queryable, retentionHours = SAMPLE_RETENTION_HOURS): Promise<number> {
      const r = await db.query(`DELETE FROM ${samples} WHERE minute < now() - make_interval(hours => $1::int)`, [retentionHours]);
      return r.rowCount ?? 0;
    },

    async samples(db: Queryable, hours: number): Promise<StatusSample[]> {
      const { rows } = await db.query<StatusSample>(
        `SELECT minute, requests, rate_limited, outbox_depth, dead_letters FROM ${samples}
          WHERE minute > date_trunc('minute', now()) - make_interval(hours => $1::int) ORDER BY minute`,
        [hours],
      );
      return rows;
    },

    async snapshot(db: Queryable, hours = 24): Promise<StatusSnapshot> {
      const since = `now() - interval '${Math.trunc(hours)} hours'`;
      const [now, overview, deadLetters, retrying, conflicts, merges, series, invalid] = await Promise.all([
        db.query<{ now: Date }>('SELECT now() AS now'),
        reports.run(db, 'overview'),
        listed(db, 'report_errors', `kind = 'dead_letter'`, 'at DESC, source_id DESC'),
        db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${s}.report_errors WHERE kind = 'retrying'`),
        listed(db, 'report_conflicts', `at > ${since}`, 'at DESC, audit_id DESC'),
        // Requested merges are listed whatever their age: they are work still to do.
        listed(db, 'report_merges', `at > ${since} OR state = 'requested'`, 'at DESC, local_id'),
        this.samples(db, hours),
        listed(db, 'report_errors', `kind = 'invalid' AND at > ${since}`, 'at DESC, source_id DESC'),
      ]);
      return {
        at: now.rows[0]?.now ?? new Date(),
        hours,
        overview,
        deadLetters,
        retrying: retrying.rows[0]?.n ?? 0,
        conflicts,
        merges,
        invalid,
        samples: series,
      };
    },
  };
}
