/**
 * contact_company entries: the op is only a hint (ARCHITECTURE.md); the table says whether the pair should be
 * attached now. Both ends must be linked first; if one is still on its way to Intercom the entry waits for it.
 */
import type { Mapping } from '../../db/queries/mappings.ts';
import { auditBase, noop, type PushContext, type Step } from './context.ts';
import { goneIsDone } from './lookup.ts';
import type { OutboxEntry } from './ports.ts';

const liveId = (m: Mapping | null): string | null =>
  m && m.intercom_id && (m.status === 'active' || m.status === 'conflict') ? m.intercom_id : null;

export async function pushAssociation(ctx: PushContext, entry: OutboxEntry): Promise<Step> {
  const contactId = entry.localId;
  const companyId = entry.relatedId;
  const [exists, contact, company, cm, com] = await Promise.all([
    ctx.store.associationExists(contactId, companyId),
    ctx.store.contact(contactId),
    ctx.store.company(companyId),
    ctx.store.mapping('contact', contactId),
    ctx.store.mapping('company', companyId),
  ]);
  const want = exists && !!contact && !contact.deleted_at && !!company && !company.deleted_at;
  const contactIntercomId = liveId(cm);
  const companyIntercomId = liveId(com);

  // An end that is not linked: wait while it is on its way to Intercom, else stop with what the operator must do.
  const unlinked = async (entity: 'contact' | 'company', id: number, map: Mapping | null): Promise<Step> => {
    if ((await ctx.store.hasPendingEntry(entity, id)) || map?.status === 'pending') {
      return { kind: 'defer', reason: `${entity} ${id} is not linked to Intercom yet`, delayMs: 250 };
    }
    return {
      kind: 'dead',
      outcome: 'failed',
      error: `contact_company ${contactId}/${companyId}: ${entity} ${id} is not linked to Intercom (status ${map?.status ?? 'none'}); push it first, then requeue`,
      audit: { action: 'dead', intercomId: contactIntercomId, externalKey: null, details: { company_local_id: companyId } },
    };
  };

  if (want) {
    if (!contactIntercomId) return unlinked('contact', contactId, cm);
    if (!companyIntercomId) return unlinked('company', companyId, com);
    await ctx.gateway.attachCompany(contactIntercomId, companyIntercomId, 'push');
  } else {
    // Nothing to detach if either end never reached Intercom or is gone from it already.
    if (!contactIntercomId || !companyIntercomId) return noop('skipped');
    await goneIsDone(ctx.gateway.detachCompany(contactIntercomId, companyIntercomId, 'push'));
  }
  return {
    kind: 'finish',
    outcome: 'updated',
    write: {
      expectBaseHash: null,
      guard: null,
      mappings: [],
      localPatches: [],
      audit: [
        {
          ...auditBase(ctx, entry),
          intercomId: contactIntercomId,
          externalKey: null,
          action: want ? 'attach' : 'detach',
          details: { company_local_id: companyId, company_intercom_id: companyIntercomId },
        },
      ],
    },
  };
}
