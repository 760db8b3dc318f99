/**
 * A mapped contact answered 404: find who it became (identity.ts decides), then apply that decision in one
 * transaction — merged into another local contact, relinked to its new id, marked ambiguous, or marked deleted.
 */
import { embeddedCompanyIds } from './embedded-companies.ts';
import type { LinkedMapping } from '../../db/queries/mappings.ts';
import { actionForFound, contactExternalKey, resolveMissingContact, type RemoteLookupPort } from '../identity.ts';
import type { Outcome } from '../outcome.ts';
import { pullAudit } from './apply-context.ts';
import { applyContact, remoteSnapshot } from './apply-contacts.ts';
import type { RunDeps } from './run-deps.ts';

export function remoteLookup(deps: RunDeps): RemoteLookupPort {
  return {
    findContactByExternalId: (x) => deps.gateway.findContactByExternalId(x, 'pull'),
    async searchContactsByEmail(email) {
      const page = await deps.gateway.searchContacts({ query: { field: 'email', operator: '=', value: email }, perPage: 50 }, 'pull');
      return page.data;
    },
  };
}

export async function resolveMissingContactMapping(deps: RunDeps, mapping: LinkedMapping<'contact'>): Promise<Outcome> {
  const { ctx, store } = deps;
  const base = mapping.base_snapshot;
  const goneId = mapping.intercom_id;
  const res = await resolveMissingContact(remoteLookup(deps), {
    intercomId: goneId,
    externalId: base?.external_id ?? null,
    email: base?.email ?? null,
    role: base?.role ?? 'user',
  });
  const auditBase = { entityType: 'contact' as const, localId: mapping.local_id, intercomId: goneId, externalKey: mapping.external_key };

  if (res.kind === 'found') {
    const c = res.contact;
    const owner = (await store.mappingsByIntercomIds('contact', [c.id])).find((m) => m.status === 'active') ?? null;
    const action = actionForFound(mapping.local_id, owner?.local_id ?? null);
    // An incomplete embedded list leaves associations as they are (null); the next pull of the contact fetches them.
    const pulled = { contact: c, companyIds: embeddedCompanyIds(c), ...remoteSnapshot(c) };
    return store.applyTransaction(async (tx) => {
      if (action.kind === 'relink') return applyContact(tx, pulled, ctx, { forceLocalId: mapping.local_id });
      await tx.markContactMerged(mapping.local_id, action.intoLocalId);
      await tx.setMappingStatus('contact', mapping.local_id, 'merged', `Intercom contact ${goneId} was merged into ${c.id}`, c.id);
      await tx.audit([
        pullAudit(ctx, {
          ...auditBase,
          action: 'merge',
          changes: { intercom_id: { before: goneId, after: null }, merge_into_id: { before: null, after: action.intoLocalId } },
          details: { merged_into: c.id, into_local_id: action.intoLocalId, found_by: res.via },
        }),
      ]);
      await applyContact(tx, pulled, ctx);
      return 'merged' as const;
    });
  }

  return store.applyTransaction(async (tx) => {
    if (res.kind === 'ambiguous') {
      await tx.setMappingStatus('contact', mapping.local_id, 'ambiguous', `Intercom contact ${goneId} answers 404; candidates ${res.candidates.join(', ')}`);
      await tx.audit([pullAudit(ctx, { ...auditBase, action: 'conflict', details: { reason: 'ambiguous', candidates: res.candidates } })]);
      return 'conflict' as const;
    }
    await tx.setMappingStatus('contact', mapping.local_id, 'deleted', `Intercom contact ${goneId} answers 404 and no contact matches its external_id or email`);
    // A pending local change keeps the row alive: the push decides whether it re-creates the contact.
    const pending = await tx.hasPendingOutbox('contact', mapping.local_id);
    if (!pending) await tx.softDeleteContact(mapping.local_id);
    await tx.audit([
      pullAudit(ctx, {
        ...auditBase,
        externalKey: mapping.external_key ?? (base ? contactExternalKey(base) : null),
        action: 'delete',
        details: { reason: 'not_found', local_row_kept: pending },
      }),
    ]);
    return 'deleted' as const;
  });
}
