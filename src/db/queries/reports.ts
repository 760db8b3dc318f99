import pg from 'pg';
import { ident } from '../migrate.ts';

type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

/** Each report is a view created by migrations/0002_reports.sql; this is the order rows are shown in. */
export const REPORT_VIEWS = {
  overview: { view: 'report_overview', orderBy: null },
  daily_activity: { view: 'report_daily_activity', orderBy: 'day DESC, direction, entity_type, action' },
  conflicts: { view: 'report_conflicts', orderBy: 'at DESC, audit_id DESC' },
  merges: { view: 'report_merges', orderBy: 'at DESC, local_id' },
  errors: { view: 'report_errors', orderBy: 'at DESC, kind, source_id DESC' },
  api_usage: { view: 'report_api_usage', orderBy: 'hour DESC, endpoint' },
  duplicates: { view: 'report_duplicates', orderBy: 'contacts DESC, email' },
  unlinked: { view: 'report_unlinked', orderBy: 'entity_type, local_id' },
} as const;

export type ReportName = keyof typeof REPORT_VIEWS;

export interface ReportResult {
  /** In the view's order, also when there are no rows. */
  columns: string[];
  rows: Record<string, unknown>[];
}

const DATE_OID = 1082;
const INT8_ARRAY_OID = 1016;
const INT4_ARRAY_OID = 1007;

/**
 * node-postgres turns a `date` into a Date at local midnight, which prints as the previous day west of UTC; report
 * days are UTC calendar days, so they stay strings. Arrays of ids (bigint[]) come back as numbers like single ids do.
 */
// pg-types declares its parsers as returning `any`; they return parsed column values.
const defaultParser = pg.types.getTypeParser as (oid: number, format: 'text' | 'binary') => (v: string) => unknown;
export const reportTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === DATE_OID) return (v: string) => v;
    if (oid === INT8_ARRAY_OID) return defaultParser(INT4_ARRAY_OID, 'text');
    return defaultParser(oid, format ?? 'text');
  }) as typeof pg.types.getTypeParser,
};

export function reportQueries(schema: string) {
  const s = ident(schema);
  return {
    async run(db: Queryable, name: ReportName, opts: { limit?: number } = {}): Promise<ReportResult> {
      const { view, orderBy } = REPORT_VIEWS[name];
      const limit = opts.limit === undefined ? '' : ` LIMIT ${Math.max(0, Math.trunc(opts.limit))}`;
      const result = await db.query<Record<string, unknown>>({
        text: `SELECT * FROM ${s}.${ident(view)}${orderBy ? ` ORDER BY ${orderBy}` : ''}${limit}`,
        types: reportTypes,
      });
      return { columns: result.fields.map((f) => f.name), rows: result.rows };
    },
  };
}
