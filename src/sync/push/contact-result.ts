/**
 * Turns Intercom's answer to a contact write into what the finish transaction records: base := the answer, the
 * mapping active under the answering id, the remote-only fields copied onto the row, one audit row.
 */
import type { AuditEntry } from '../../db/queries/audit.ts';
import type { MappingWrite } from '../../db/queries/mappings.ts';
import type { IntercomContact } from '../../intercom/payloads.ts';
import type { Outcome } from '../outcome.ts';
import { contactExternalKey, keepLeadExternalId } from '../identity.ts';
import { changeName, sentValues, setValueAt, valueAt } from '../sent-values.ts';
import {
  contactFromLocal,
  contactFromRemote,
  contactSnapshotSchema,
  fieldChanges,
  same,
  snapshotHash,
  type ContactSnapshot,
  type LocalContactRow,
} from '../snapshot.ts';
import { auditBase, requestIdOf, type PushContext, type Step } from './context.ts';
import { remoteOnlyPatch, sentFields } from './diff.ts';
import type { OutboxEntry, WriteDoubt } from './ports.ts';

export function contactKey(local: ContactSnapshot): string | null {
  // Users without an external_id are found again by email, like leads (Intercom 409s on that duplicate too).
  return contactExternalKey(local) ?? (local.email ? local.email.toLowerCase() : null);
}

export function contactFinish(
  ctx: PushContext,
  entry: OutboxEntry,
  o: {
    expectBaseHash: string | null;
    response: IntercomContact;
    /** What the sent body was diffed against: the fields the row did not change are "agreed" at these values. */
    agreedBase: ContactSnapshot;
    /** The base the audit reports changes from (null for a create). */
    auditBase: ContactSnapshot | null;
    local: ContactSnapshot;
    body: object | null;
    action: string;
    outcome: Outcome;
    requestId?: string | null;
    details?: Record<string, unknown>;
    /** Doubts this answer settles (sync_write_doubts ids). */
    settledDoubts?: readonly number[];
    /** More mapping writes in the same transaction (a re-created row taking over its predecessor's contact). */
    extraMappings?: MappingWrite[];
    /** Our update writes to this contact still in doubt (not settled by this answer): see heldEchoes. */
    openDoubts?: readonly Pick<WriteDoubt, 'op' | 'fields'>[];
  },
): Step {
  const sent = sentFields(o.body);
  const snap = heldEchoes(keepLeadExternalId(contactFromRemote(o.response), o.local), o.agreedBase, o.body, o.openDoubts ?? []);
  const changes = fieldChanges(o.auditBase, o.local);
  for (const k of Object.keys(changes)) if (!sent.has(k)) delete changes[k];
  return {
    kind: 'finish',
    outcome: o.outcome,
    write: {
      expectBaseHash: o.expectBaseHash,
      guard: { entity: 'contact', localId: entry.localId },
      mappings: [
        ...(o.extraMappings ?? []),
        {
          entityType: 'contact',
          localId: entry.localId,
          intercomId: o.response.id,
          externalKey: contactKey(o.local),
          status: 'active',
          baseSnapshot: snap,
          baseHash: snapshotHash(snap),
          remoteUpdatedAt: new Date(o.response.updatedAt * 1000),
        },
      ],
      localPatches: [
        {
          entity: 'contact',
          localId: entry.localId,
          compute: (row) => remoteOnlyPatch(o.agreedBase, snap, contactFromLocal(row), sent),
          // A remote change the answer carried and the row takes is a pull-direction change: audited as one. (What a
          // create's answer fills in is part of the create and its audit row.)
          ...(o.action === 'create' ? {} : { audit: (before: LocalContactRow, patch: Partial<ContactSnapshot>): AuditEntry => ({
            runId: ctx.runId,
            direction: 'pull',
            entityType: 'contact',
            localId: entry.localId,
            intercomId: o.response.id,
            externalKey: contactKey(o.local),
            action: 'update',
            changes: patchChanges(contactFromLocal(before), patch),
            details: { recorded_by: 'push', reason: "Intercom's answer to our write held a change made in Intercom" },
          }) }),
        },
      ],
      audit: [
        {
          ...auditBase(ctx, entry),
          intercomId: o.response.id,
          externalKey: contactKey(o.local),
          action: o.action,
          changes,
          requestId: o.requestId ?? requestIdOf(o.response),
          details: o.details ?? null,
        },
      ],
      settledDoubts: o.settledDoubts ?? [],
    },
  };
}

/**
 * Our own in-doubt write landing late can show up in the answer to a newer write of ours: a field we did not send
 * now holds a value we sent earlier (a PUT whose answer was lost, applied after a remote edit). Taken as a remote
 * change, it would be copied onto the row and made the base, with no echo check and no audit (chaos seed 4). Such
 * fields keep the agreed base's value here — not copied, not agreed — so the next pull sees Intercom differ from the
 * base and decides with the echo rule (src/sync/pull/echo.ts), which keeps the newer local value and pushes it again.
 */
export function heldEchoes(
  snap: ContactSnapshot,
  agreed: ContactSnapshot,
  body: object | null,
  doubts: readonly Pick<WriteDoubt, 'op' | 'fields'>[],
): ContactSnapshot {
  // What this write itself sent is its own answer, not a late one: those fields and attributes are left alone.
  const sent = sentValues(body ? [{ fields: body as Record<string, unknown> }] : []).map(changeName);
  const out: Record<string, unknown> = { ...snap };
  let held = false;
  for (const v of sentValues(doubts.filter((d) => d.op === 'update'))) {
    if (!(v.field in snap) || sent.includes(changeName(v))) continue;
    const r = valueAt(out, v);
    if (!same(v.value, r) || same(r, valueAt(agreed, v))) continue;
    setValueAt(out, v, valueAt(agreed, v));
    held = true;
  }
  // Only values taken from the agreed snapshot were put in: the parse cannot fail, it restores the type.
  return held ? contactSnapshotSchema.parse(out) : snap;
}

function patchChanges(before: ContactSnapshot, patch: Partial<ContactSnapshot>): Record<string, { before: unknown; after: unknown }> {
  const b: Readonly<Record<string, unknown>> = before;
  return Object.fromEntries(Object.entries(patch).map(([k, v]) => [k, { before: b[k] ?? null, after: v ?? null }]));
}
