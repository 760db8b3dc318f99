/**
 * Row types and column lists for the SQL written by hand in db/queries (set-based statements, FOR UPDATE look-ups),
 * derived from the drizzle schema so that a table's columns are defined once, in src/db/schema.ts. `pg` returns rows
 * keyed by column name, so the types use drizzle's `dbColumnNames` inference (snake_case keys); the type parsers set
 * in client.ts (int8 → number) make the value types match drizzle's `mode: 'number'` columns.
 */
import { getTableColumns, type InferSelectModel, type Table } from 'drizzle-orm';
import { companies, contacts, syncMappings, syncOutbox, syncWriteDoubts } from './schema.ts';

export type SqlRow<T extends Table> = InferSelectModel<T, { dbColumnNames: true }>;

export type ContactRow = SqlRow<typeof contacts>;
export type CompanyRow = SqlRow<typeof companies>;
export type MappingRow = SqlRow<typeof syncMappings>;
export type OutboxRow = SqlRow<typeof syncOutbox>;
export type WriteDoubtRow = SqlRow<typeof syncWriteDoubts>;

/** Every column name of a table, in schema order. */
export function columnNames<T extends Table>(table: T): (keyof SqlRow<T> & string)[] {
  return Object.values(getTableColumns(table)).map((c) => c.name as keyof SqlRow<T> & string);
}

/** A SELECT/RETURNING list: the given columns (all of the table's by default), optionally qualified by an alias. */
export function columnList<T extends Table>(
  table: T,
  o: { alias?: string; only?: readonly (keyof SqlRow<T> & string)[] } = {},
): string {
  const names = o.only ?? columnNames(table);
  return names.map((n) => (o.alias ? `${o.alias}.${n}` : n)).join(', ');
}

export const CONTACT_COLUMNS = columnList(contacts);
export const COMPANY_COLUMNS = columnList(companies);
export const MAPPING_COLUMNS = columnList(syncMappings);
export const WRITE_DOUBT_COLUMNS = columnList(syncWriteDoubts);
