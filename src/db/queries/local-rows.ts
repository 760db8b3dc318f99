/**
 * The data rows (contacts, companies) as the sync engines read and patch them, shared by the pull store (pull.ts)
 * and the push store (outbox.ts) so that both read the same columns and turn a snapshot patch into the same SQL.
 * Snapshot field names are column names of these tables (checked below against the drizzle row types).
 */
import pg from 'pg';
import { parseJsonExact, stringifyJsonExact } from '../../json-numbers.ts';
import { ident } from '../migrate.ts';
import { COMPANY_COLUMNS, CONTACT_COLUMNS, type CompanyRow, type ContactRow } from '../rows.ts';
import { COMPANY_FIELDS, CONTACT_FIELDS, type CompanySnapshot, type ContactSnapshot } from '../../contract/snapshot.ts';

type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

const JSONB_OID = 3802;
// pg-types declares its parsers as returning `any`; they return parsed column values.
const defaultParser = pg.types.getTypeParser as (oid: number, format: 'text' | 'binary') => (v: string) => unknown;

/**
 * Type parsers for every read of a data row (contacts, companies): applications write custom_attributes with plain
 * SQL, and jsonb keeps numbers a double cannot hold (1e400, 1e-400) exactly. Read with JSON.parse they would become
 * Infinity or 0; parseJsonExact keeps them as UncarriableNumber (src/json-numbers.ts), which the validator refuses by
 * name and dataRowJson writes back unchanged.
 */
export const DATA_ROW_TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === JSONB_OID ? parseJsonExact : defaultParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
};

/** A data row value (or a set of them) as JSON text for a jsonb parameter, numbers read by DATA_ROW_TYPES as written. */
export const dataRowJson = (v: unknown): string => stringifyJsonExact(v);

CONTACT_FIELDS satisfies readonly (keyof ContactRow)[];
COMPANY_FIELDS satisfies readonly (keyof CompanyRow)[];

export type DataTable = 'contacts' | 'companies';

/** Snapshot fields held as unix seconds in snapshots and as timestamptz in the tables. */
const TIME_FIELDS = new Set<string>(['signed_up_at', 'last_seen_at', 'remote_created_at']);
const JSON_FIELDS = new Set<string>(['custom_attributes']);

/** Every snapshot field: what a pull may write (it applies Intercom's whole state). */
export const CONTACT_SNAPSHOT_COLUMNS: ReadonlySet<string> = new Set(CONTACT_FIELDS);
export const COMPANY_SNAPSHOT_COLUMNS: ReadonlySet<string> = new Set(COMPANY_FIELDS);
/** What a push may write back onto a company: company_id is the row's own key, never taken from Intercom's answer. */
export const COMPANY_PUSH_COLUMNS: ReadonlySet<string> = new Set(COMPANY_FIELDS.filter((f) => f !== 'company_id'));

function columnValue(field: string, v: unknown): unknown {
  if (TIME_FIELDS.has(field)) return v === null || v === undefined ? null : new Date((v as number) * 1000);
  if (JSON_FIELDS.has(field)) return dataRowJson(v ?? {});
  return v;
}

/**
 * Column types of the contact snapshot fields, for set-based statements that read rows from JSON or arrays. The
 * `satisfies` holds the keys to exactly the snapshot's fields: one missing or left over fails to compile.
 */
export const CONTACT_COLUMN_TYPES: Readonly<Record<string, string>> = {
  external_id: 'text',
  role: 'text',
  email: 'text',
  phone: 'text',
  name: 'text',
  owner_id: 'bigint',
  unsubscribed_from_emails: 'boolean',
  signed_up_at: 'timestamptz',
  last_seen_at: 'timestamptz',
  custom_attributes: 'jsonb',
} satisfies Record<(typeof CONTACT_FIELDS)[number], string>;

/** A snapshot value as a JSON record field read by jsonb_to_recordset: what columnValue gives a single statement. */
export function jsonColumnValue(field: string, v: unknown): unknown {
  if (TIME_FIELDS.has(field)) return v === null || v === undefined ? null : new Date((v as number) * 1000).toISOString();
  if (JSON_FIELDS.has(field)) return v ?? {};
  return v ?? null;
}

const param = (field: string, n: number) => `$${n}${JSON_FIELDS.has(field) ? '::jsonb' : ''}`;

type SnapshotPatch = Partial<ContactSnapshot> | Partial<CompanySnapshot>;

export function localRowQueries(schema: string) {
  const s = ident(schema);
  const one = async <T extends pg.QueryResultRow>(db: Queryable, text: string, values: unknown[]): Promise<T | null> =>
    (await db.query<T>({ text, values, types: DATA_ROW_TYPES })).rows[0] ?? null;
  return {
    contact: (db: Queryable, id: number, lock = false) =>
      one<ContactRow>(db, `SELECT ${CONTACT_COLUMNS} FROM ${s}.contacts WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]),
    company: (db: Queryable, id: number, lock = false) =>
      one<CompanyRow>(db, `SELECT ${COMPANY_COLUMNS} FROM ${s}.companies WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]),

    /** Inserts a row from snapshot fields (plus extra columns such as remote_created_at); returns its id. */
    async insert(db: Queryable, table: DataTable, row: SnapshotPatch & Record<string, unknown>): Promise<number> {
      const fields = Object.keys(row);
      const r = await one<{ id: number }>(
        db,
        `INSERT INTO ${s}.${table} (${fields.join(', ')}) VALUES (${fields.map((f, i) => param(f, i + 1)).join(', ')}) RETURNING id`,
        fields.map((f) => columnValue(f, row[f])),
      );
      if (!r) throw new Error(`insert into ${table} returned no id`);
      return r.id;
    },

    /** Writes the allowed fields of a snapshot patch onto one row; nothing when none is left. */
    async patch(db: Queryable, table: DataTable, id: number, patch: SnapshotPatch, allowed: ReadonlySet<string>): Promise<void> {
      const values: Record<string, unknown> = patch;
      const fields = Object.keys(values).filter((f) => allowed.has(f));
      if (fields.length === 0) return;
      await db.query(`UPDATE ${s}.${table} SET ${fields.map((f, i) => `${f} = ${param(f, i + 2)}`).join(', ')} WHERE id = $1`, [
        id,
        ...fields.map((f) => columnValue(f, values[f])),
      ]);
    },
  };
}
