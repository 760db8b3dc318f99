/**
 * A contact we archived because its local row was deleted (DELETE_MODE=archive), seen live again in Intercom
 * (docs/guarantees.md, "Revived contacts"). Intercom unarchives an archived contact by itself when that person is
 * seen again (help article https://www.intercom.com/help/en/articles/8851551; docs/simulator.md "The archived 409, and contacts seen again"), so the local delete and the
 * revival are a conflict about the contact's existence, decided by CONFLICT_POLICY and recorded as one:
 *   - remote wins (remote_wins, or newest_wins when the revival is newer than the local delete): the local row
 *     comes back — a soft-deleted row is restored, a hard-deleted one is inserted again from Intercom — and links;
 *   - local wins (local_wins, or newest_wins when the delete is newer): the contact is archived again, once.
 * Each decision answers one remote event (the revival moves updated_at), so the daemon never alternates by itself:
 * a pulled contact whose updated_at is not newer than what we last synced is a read from before our archive
 * landed, and is left alone.
 */
import type { Mapping } from '../../db/queries/mappings.ts';
import type { IntercomContact } from '../../intercom/payloads.ts';
import type { Outcome } from '../outcome.ts';
import { contactExternalKey } from '../identity.ts';
import { contactFromRemote, snapshotHash } from '../snapshot.ts';
import { pullAudit, type ApplyContext } from './apply-context.ts';
import type { ApplyTx } from './ports.ts';

export type RevivalDecision = 'revive' | 'rearchive' | 'stale';

export function decideRevival(o: {
  policy: ApplyContext['policy'];
  /** Unix ms of the local delete: deleted_at, or when we archived (hard deletes leave no row). */
  localDeletedAtMs: number;
  /** Unix seconds. */
  remoteUpdatedAt: number;
  /** Unix ms of the remote updated_at we last synced, or null. */
  lastSyncedRemoteMs: number | null;
}): RevivalDecision {
  if (o.lastSyncedRemoteMs !== null && o.remoteUpdatedAt * 1000 <= o.lastSyncedRemoteMs) return 'stale';
  if (o.policy === 'remote_wins') return 'revive';
  if (o.policy === 'local_wins') return 'rearchive';
  // Ties go to Intercom, as in the field merge: its timestamps are whole seconds.
  return o.remoteUpdatedAt * 1000 >= Math.floor(o.localDeletedAtMs / 1000) * 1000 ? 'revive' : 'rearchive';
}

/**
 * Returns the outcome, or null when the contact should be applied as usual afterwards (a restored soft-deleted
 * row, or a hard-deleted one to insert again: the caller's normal paths do that).
 */
export async function applyRevival(
  tx: ApplyTx,
  c: IntercomContact,
  mapping: Mapping & { status: 'archived' },
  ctx: ApplyContext,
): Promise<{ outcome: Outcome } | { reapply: true }> {
  const local = await tx.contact(mapping.local_id);
  const localDeletedAtMs = local?.deleted_at?.getTime() ?? mapping.last_synced_at?.getTime() ?? 0;
  const decision = decideRevival({
    policy: ctx.policy,
    localDeletedAtMs,
    remoteUpdatedAt: c.updatedAt,
    lastSyncedRemoteMs: believedRemoteMs(mapping.remote_updated_at, ctx.futureLimit),
  });
  if (decision === 'stale') return { outcome: 'unchanged' };
  const remote = contactFromRemote(c);
  const winner = decision === 'revive' ? 'remote' : 'local';
  const audit = pullAudit(ctx, {
    entityType: 'contact',
    localId: mapping.local_id,
    intercomId: c.id,
    externalKey: contactExternalKey(remote),
    action: 'conflict',
    changes: { deleted: { before: true, after: winner === 'local' } },
    details: {
      reason: 'revived in Intercom after a local delete (Intercom unarchives a contact that is seen again)',
      policy: ctx.policy,
      winner,
      local_deleted_at: new Date(localDeletedAtMs).toISOString(),
      remote_updated_at: c.updatedAt,
      row: local ? 'soft-deleted' : 'hard-deleted',
    },
  });
  if (decision === 'rearchive') {
    // The mapping is live again as far as Intercom is concerned; the queued push archives it once more.
    await tx.upsertMapping({
      entityType: 'contact',
      localId: mapping.local_id,
      intercomId: c.id,
      externalKey: mapping.external_key,
      status: 'active',
      baseSnapshot: remote,
      baseHash: snapshotHash(remote),
      remoteUpdatedAt: new Date(c.updatedAt * 1000),
    });
    await tx.audit([audit]);
    await tx.requestPush('contact', mapping.local_id, []);
    return { outcome: 'conflict' };
  }
  await tx.audit([audit]);
  if (local) {
    await tx.restoreContact(local.id);
  } else {
    // The row is gone for good: the revived contact comes back as a new local row (the caller inserts it).
    await tx.setMappingStatus('contact', mapping.local_id, 'deleted', `revived in Intercom as ${c.id} after the row was deleted`);
    await tx.releaseMappingIntercomId('contact', mapping.local_id);
  }
  return { reapply: true };
}

/** A synced remote_updated_at from the future (stored before future.ts) proves no read stale: it counts as unknown. */
function believedRemoteMs(at: Date | null, futureLimit: number | undefined): number | null {
  if (at === null) return null;
  return futureLimit !== undefined && at.getTime() > futureLimit * 1000 ? null : at.getTime();
}
