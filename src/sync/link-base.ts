/**
 * The agreed base for a local row linked to a contact that already existed in Intercom, shared by the push (a 409, a
 * create in doubt found again) and the pull (an unlinked row found by its key while its own create is still queued).
 */
import { contactSnapshotSchema, type ContactSnapshot } from './snapshot.ts';

// Attribute names are data: a key like "__proto__" must become an own property, never the object's prototype.
function setOwn(o: Record<string, unknown>, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

/**
 * The base to diff against when linking to a contact that already existed in Intercom (409, crash recovery): what
 * the local row holds wins, what it lacks is taken from Intercom. Modelled as a base that equals the local row on
 * its empty fields (so they count as "unchanged locally") and equals Intercom elsewhere (so they are sent if they
 * differ).
 */
export function linkBase(remote: ContactSnapshot, local: ContactSnapshot): ContactSnapshot {
  const out: Record<string, unknown> = { ...remote };
  for (const [k, v] of Object.entries(local)) {
    if (k === 'custom_attributes') continue;
    if (v === null) out[k] = null;
  }
  const attrs: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(remote.custom_attributes)) if (Object.hasOwn(local.custom_attributes, k)) setOwn(attrs, k, v);
  out.custom_attributes = attrs;
  // Field by field the result takes a value of remote or of local, both valid snapshots: the parse only re-types it.
  return contactSnapshotSchema.parse(out);
}
