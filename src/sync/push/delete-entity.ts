/**
 * Soft (deleted_at) and hard deletes reach Intercom per DELETE_MODE: archive (default; reversible, keeps the
 * external_id reserved), delete (contacts are hard-deleted, the external_id is free again), ignore. Intercom has no
 * company archive: DELETE /companies/{id} is its archive (Intercom-OpenAPI descriptions/2.14, deleteCompany), used by both archive and delete.
 * A 404 means Intercom no longer has it: the wish is already fulfilled.
 */
import type { LinkedMapping, Mapping, MappingEntity } from '../../db/queries/mappings.ts';
import { isLinked } from '../linked.ts';
import { auditBase, noop, type PushContext, type Step } from './context.ts';
import { claimContact, type ClaimRefusal } from './claim.ts';
import { archiveStateDoubts, createDoubts, doubtWindowSeconds, mayHaveLeft, resolveCreateDoubts, sendRecorded } from './doubt.ts';
import { goneIsDone } from './lookup.ts';
import type { OutboxEntry, WriteDoubt } from './ports.ts';

const linked = <E extends MappingEntity>(m: Mapping<E> | null): m is LinkedMapping<E> =>
  isLinked(m) && (m.status === 'active' || m.status === 'conflict' || m.status === 'archived');

export async function deleteContact(
  ctx: PushContext,
  entry: OutboxEntry,
  mapping: Mapping<'contact'> | null,
  externalId: string | null,
): Promise<Step> {
  const mode = ctx.config.deleteMode;
  if (mode === 'ignore') return noop('skipped');
  let target: DeleteTarget;
  let settledDoubts: number[] = [];
  // Delete mode records its removals as archive-state doubts too (./claim.ts): its finish settles them alike.
  const stateDoubts = await archiveStateDoubts(ctx, entry.localId);
  if (linked(mapping)) {
    // Archived and recorded, and no unarchive of ours may have undone it since: nothing to send.
    if (mapping.status === 'archived' && mode === 'archive' && !mayHaveLeft(stateDoubts, false)) {
      await ctx.store.settleWriteDoubts(stateDoubts.map((d) => d.id));
      return noop('unchanged');
    }
    target = mapping;
  } else if (mapping === null || mapping.status === 'pending') {
    // Never linked. A re-created key's create may have taken over the old row's contact and unarchived it (or written
    // to it) before its link committed: that contact is the row's to archive again (chaos seed 20).
    const touched = (await ctx.store.writeDoubts('contact', entry.localId, doubtWindowSeconds(ctx))).filter(
      (d): d is WriteDoubt & { intercomId: string } => d.op === 'update' && d.intercomId !== null,
    );
    const last = touched.at(-1);
    if (last) {
      settledDoubts = touched.map((d) => d.id);
      target = { intercom_id: last.intercomId, external_key: mapping?.external_key ?? externalId, base_snapshot: null, base_hash: null, remote_updated_at: null };
      return archiveTarget(ctx, entry, mapping, target, [...settledDoubts, ...stateDoubts.map((d) => d.id)]);
    }
    // With no create in doubt the row never reached Intercom, and deleting it is a no-op (docs/guarantees.md "Re-created contacts"). Otherwise a lost
    // answer may have made a contact: find it by what was sent, exactly as a new create would.
    const doubts = await createDoubts(ctx, entry.localId);
    if (doubts.length === 0) return noop('skipped');
    settledDoubts = doubts.map((d) => d.id);
    const r = await resolveCreateDoubts(ctx, entry.localId, doubts, { external_id: externalId, email: null, role: 'user' });
    if (r.kind === 'wait') return { kind: 'defer', reason: r.reason, delayMs: r.delayMs };
    if (r.kind === 'absent') {
      await ctx.store.settleWriteDoubts(settledDoubts);
      return noop('skipped');
    }
    const found = r.kind === 'found' ? { id: r.contact.id, updatedAt: r.contact.updatedAt } : r.identity;
    target = {
      intercom_id: found.id,
      external_key: mapping?.external_key ?? externalId,
      base_snapshot: null,
      base_hash: null,
      remote_updated_at: found.updatedAt === null ? null : new Date(found.updatedAt * 1000),
    };
  } else {
    return noop('skipped');
  }
  return archiveTarget(ctx, entry, mapping, target, [...settledDoubts, ...stateDoubts.map((d) => d.id)]);
}

type DeleteTarget = Pick<LinkedMapping<'contact'>, 'intercom_id' | 'external_key' | 'base_snapshot' | 'base_hash' | 'remote_updated_at'>;

async function archiveTarget(
  ctx: PushContext,
  entry: OutboxEntry,
  mapping: Mapping<'contact'> | null,
  target: DeleteTarget,
  settledDoubts: number[],
): Promise<Step> {
  const mode = ctx.config.deleteMode;
  // In doubt while it is out: if nothing records the answer and the row comes back, its next push unarchives. Recorded
  // only if no newer live row holds the contact or is taking it over (./claim.ts); a delete is recorded the same way,
  // so a takeover waits for it too.
  const removal = {
    entityType: 'contact' as const,
    localId: entry.localId,
    intercomId: target.intercom_id,
    op: 'archive' as const,
    fields: mode === 'archive' ? { archived: true } : { archived: true, deleted: true },
  };
  const claim = await claimContact(ctx, removal, 'remove');
  if ('refused' in claim) return superseded(ctx, entry, mapping, target, claim.refused, settledDoubts);
  if (mode === 'archive') {
    await sendRecorded(ctx, claim.doubtId, removal, () => goneIsDone(ctx.gateway.archiveContact(target.intercom_id, 'push')));
  } else {
    await sendRecorded(ctx, claim.doubtId, removal, () => goneIsDone(ctx.gateway.deleteContact(target.intercom_id, 'push')));
  }
  settledDoubts = [...settledDoubts, claim.doubtId];
  return {
    kind: 'finish',
    outcome: 'deleted',
    write: {
      expectBaseHash: mapping?.base_hash ?? null,
      guard: { entity: 'contact', localId: entry.localId },
      mappings: [
        {
          entityType: 'contact',
          localId: entry.localId,
          // An archived contact can be unarchived if the row comes back; a deleted one is gone for good.
          intercomId: mode === 'archive' ? target.intercom_id : null,
          externalKey: target.external_key,
          status: mode === 'archive' ? 'archived' : 'deleted',
          baseSnapshot: target.base_snapshot,
          baseHash: target.base_hash,
          remoteUpdatedAt: target.remote_updated_at,
        },
      ],
      localPatches: [],
      audit: [
        {
          ...auditBase(ctx, entry),
          intercomId: target.intercom_id,
          externalKey: target.external_key,
          action: mode === 'archive' ? 'archive' : 'delete',
        },
      ],
      settledDoubts,
    },
  };
}

/**
 * The archive or delete was decided for this row, but another live row now holds its contact or is taking it over
 * (a key deleted and re-created): nothing is sent. The row lets go of the contact and the decision is audited.
 */
function superseded(
  ctx: PushContext,
  entry: OutboxEntry,
  mapping: Mapping<'contact'> | null,
  target: DeleteTarget,
  refused: ClaimRefusal,
  settledDoubts: number[],
): Step {
  const holder = refused.kind === 'held' ? refused.localId : null;
  const reason =
    refused.kind === 'held'
      ? `deleted locally; its Intercom contact ${target.intercom_id} belongs to live local contact ${refused.localId}` +
        (refused.by === 'write' ? ', which is taking it over' : '')
      : `deleted locally; not removing Intercom contact ${target.intercom_id}: ${refused.kind}`;
  ctx.log.info({ localId: entry.localId, intercomId: target.intercom_id, heldBy: holder }, 'a removal decided for a deleted row was superseded by a newer row');
  return {
    kind: 'finish',
    outcome: 'skipped',
    write: {
      expectBaseHash: mapping?.base_hash ?? null,
      guard: { entity: 'contact', localId: entry.localId },
      mappings: mapping
        ? [
            {
              entityType: 'contact',
              localId: entry.localId,
              intercomId: null,
              externalKey: mapping.external_key ?? target.external_key,
              status: 'deleted',
              statusReason: reason,
              baseSnapshot: mapping.base_snapshot,
              baseHash: mapping.base_hash,
              remoteUpdatedAt: mapping.remote_updated_at,
            },
          ]
        : [],
      localPatches: [],
      audit: [
        {
          ...auditBase(ctx, entry),
          intercomId: target.intercom_id,
          externalKey: target.external_key,
          action: 'superseded',
          changes: {},
          details: {
            decided: ctx.config.deleteMode === 'archive' ? 'archive' : 'delete',
            held_by_local_id: holder,
            held_by: refused.kind === 'held' ? refused.by : null,
            reason,
          },
        },
      ],
      settledDoubts,
    },
  };
}

export async function deleteCompany(ctx: PushContext, entry: OutboxEntry, mapping: Mapping<'company'> | null): Promise<Step> {
  if (ctx.config.deleteMode === 'ignore') return noop('skipped');
  if (!linked(mapping) || mapping.status === 'archived') return noop('skipped');
  await goneIsDone(ctx.gateway.deleteCompany(mapping.intercom_id, 'push'));
  return {
    kind: 'finish',
    outcome: 'deleted',
    write: {
      expectBaseHash: mapping.base_hash,
      guard: { entity: 'company', localId: entry.localId },
      mappings: [
        {
          entityType: 'company',
          localId: entry.localId,
          // Intercom's company delete is final for that id: a later upsert of the same company_id makes a new one.
          intercomId: null,
          externalKey: mapping.external_key,
          status: 'deleted',
          baseSnapshot: null,
          baseHash: null,
          remoteUpdatedAt: mapping.remote_updated_at,
        },
      ],
      localPatches: [],
      audit: [{ ...auditBase(ctx, entry), intercomId: mapping.intercom_id, externalKey: mapping.external_key, action: 'delete' }],
    },
  };
}
