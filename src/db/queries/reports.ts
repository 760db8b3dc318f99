import pg from 'pg';
import { TEXT_EXCERPT_CHARS } from '../../log-excerpt.ts';
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

const TEXT_OIDS = new Set([25, 1043]);
const JSON_OID = 114;
const JSONB_OID = 3802;
const TEXT_ARRAY_OID = 1009;

/**
 * `text` cut to TEXT_EXCERPT_CHARS characters in SQL, ending like an excerpt (src/log-excerpt.ts) with how much was
 * cut, in bytes: octet_length and left() read a stored value's size and its first part only, where length() would
 * decompress all of it (a megabyte per row, 200 ms for 50 rows; 3 ms this way).
 */
function sqlExcerpt(text: string): string {
  const n = TEXT_EXCERPT_CHARS;
  return `CASE WHEN octet_length(${text}) <= ${n} THEN ${text} ELSE left(${text}, ${n}) || CASE WHEN octet_length(${text}) > octet_length(left(${text}, ${n})) THEN '…[' || (octet_length(${text}) - octet_length(left(${text}, ${n})))::text || ' more bytes]' ELSE '' END END`;
}

function boundedColumn(name: string, oid: number): string {
  const c = `v.${ident(name)}`;
  const big = `octet_length(${c}::text) > ${4 * TEXT_EXCERPT_CHARS}`;
  if (TEXT_OIDS.has(oid)) return `${sqlExcerpt(c)} AS ${ident(name)}`;
  // A large document becomes the excerpt of its text, as a JSON string: shown, not parsed.
  if (oid === JSONB_OID) return `CASE WHEN ${big} THEN to_jsonb(${sqlExcerpt(`${c}::text`)}) ELSE ${c} END AS ${ident(name)}`;
  if (oid === JSON_OID) return `CASE WHEN ${big} THEN to_json(${sqlExcerpt(`${c}::text`)}) ELSE ${c} END AS ${ident(name)}`;
  // Each element cut, at most 100 of them; the array is read once (a view may compute it, e.g. from jsonb keys).
  if (oid === TEXT_ARRAY_OID) {
    return `ARRAY(SELECT ${sqlExcerpt('u.x')} FROM unnest(${c}) WITH ORDINALITY AS u(x, n) WHERE u.n <= 100 ORDER BY u.n) AS ${ident(name)}`;
  }
  return c;
}

// Per pool (or client), so that two databases never share a column list; views change only with migrations, which
// run before anything reads them.
const selectLists = new WeakMap<object, Map<string, string>>();

/**
 * The columns of a report view with outside text bounded in SQL, for `SELECT … FROM <view> v`. Error messages,
 * attribute names and details are kept whole in the tables, rows written before their bound included; a page or a
 * report reads only an excerpt of each, so a megabyte value costs the read what 2,000 characters cost.
 */
export async function boundedSelectList(db: Queryable, qualifiedView: string): Promise<string> {
  let lists = selectLists.get(db);
  if (!lists) selectLists.set(db, (lists = new Map<string, string>()));
  const known = lists.get(qualifiedView);
  if (known) return known;
  const { fields } = await db.query(`SELECT * FROM ${qualifiedView} LIMIT 0`);
  const list = fields.map((f) => boundedColumn(f.name, f.dataTypeID)).join(', ');
  lists.set(qualifiedView, list);
  return list;
}

export function reportQueries(schema: string) {
  const s = ident(schema);
  return {
    async run(db: Queryable, name: ReportName, opts: { limit?: number } = {}): Promise<ReportResult> {
      const { view, orderBy } = REPORT_VIEWS[name];
      const limit = opts.limit === undefined ? '' : ` LIMIT ${Math.max(0, Math.trunc(opts.limit))}`;
      const qualified = `${s}.${ident(view)}`;
      const result = await db.query<Record<string, unknown>>({
        text: `SELECT ${await boundedSelectList(db, qualified)} FROM ${qualified} v${orderBy ? ` ORDER BY ${orderBy}` : ''}${limit}`,
        types: reportTypes,
      });
      return { columns: result.fields.map((f) => f.name), rows: result.rows };
    },
  };
}
