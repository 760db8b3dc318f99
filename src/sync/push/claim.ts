/**
 * Who may act on an Intercom contact when several local rows share its key (docs/guarantees.md, "Re-created
 * contacts"). Rows with the same external_id (or a lead's email) follow each other when an application deletes and
 * re-inserts them, and each row's outbox entry decides on its own, at its own time, after its own back-off: an archive
 * decided for a deleted row could run seconds after a newer row had taken the contact over, archive it under the
 * newer row and take its mapping away (an attack of 100 rapid insert/update/delete cycles per key, 1 key in 53).
 *
 * So every archive, delete and takeover records its write in doubt through PushStorePort.claimContact, which holds a
 * lock on the contact id and reads, in the same transaction, who else has a say:
 *   - a removal (archive or delete) decided for a row never acts on a contact that another LIVE row holds (its mapping)
 *     or is taking over (its write to it in doubt): the entry finishes as superseded, audited, with no request;
 *   - a takeover waits while a removal decided for another row is in flight (its doubt recorded and its entry still
 *     pending): the removal goes first and the takeover then brings the contact back, as when the old row's delete is
 *     queued (create-contact.ts); it never takes a contact another live row holds (ambiguous, as before) and waits
 *     while another live row is taking it over; a row deleted since its entry read it takes nothing over.
 * Whichever decision records its doubt first is seen by the other, so the two cannot both act.
 */
import type { ContactClaimFacts, WriteDoubtInput } from './ports.ts';
import type { PushContext } from './context.ts';
import { doubtWindowSeconds } from './doubt.ts';

export type ClaimPurpose = 'remove' | 'takeover';

export type ClaimRefusal =
  /** Another live row's mapping holds the contact, or its write to the contact is in doubt (a takeover under way). */
  | { kind: 'held'; localId: number; by: 'mapping' | 'write' }
  /** takeover: the claiming row was deleted since its entry read it; the entry runs again as a delete. */
  | { kind: 'row-gone' }
  /** takeover: an archive or delete decided for another row is in flight. */
  | { kind: 'removing'; localId: number };

export function claimRefusal(purpose: ClaimPurpose, f: ContactClaimFacts): ClaimRefusal | null {
  if (purpose === 'takeover' && !f.selfLive) return { kind: 'row-gone' };
  const mapped = f.heldBy[0];
  if (mapped !== undefined) return { kind: 'held', localId: mapped, by: 'mapping' };
  const removing = f.removingBy[0];
  if (purpose === 'takeover' && removing !== undefined) return { kind: 'removing', localId: removing };
  const writing = f.claimedBy[0];
  if (writing !== undefined) return { kind: 'held', localId: writing, by: 'write' };
  return null;
}

/** Records the write's doubt if the row may act on the contact now; otherwise says why not (nothing recorded). */
export async function claimContact(
  ctx: PushContext,
  doubt: WriteDoubtInput & { intercomId: string },
  purpose: ClaimPurpose,
): Promise<{ doubtId: number } | { refused: ClaimRefusal }> {
  const r = await ctx.store.claimContact(doubt, doubtWindowSeconds(ctx), (f) => claimRefusal(purpose, f) === null);
  if (r.doubtId !== null) return { doubtId: r.doubtId };
  const refused = claimRefusal(purpose, r.facts);
  if (!refused) throw new Error(`contact ${doubt.localId}: the claim on Intercom contact ${doubt.intercomId} was refused without a reason`);
  return { refused };
}
