/**
 * contacts.merge_into_id asks for a lead → user merge in Intercom (POST /contacts/merge). Intercom merges leads into
 * users only; every other combination is refused here with a message saying which row is what.
 */
import { fromUnix, contactFromLocal, contactFromRemote, snapshotHash, type LocalContactRow } from '../snapshot.ts';
import type { IntercomContact } from '../../intercom/payloads.ts';
import { auditBase, noop, requestIdOf, type PushContext, type Step } from './context.ts';
import { remoteOnlyPatch } from './diff.ts';
import { getContactOrNull, is } from './lookup.ts';
import type { OutboxEntry } from './ports.ts';

function refuse(row: LocalContactRow, why: string): Step {
  return {
    kind: 'dead',
    outcome: 'invalid',
    error: `contact ${row.id}: merge_into_id ${row.merge_into_id}: ${why}`,
    audit: { action: 'invalid', intercomId: row.intercom_id, externalKey: row.external_id, details: { field: 'merge_into_id' } },
  };
}

export async function mergeLead(ctx: PushContext, entry: OutboxEntry, row: LocalContactRow & { merge_into_id: number }): Promise<Step> {
  if (row.role !== 'lead') return refuse(row, `Intercom merges leads into users only, and contact ${row.id} is a ${row.role}`);
  const target = await ctx.store.contact(row.merge_into_id);
  if (!target || target.deleted_at) return refuse(row, `contact ${row.merge_into_id} does not exist or is deleted`);
  if (target.role !== 'user') return refuse(row, `contact ${target.id} is a ${target.role}; a lead can only be merged into a user`);

  const leadMap = await ctx.store.mapping('contact', row.id);
  if (leadMap?.status === 'merged') return noop('unchanged');
  // The lead never reached Intercom (this entry is the one that would have created it): the merge is local only.
  if (!leadMap?.intercom_id) return noop('skipped');
  const userMap = await ctx.store.mapping('contact', target.id);
  if (!userMap?.intercom_id || (userMap.status !== 'active' && userMap.status !== 'conflict')) {
    if (await ctx.store.hasPendingEntry('contact', target.id)) {
      return { kind: 'defer', reason: `user ${target.id} is not linked to Intercom yet`, delayMs: 250 };
    }
    return refuse(row, `user ${target.id} is not linked to an Intercom contact (status ${userMap?.status ?? 'none'})`);
  }

  let survivor: IntercomContact;
  try {
    survivor = await ctx.gateway.mergeContacts(leadMap.intercom_id, userMap.intercom_id, 'push');
  } catch (err) {
    // A merge whose answer was lost leaves the lead answering 404: the user is the survivor already.
    if (!is(err, 404)) throw err;
    const user = await getContactOrNull(ctx.gateway, userMap.intercom_id);
    if (!user || (await getContactOrNull(ctx.gateway, leadMap.intercom_id))) throw err;
    survivor = user;
  }
  const snap = contactFromRemote(survivor);
  const userBase = userMap.base_snapshot ?? contactFromLocal(target);
  return {
    kind: 'finish',
    outcome: 'merged',
    write: {
      expectBaseHash: leadMap.base_hash,
      guard: { entity: 'contact', localId: row.id },
      mappings: [
        {
          entityType: 'contact',
          localId: row.id,
          intercomId: null,
          externalKey: leadMap.external_key,
          status: 'merged',
          mergedInto: survivor.id,
          baseSnapshot: leadMap.base_snapshot,
          baseHash: leadMap.base_hash,
          remoteUpdatedAt: leadMap.remote_updated_at,
        },
        {
          entityType: 'contact',
          localId: target.id,
          intercomId: survivor.id,
          externalKey: userMap.external_key,
          status: 'active',
          baseSnapshot: snap,
          baseHash: snapshotHash(snap),
          remoteUpdatedAt: fromUnix(survivor.updatedAt),
        },
      ],
      // The user gained the lead's fields in Intercom; the user row takes those it had not changed itself.
      localPatches: [
        { entity: 'contact', localId: target.id, compute: (r) => remoteOnlyPatch(userBase, snap, contactFromLocal(r), new Set()) },
      ],
      audit: [
        {
          ...auditBase(ctx, entry),
          intercomId: leadMap.intercom_id,
          externalKey: leadMap.external_key,
          action: 'merge',
          requestId: requestIdOf(survivor),
          details: { into_intercom_id: survivor.id, into_local_id: target.id },
        },
      ],
    },
  };
}
