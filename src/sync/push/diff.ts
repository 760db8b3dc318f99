/**
 * What a push sends: local − base, field by field (custom attributes key by key), and which remote-only changes the
 * local row should take afterwards so that base, Intercom and the row agree again. Pure functions over snapshots.
 */
import type { CompanyWrite, ContactWrite, CustomAttributeValue } from '../../intercom/payloads.ts';
import { linkBase } from '../link-base.ts';
import { contactSnapshotSchema, same, type CompanySnapshot, type ContactSnapshot, type Snapshot } from '../snapshot.ts';

export { linkBase };

type Attrs = Record<string, unknown>;

// Attribute names are data: a key like "__proto__" must become an own property, never the object's prototype.
function setOwn(o: Attrs, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}


/** Custom attribute keys to send: changed values, and null for keys the local row dropped. */
function attrsDiff(base: Attrs, local: Attrs): Record<string, CustomAttributeValue> {
  const out: Record<string, CustomAttributeValue> = {};
  for (const k of new Set([...Object.keys(base), ...Object.keys(local)])) {
    if (!same(base[k], local[k])) setOwn(out, k, local[k] ?? null);
  }
  return out;
}

/** Fields of `local` that differ from `base` (every non-null field when there is no base), as a write body. */
function diffFields(base: Snapshot | null, local: Snapshot, skip: ReadonlySet<string>): Record<string, unknown> {
  // Snapshots are object type aliases, so they widen to records without a cast.
  const b: Readonly<Record<string, unknown>> | null = base;
  const l: Readonly<Record<string, unknown>> = local;
  const body: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(l)) {
    if (skip.has(k)) continue;
    if (k === 'custom_attributes') {
      const d = attrsDiff((b?.[k] as Attrs | undefined) ?? {}, (v as Attrs) ?? {});
      if (Object.keys(d).length > 0) body[k] = d;
      continue;
    }
    if (b === null ? v !== null : !same(b[k], v)) body[k] = v;
  }
  return body;
}

const NO_SKIP = new Set<string>();
// remote_created_at is ours to set once; company_id is the upsert key and always sent.
const COMPANY_SKIP = new Set(['company_id']);

export function contactWrite(base: ContactSnapshot | null, local: ContactSnapshot): ContactWrite | null {
  const body = diffFields(base, local, NO_SKIP) as ContactWrite;
  // A lead's external_id may be local-only (Intercom dropped it; identity.ts keepLeadExternalId): a lead becoming a
  // user needs it in Intercom, whatever the base says.
  if (base?.role === 'lead' && local.role === 'user' && local.external_id) body.external_id = local.external_id;
  return Object.keys(body).length === 0 ? null : body;
}

export function companyWrite(base: CompanySnapshot | null, local: CompanySnapshot): CompanyWrite | null {
  const body = diffFields(base, local, COMPANY_SKIP);
  if (Object.keys(body).length === 0) return null;
  return { company_id: local.company_id, ...body };
}

/**
 * The base to diff against after relinking to a contact found under a new id (404 → merge detection): fields the
 * local row changed since the old base are sent; fields it did not change count as agreed, so Intercom's current
 * values win for them (they land on the row through remoteOnlyPatch).
 */
export function threeWayBase(oldBase: ContactSnapshot | null, remote: ContactSnapshot, local: ContactSnapshot): ContactSnapshot {
  if (!oldBase) return linkBase(remote, local);
  const out: Record<string, unknown> = { ...remote };
  const b: Readonly<Record<string, unknown>> = oldBase;
  const l: Readonly<Record<string, unknown>> = local;
  for (const k of Object.keys(l)) {
    if (k === 'custom_attributes') continue;
    if (same(l[k], b[k])) out[k] = l[k];
  }
  const attrs: Attrs = { ...remote.custom_attributes };
  const keys = [...Object.keys(oldBase.custom_attributes), ...Object.keys(local.custom_attributes), ...Object.keys(attrs)];
  for (const k of new Set(keys)) {
    if (same(local.custom_attributes[k], oldBase.custom_attributes[k])) {
      if (local.custom_attributes[k] === undefined) delete attrs[k];
      else setOwn(attrs, k, local.custom_attributes[k]);
    }
  }
  out.custom_attributes = attrs;
  return contactSnapshotSchema.parse(out);
}

/**
 * Fields the local row should take from Intercom's answer: those the push did not send, that the row has not changed
 * since the base (so the row holds no newer intent), and where Intercom now holds something else (a remote edit made
 * meanwhile, or Intercom's normalisation). Without this the next push would send the row's stale value back.
 */
export function remoteOnlyPatch<S extends Snapshot>(
  oldBase: S,
  response: S,
  current: S,
  sent: ReadonlySet<string>,
): Partial<S> {
  const b: Readonly<Record<string, unknown>> = oldBase;
  const r: Readonly<Record<string, unknown>> = response;
  const c: Readonly<Record<string, unknown>> = current;
  const patch: Record<string, unknown> = {};
  for (const k of Object.keys(r)) {
    if (k === 'custom_attributes') {
      const ba = (b[k] as Attrs) ?? {};
      const ra = (r[k] as Attrs) ?? {};
      const ca = (c[k] as Attrs) ?? {};
      const sentAttrs = sent.has(k);
      const next: Attrs = { ...ca };
      let changed = false;
      for (const key of new Set([...Object.keys(ba), ...Object.keys(ra), ...Object.keys(ca)])) {
        if (sentAttrs && !same(ba[key], ca[key])) continue;
        if (same(ca[key], ba[key]) && !same(ra[key], ca[key])) {
          if (ra[key] === undefined || ra[key] === null) delete next[key];
          else setOwn(next, key, ra[key]);
          changed = true;
        }
      }
      if (changed) patch[k] = next;
      continue;
    }
    if (sent.has(k)) continue;
    if (same(c[k], b[k]) && !same(r[k], c[k])) patch[k] = r[k];
  }
  return patch as Partial<S>;
}

/** The field names a write body carries (for the patch rule and the audit). */
export function sentFields(body: object | null): Set<string> {
  return new Set(body ? Object.keys(body) : []);
}
