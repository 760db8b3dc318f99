/**
 * Our own late writes, seen by the pull (docs/guarantees.md, "Late writes"). A PUT whose answer was lost
 * (timeout, dropped connection, 5xx) stays "in doubt" (sync_write_doubts): Intercom may apply it after a newer PUT
 * succeeded. A pulled value that equals one of our in-doubt writes, differs from the last agreed base and from the
 * local row is that write landing late — an echo, not a remote edit. The local value stands, the base takes the
 * remote value (so the push diff sends the local one again), and the entity is queued for a push.
 *
 * Known limit: a person who, inside the doubt window, sets a field in Intercom to exactly a value we wrote moments
 * earlier and have since replaced is taken for the echo; the local value wins. The window is WRITE_DOUBT_WINDOW_SECONDS.
 */
import type { WriteDoubt } from '../push/ports.ts';
import { contactSnapshotSchema, same, type ContactSnapshot } from '../snapshot.ts';
import { changeName, sentValues, setValueAt, valueAt } from '../sent-values.ts';

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
  const out: Record<string, unknown> = { ...remote };
  const fields: Echoes['fields'] = {};
  for (const v of sentValues(doubts)) {
    if (!(v.field in remote)) continue;
    const r = valueAt(remote, v);
    if (!same(v.value, r) || same(r, valueAt(base, v)) || same(valueAt(local, v), r)) continue;
    setValueAt(out, v, valueAt(local, v));
    fields[changeName(v)] = { before: r ?? null, after: valueAt(local, v) ?? null };
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
 *
 * What Intercom shows proves as few writes as explain it: of two timed-out PUTs with the same body, one landing looks
 * exactly like both. So a doubt whose every shown field is already explained by a doubt settled here stays open (the
 * write with the most shown fields is taken first, the oldest among equals): it may still be on its way, and if it
 * lands after our next push its doubt is what lets the next pull take it for our echo rather than a remote edit.
 */
export function findLanded(
  base: ContactSnapshot | null,
  remote: ContactSnapshot,
  doubts: readonly Pick<WriteDoubt, 'id' | 'op' | 'fields'>[],
): Landed[] {
  const byDoubt = new Map<number, Landed>();
  for (const v of sentValues(doubts.filter((d) => d.op === 'update'))) {
    if (!(v.field in remote) || !same(v.value, valueAt(remote, v)) || same(v.value, valueAt(base, v))) continue;
    const landed = byDoubt.get(v.doubt.id) ?? { doubtId: v.doubt.id, changes: {} };
    landed.changes[changeName(v)] = { before: valueAt(base, v) ?? null, after: v.value ?? null };
    byDoubt.set(v.doubt.id, landed);
  }
  const byMostShown = [...byDoubt.values()].sort((a, b) => Object.keys(b.changes).length - Object.keys(a.changes).length || a.doubtId - b.doubtId);
  const explained = new Set<string>();
  const proved: Landed[] = [];
  for (const l of byMostShown) {
    const shown = Object.keys(l.changes);
    if (shown.every((f) => explained.has(f))) continue;
    for (const f of shown) explained.add(f);
    proved.push(l);
  }
  return proved.sort((a, b) => a.doubtId - b.doubtId);
}
