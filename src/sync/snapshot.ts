import { createHash } from 'node:crypto';

/**
 * The canonical, comparable form of a contact or company: the fields both sides own, normalised so that a local row
 * and an Intercom payload describing the same state produce the same snapshot and hash. The mapping table stores
 * the last snapshot both sides agreed on; it is the base of every three-way merge and of the push diff.
 */
export interface ContactSnapshot {
  external_id: string | null;
  role: 'user' | 'lead';
  email: string | null;
  phone: string | null;
  name: string | null;
  owner_id: number | null;
  unsubscribed_from_emails: boolean;
  signed_up_at: number | null;
  last_seen_at: number | null;
  custom_attributes: Record<string, unknown>;
}

export interface CompanySnapshot {
  company_id: string;
  name: string | null;
  plan: string | null;
  size: number | null;
  website: string | null;
  industry: string | null;
  monthly_spend: number | null;
  remote_created_at: number | null;
  custom_attributes: Record<string, unknown>;
}

export const CONTACT_FIELDS = [
  'external_id',
  'role',
  'email',
  'phone',
  'name',
  'owner_id',
  'unsubscribed_from_emails',
  'signed_up_at',
  'last_seen_at',
  'custom_attributes',
] as const satisfies readonly (keyof ContactSnapshot)[];

export const COMPANY_FIELDS = [
  'company_id',
  'name',
  'plan',
  'size',
  'website',
  'industry',
  'monthly_spend',
  'remote_created_at',
  'custom_attributes',
] as const satisfies readonly (keyof CompanySnapshot)[];

export type Snapshot = ContactSnapshot | CompanySnapshot;

/** A local contacts row as Postgres returns it (snake_case columns). */
export interface LocalContactRow {
  id: number;
  external_id: string | null;
  role: string;
  email: string | null;
  phone: string | null;
  name: string | null;
  owner_id: number | null;
  unsubscribed_from_emails: boolean;
  signed_up_at: Date | null;
  last_seen_at: Date | null;
  custom_attributes: Record<string, unknown>;
  merge_into_id: number | null;
  intercom_id: string | null;
  updated_at: Date;
  deleted_at: Date | null;
}

export interface LocalCompanyRow {
  id: number;
  company_id: string;
  name: string | null;
  plan: string | null;
  size: number | null;
  website: string | null;
  industry: string | null;
  monthly_spend: number | null;
  remote_created_at: Date | null;
  custom_attributes: Record<string, unknown>;
  intercom_id: string | null;
  updated_at: Date;
  deleted_at: Date | null;
}

/** The shape of a parsed Intercom contact that snapshots need (the gateway's IntercomContact satisfies it). */
export interface RemoteContactFields {
  externalId: string | null;
  role: string;
  email: string | null;
  phone: string | null;
  name: string | null;
  ownerId: number | null;
  unsubscribedFromEmails: boolean;
  signedUpAt: number | null;
  lastSeenAt: number | null;
  customAttributes: Record<string, unknown>;
}

export interface RemoteCompanyFields {
  companyId: string;
  name: string | null;
  plan: string | null;
  size: number | null;
  website: string | null;
  industry: string | null;
  monthlySpend: number | null;
  remoteCreatedAt: number | null;
  customAttributes: Record<string, unknown>;
}

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
  return JSON.stringify(sortDeep(value));
}

export function snapshotHash(s: Snapshot): string {
  return createHash('sha1').update(canonicalJson(s)).digest('hex');
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
  if (v && typeof v === 'object' && !(v instanceof Date)) {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortDeep((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}
