/**
 * Our own late writes, seen by the pull (issue 13, docs/guarantees.md "Late writes"). A PUT whose answer was lost
 * (timeout, dropped connection, 5xx) stays "in doubt" (sync_write_doubts): Intercom may apply it after a newer PUT
 * succeeded. A pulled value that equals one of our in-doubt writes, differs from the last agreed base and from the
 * local row is that write landing late — an echo, not a remote edit. The local value stands, the base takes the
 * remote value (so the push diff sends the local one again), and the entity is queued for a push.
 *
 * Known limit: a person who, inside the doubt window, sets a field in Intercom to exactly a value we wrote moments
 * earlier and have since replaced is taken for the echo; the local value wins. The window is WRITE_DOUBT_WINDOW_SECONDS.
 */
import type { WriteDoubt } from '../push/ports.ts';
import { canonicalJson, contactSnapshotSchema, type ContactSnapshot } from '../snapshot.ts';

const same = (a: unknown, b: unknown) => canonicalJson(a ?? null) === canonicalJson(b ?? null);

export interface Echoes {
  /** Echoed fields (`custom_attributes.<key>` for attributes): remote (our late value) → local (the newer one). */
  fields: Record<string, { before: unknown; after: unknown }>;
  /** The remote snapshot with every echoed field replaced by the local value: what the pull should apply. */
  remote: ContactSnapshot;
}

export function findEchoes(
  base: ContactSnapshot | null,
  local: ContactSnapshot,
  remote: ContactSnapshot,
  doubts: readonly Pick<WriteDoubt, 'fields'>[],
): Echoes {
  // Snapshots are object type aliases: they widen to records without a cast (snapshot.ts).
  const l: Readonly<Record<string, unknown>> = local;
  const r: Readonly<Record<string, unknown>> = remote;
  const b: Readonly<Record<string, unknown>> | null = base;
  const out: Record<string, unknown> = { ...r };
  const fields: Echoes['fields'] = {};
  const isEcho = (sent: unknown, remoteV: unknown, baseV: unknown, localV: unknown) =>
    same(sent, remoteV) && !same(remoteV, baseV) && !same(localV, remoteV);

  for (const d of doubts) {
    for (const [field, sent] of Object.entries(d.fields)) {
      if (!(field in r)) continue;
      if (field === 'custom_attributes') {
        const sentAttrs = (sent ?? {}) as Record<string, unknown>;
        const rAttrs = (r[field] ?? {}) as Record<string, unknown>;
        const lAttrs = (l[field] ?? {}) as Record<string, unknown>;
        const bAttrs = (b?.[field] as Record<string, unknown> | undefined) ?? {};
        for (const [k, v] of Object.entries(sentAttrs)) {
          if (!isEcho(v, rAttrs[k], bAttrs[k], lAttrs[k])) continue;
          const attrs = { ...(out[field] as Record<string, unknown>) };
          if (lAttrs[k] === undefined || lAttrs[k] === null) delete attrs[k];
          else attrs[k] = lAttrs[k];
          out[field] = attrs;
          fields[`custom_attributes.${k}`] = { before: rAttrs[k] ?? null, after: lAttrs[k] ?? null };
        }
        continue;
      }
      if (!isEcho(sent, r[field], b?.[field], l[field])) continue;
      out[field] = l[field];
      fields[field] = { before: r[field] ?? null, after: l[field] ?? null };
    }
  }
  // Only values taken from the local snapshot were put in, so this parse cannot fail; it restores the type.
  return { fields, remote: Object.keys(fields).length === 0 ? remote : contactSnapshotSchema.parse(out) };
}

export interface Landed {
  doubtId: number;
  /** Fields the write moved in Intercom: the agreed base value → the value we sent. */
  changes: Record<string, { before: unknown; after: unknown }>;
}

/**
 * Our update writes in doubt that Intercom shows applied: a field holds the value we sent and differs from the agreed
 * base. Whether the local row now agrees (nothing else changes) or holds a newer value (an echo, above), the write
 * reached Intercom and no push lived to record it: the pull audits it as that push's change and settles the doubt in
 * the same transaction, so it is recorded once. A doubt whose fields all equal the base (a retry already recorded the
 * same value) shows nothing and is left to expire.
 */
export function findLanded(
  base: ContactSnapshot | null,
  remote: ContactSnapshot,
  doubts: readonly Pick<WriteDoubt, 'id' | 'op' | 'fields'>[],
): Landed[] {
  const r: Readonly<Record<string, unknown>> = remote;
  const b: Readonly<Record<string, unknown>> | null = base;
  const out: Landed[] = [];
  for (const d of doubts) {
    if (d.op !== 'update') continue;
    const changes: Landed['changes'] = {};
    for (const [field, sent] of Object.entries(d.fields)) {
      if (!(field in r)) continue;
      if (field === 'custom_attributes') {
        const rAttrs = (r[field] ?? {}) as Record<string, unknown>;
        const bAttrs = (b?.[field] as Record<string, unknown> | undefined) ?? {};
        for (const [k, v] of Object.entries((sent ?? {}) as Record<string, unknown>)) {
          if (same(v, rAttrs[k]) && !same(v, bAttrs[k])) changes[`custom_attributes.${k}`] = { before: bAttrs[k] ?? null, after: v ?? null };
        }
        continue;
      }
      if (same(sent, r[field]) && !same(sent, b?.[field])) changes[field] = { before: b?.[field] ?? null, after: sent ?? null };
    }
    if (Object.keys(changes).length > 0) out.push({ doubtId: d.id, changes });
  }
  return out;
}
