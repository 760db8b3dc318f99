/**
 * Soft (deleted_at) and hard deletes reach Intercom per DELETE_MODE: archive (default; reversible, keeps the
 * external_id reserved), delete (contacts are hard-deleted, the external_id is free again), ignore. Intercom has no
 * company archive: DELETE /companies/{id} is its archive (Intercom-OpenAPI descriptions/2.14, deleteCompany), used by both archive and delete.
 * A 404 means Intercom no longer has it: the wish is already fulfilled.
 */
import type { LinkedMapping, Mapping, MappingEntity } from '../../db/queries/mappings.ts';
import { isLinked } from '../linked.ts';
import { auditBase, noop, type PushContext, type Step } from './context.ts';
import { is } from './lookup.ts';
import type { OutboxEntry } from './ports.ts';

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
  let target: LinkedMapping<'contact'>;
  if (linked(mapping)) {
    if (mapping.status === 'archived' && mode === 'archive') return noop('unchanged');
    target = mapping;
  } else if (mapping?.status === 'pending' && externalId) {
    // A create may have happened before a crash: find what it made rather than leave it behind.
    const found = await ctx.gateway.findContactByExternalId(externalId, 'push');
    if (!found) return noop('skipped');
    target = { ...mapping, intercom_id: found.id };
  } else {
    return noop('skipped');
  }
  try {
    if (mode === 'archive') await ctx.gateway.archiveContact(target.intercom_id, 'push');
    else await ctx.gateway.deleteContact(target.intercom_id, 'push');
  } catch (err) {
    if (!is(err, 404)) throw err;
  }
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
    },
  };
}

export async function deleteCompany(ctx: PushContext, entry: OutboxEntry, mapping: Mapping<'company'> | null): Promise<Step> {
  if (ctx.config.deleteMode === 'ignore') return noop('skipped');
  if (!linked(mapping) || mapping.status === 'archived') return noop('skipped');
  try {
    await ctx.gateway.deleteCompany(mapping.intercom_id, 'push');
  } catch (err) {
    if (!is(err, 404)) throw err;
  }
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
