/**
 * Snapshots made from local rows and Intercom records, their canonical JSON and hash, and the field-by-field
 * comparison the merge and the push diff run on. The snapshot types and schemas are the contract in
 * src/contract/snapshot.ts, re-exported here for the engines.
 */
import { createHash } from 'node:crypto';
import { COMPANY_FIELDS, CONTACT_FIELDS, type CompanySnapshot, type ContactSnapshot, type Snapshot } from '../contract/snapshot.ts';
import type { CompanyRow, ContactRow } from '../db/rows.ts';
import type { IntercomCompany, IntercomContact } from '../intercom/payloads.ts';
import { UncarriableNumber } from '../json-numbers.ts';

export {
  COMPANY_FIELDS,
  CONTACT_FIELDS,
  companySnapshotSchema,
  contactSnapshotSchema,
  snapshotSchemas,
  type CompanySnapshot,
  type ContactSnapshot,
  type Snapshot,
  type SnapshotByEntity,
} from '../contract/snapshot.ts';

/** Local data rows as hand-written SQL returns them: snake_case columns, typed by the drizzle schema. */
export type LocalContactRow = ContactRow;
export type LocalCompanyRow = CompanyRow;

/** The fields of a parsed Intercom record that snapshots are made of. */
export type RemoteContactFields = Pick<
  IntercomContact,
  'externalId' | 'role' | 'email' | 'phone' | 'name' | 'ownerId' | 'unsubscribedFromEmails' | 'signedUpAt' | 'lastSeenAt' | 'customAttributes'
>;
export type RemoteCompanyFields = Pick<
  IntercomCompany,
  'companyId' | 'name' | 'plan' | 'size' | 'website' | 'industry' | 'monthlySpend' | 'remoteCreatedAt' | 'customAttributes'
>;

export function contactFromLocal(row: LocalContactRow): ContactSnapshot {
  return {
    external_id: row.external_id,
    role: row.role === 'lead' ? 'lead' : 'user',
    email: emptyToNull(row.email),
    phone: emptyToNull(row.phone),
    name: emptyToNull(row.name),
    owner_id: row.owner_id,
    unsubscribed_from_emails: row.unsubscribed_from_emails,
    signed_up_at: toUnix(row.signed_up_at),
    last_seen_at: toUnix(row.last_seen_at),
    custom_attributes: canonicalObject(row.custom_attributes),
  };
}

export function contactFromRemote(c: RemoteContactFields): ContactSnapshot {
  return {
    external_id: c.externalId,
    role: c.role === 'lead' ? 'lead' : 'user',
    email: emptyToNull(c.email),
    phone: emptyToNull(c.phone),
    name: emptyToNull(c.name),
    owner_id: c.ownerId,
    unsubscribed_from_emails: c.unsubscribedFromEmails,
    signed_up_at: c.signedUpAt,
    last_seen_at: c.lastSeenAt,
    custom_attributes: canonicalObject(dropNulls(c.customAttributes)),
  };
}

export function companyFromLocal(row: LocalCompanyRow): CompanySnapshot {
  return {
    company_id: row.company_id,
    name: emptyToNull(row.name),
    plan: emptyToNull(row.plan),
    size: row.size,
    website: emptyToNull(row.website),
    industry: emptyToNull(row.industry),
    // Intercom keeps whole numbers only; comparing truncated values avoids an endless update loop.
    monthly_spend: row.monthly_spend === null ? null : Math.trunc(row.monthly_spend),
    remote_created_at: toUnix(row.remote_created_at),
    custom_attributes: canonicalObject(row.custom_attributes),
  };
}

export function companyFromRemote(c: RemoteCompanyFields): CompanySnapshot {
  return {
    company_id: c.companyId,
    name: emptyToNull(c.name),
    plan: emptyToNull(c.plan),
    size: c.size,
    website: emptyToNull(c.website),
    industry: emptyToNull(c.industry),
    monthly_spend: c.monthlySpend === null ? null : Math.trunc(c.monthlySpend),
    remote_created_at: c.remoteCreatedAt,
    custom_attributes: canonicalObject(dropNulls(c.customAttributes)),
  };
}

/** Stable JSON: object keys sorted at every depth, so equal values always serialise alike. */
export function canonicalJson(value: unknown): string {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  return flatSortedJson(value) ?? JSON.stringify(sortDeep(value));
}

/**
 * canonicalJson of a plain object already in canonical order, with JSON primitives only as values (what custom
 * attributes built by canonicalObject are): the native serialiser writes the same string without copying the object.
 * null when that cannot be shown cheaply. Keys listed in ascending order are enough, integer-like ones included: any
 * object lists those first, in numeric order, and the rest in insertion order, so the object sortDeep rebuilds from
 * the same keys lists them exactly as this one does.
 */
function flatSortedJson(o: object): string | null {
  if (Array.isArray(o)) return null;
  const proto: unknown = Object.getPrototypeOf(o);
  if (proto !== Object.prototype && proto !== null) return null;
  let prev: string | null = null;
  for (const k in o) {
    // for…in also walks inherited enumerable keys; a plain object has none unless Object.prototype was extended.
    if (!Object.hasOwn(o, k)) return null;
    if (prev !== null && !(prev < k)) return null;
    const v = (o as Record<string, unknown>)[k];
    if (v !== null && typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') return null;
    prev = k;
  }
  return JSON.stringify(o);
}

// The sorted field names of each snapshot kind: a snapshot's canonical JSON is written in this order directly, its
// only nested value (custom_attributes) taking canonicalJson's own path.
const SORTED_FIELDS = {
  contact: [...CONTACT_FIELDS].sort(),
  company: [...COMPANY_FIELDS].sort(),
};

/**
 * canonicalJson of a snapshot, without rebuilding it: the hash compared against every stored base_hash is computed
 * for each pulled record, so it must be the very string canonicalJson gives (test/pull/snapshot-json.test.ts). Falls
 * back to canonicalJson for anything but exactly the schema's fields with JSON primitives outside custom_attributes.
 */
export function snapshotJson(s: Snapshot): string {
  const fields = 'company_id' in s ? SORTED_FIELDS.company : SORTED_FIELDS.contact;
  if (Object.keys(s).length !== fields.length) return canonicalJson(s);
  let out = '{';
  for (const k of fields) {
    if (!Object.hasOwn(s, k)) return canonicalJson(s);
    const v = (s as Record<string, unknown>)[k];
    let json: string;
    // JSON.stringify leaves out a key whose value it cannot write (undefined, a function): the slow path knows how.
    if (k === 'custom_attributes') {
      if (typeof v !== 'object') return canonicalJson(s);
      json = canonicalJson(v);
    }
    else if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') json = JSON.stringify(v);
    else return canonicalJson(s);
    out += `${out.length === 1 ? '' : ','}"${k}":${json}`;
  }
  return `${out}}`;
}

/** Equal field values, an absent value counting as null (how Intercom reports an unset field). */
export const same = (a: unknown, b: unknown) => canonicalJson(a ?? null) === canonicalJson(b ?? null);

export function snapshotHash(s: Snapshot): string {
  return createHash('sha1').update(snapshotJson(s)).digest('hex');
}

/** Field names whose values differ between two snapshots of the same kind. */
export function changedFields<S extends Snapshot>(base: S | null, next: S): (keyof S & string)[] {
  const keys = Object.keys(next) as (keyof S & string)[];
  if (!base) return keys;
  return keys.filter((k) => canonicalJson(base[k]) !== canonicalJson(next[k]));
}

/** { field: { before, after } } for the audit log, holding only what changed. */
export function fieldChanges<S extends Snapshot>(
  base: S | null,
  next: S,
): Record<string, { before: unknown; after: unknown }> {
  const out: Record<string, { before: unknown; after: unknown }> = {};
  for (const k of changedFields(base, next)) out[k] = { before: base ? base[k] : null, after: next[k] };
  return out;
}

export function toUnix(d: Date | null): number | null {
  return d === null ? null : Math.floor(d.getTime() / 1000);
}

export function fromUnix(s: number | null): Date | null {
  return s === null ? null : new Date(s * 1000);
}

function emptyToNull(s: string | null): string | null {
  return s === null || s === '' ? null : s;
}

function dropNulls(o: Record<string, unknown>): Record<string, unknown> {
  // Intercom reports unset custom attributes as null; locally they are simply absent.
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined));
}

function canonicalObject(o: Record<string, unknown>): Record<string, unknown> {
  return sortDeep(o ?? {}) as Record<string, unknown>;
}

function sortDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortDeep);
  // A number the local row holds beyond what a double carries stays itself, for the validator to refuse by name.
  if (v && typeof v === 'object' && !(v instanceof Date) && !(v instanceof UncarriableNumber)) {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortDeep((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}
