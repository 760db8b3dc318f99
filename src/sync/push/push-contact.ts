/**
 * One contact entry: decide which of delete, merge, update or create the row asks for.
 */
import { isLinked } from '../linked.ts';
import { contactFromLocal, type LocalContactRow } from '../snapshot.ts';
import { noop, type PushContext, type Step } from './context.ts';
import { createContact } from './create-contact.ts';
import { deleteContact } from './delete-entity.ts';
import { mergeLead } from './merge-lead.ts';
import type { OutboxEntry } from './ports.ts';
import { updateContact } from './update-contact.ts';

export async function pushContact(ctx: PushContext, entry: OutboxEntry): Promise<Step> {
  const row = await ctx.store.contact(entry.localId);
  const mapping = await ctx.store.mapping('contact', entry.localId);
  if (!row || row.deleted_at) {
    const externalId = row?.external_id ?? mapping?.base_snapshot?.external_id ?? null;
    return deleteContact(ctx, entry, mapping, externalId);
  }
  if (row.merge_into_id !== null) return mergeLead(ctx, entry, row as LocalContactRow & { merge_into_id: number });
  if (mapping?.status === 'merged') return noop('skipped');
  if (mapping?.status === 'ambiguous') {
    return {
      kind: 'dead',
      outcome: 'failed',
      error: `contact ${row.id}: ${mapping.status_reason ?? 'identity is ambiguous'}; fix the data, then requeue`,
      audit: { action: 'dead', intercomId: mapping.intercom_id, externalKey: mapping.external_key },
    };
  }
  const local = contactFromLocal(row);
  if (isLinked(mapping) && (mapping.status === 'active' || mapping.status === 'conflict' || mapping.status === 'archived')) {
    return updateContact(ctx, entry, row, local, mapping);
  }
  return createContact(ctx, entry, row, local);
}
