/**
 * Turns Intercom's answer to a contact write into what the finish transaction records: base := the answer, the
 * mapping active under the answering id, the remote-only fields copied onto the row, one audit row.
 */
import type { MappingWrite } from '../../db/queries/mappings.ts';
import type { IntercomContact } from '../../intercom/payloads.ts';
import type { Outcome } from '../outcome.ts';
import { contactExternalKey, keepLeadExternalId } from '../identity.ts';
import {
  contactFromLocal,
  contactFromRemote,
  fieldChanges,
  snapshotHash,
  type ContactSnapshot,
} from '../snapshot.ts';
import { auditBase, requestIdOf, type PushContext, type Step } from './context.ts';
import { remoteOnlyPatch, sentFields } from './diff.ts';
import type { OutboxEntry } from './ports.ts';

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
  },
): Step {
  const snap = keepLeadExternalId(contactFromRemote(o.response), o.local);
  const sent = sentFields(o.body);
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
