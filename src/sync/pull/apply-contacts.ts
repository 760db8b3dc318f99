/**
 * Applies one pulled Intercom contact to Postgres inside the page's apply transaction: find (or link, or create) its
 * local row, reconcile, write the row, the mapping and the audit, then the company associations.
 */
import type { Mapping } from '../../db/queries/mappings.ts';
import type { IntercomContact } from '../../intercom/payloads.ts';
import { contactExternalKey, decideLink } from '../identity.ts';
import type { Outcome } from '../outcome.ts';
import { contactFromLocal, contactFromRemote, snapshotHash, type ContactSnapshot, type LocalContactRow } from '../snapshot.ts';
import { pullAudit, reconcileAudits, type ApplyContext } from './apply-context.ts';
import type { ApplyTx } from './ports.ts';
import { patchOf, reconcile } from './reconcile.ts';

export interface PulledContact {
  contact: IntercomContact;
  /** Every Intercom company id the contact belongs to, or null when not known in full (associations left alone). */
  companyIds: string[] | null;
}

type LinkKind = 'link' | 'relink' | null;

export interface ApplyContactOptions {
  /** Identity already resolved (404 resolution): apply to this local row as a relink. */
  forceLocalId?: number;
}

export function isUnchanged(m: Mapping | undefined | null, c: IntercomContact, snapHash: string): boolean {
  return (
    !!m &&
    m.status === 'active' &&
    m.base_hash === snapHash &&
    m.remote_updated_at !== null &&
    Math.floor(m.remote_updated_at.getTime() / 1000) === c.updatedAt
  );
}

export async function applyContact(tx: ApplyTx, pulled: PulledContact, ctx: ApplyContext, opts: ApplyContactOptions = {}): Promise<Outcome> {
  const c = pulled.contact;
  const remote = contactFromRemote(c);
  const hash = snapshotHash(remote);

  if (opts.forceLocalId !== undefined) {
    const local = await tx.contact(opts.forceLocalId);
    if (!local) return 'skipped';
    const mapping = await tx.mappingByLocalId('contact', local.id);
    return applyToLocal(tx, pulled, remote, hash, local, mapping, 'relink', ctx);
  }

  const mapping = await tx.mappingByIntercomId('contact', c.id);
  if (mapping) {
    if (isUnchanged(mapping, c, hash)) return 'unchanged';
    const local = await tx.contact(mapping.local_id);
    // The local row is gone: a local delete is on its way to Intercom; the push decides, not the pull.
    if (!local) return 'skipped';
    return applyToLocal(tx, pulled, remote, hash, local, mapping, null, ctx);
  }

  // Unmapped Intercom contact: who is it locally?
  if (remote.external_id) {
    const local = await tx.contactByExternalId(remote.external_id);
    if (local) {
      const m = await tx.mappingByLocalId('contact', local.id);
      // Same external_id under a new Intercom id: Intercom keeps external_id unique among live contacts, so the old id
      // was merged away or the contact re-created.
      return applyToLocal(tx, pulled, remote, hash, local, m, m?.intercom_id ? 'relink' : 'link', ctx);
    }
  } else if (remote.email) {
    const decision = decideLink(await tx.unlinkedContactsByEmail(remote.email));
    if (decision.kind === 'link') {
      const m = await tx.mappingByLocalId('contact', decision.row.id);
      return applyToLocal(tx, pulled, remote, hash, decision.row, m, 'link', ctx);
    }
    if (decision.kind === 'ambiguous') {
      const ids = decision.rows.map((r) => r.id);
      for (const row of decision.rows) {
        const existing = await tx.mappingByLocalId('contact', row.id);
        await tx.upsertMapping({
          entityType: 'contact',
          localId: row.id,
          intercomId: null,
          externalKey: existing?.external_key ?? contactExternalKey(contactFromLocal(row)),
          status: 'ambiguous',
          statusReason: `Intercom contact ${c.id} matches ${ids.length} local contacts by email (${ids.join(', ')})`,
          baseSnapshot: existing?.base_snapshot ?? null,
          baseHash: existing?.base_hash ?? null,
          remoteUpdatedAt: existing?.remote_updated_at ?? null,
        });
      }
      await tx.audit([
        pullAudit(ctx, {
          entityType: 'contact',
          localId: null,
          intercomId: c.id,
          externalKey: contactExternalKey(remote),
          action: 'conflict',
          details: { reason: 'ambiguous', candidates: ids, remote_updated_at: c.updatedAt },
        }),
      ]);
      return 'conflict';
    }
  }

  const localId = await tx.insertContact(remote, c.createdAt);
  await tx.upsertMapping({
    entityType: 'contact',
    localId,
    intercomId: c.id,
    externalKey: contactExternalKey(remote),
    status: 'active',
    baseSnapshot: remote,
    baseHash: hash,
    remoteUpdatedAt: new Date(c.updatedAt * 1000),
  });
  await tx.audit([
    pullAudit(ctx, {
      entityType: 'contact',
      localId,
      intercomId: c.id,
      externalKey: contactExternalKey(remote),
      action: 'create',
      changes: Object.fromEntries(
        Object.entries(remote).map(([k, v]) => [k, { before: null, after: v }]),
      ),
    }),
  ]);
  await syncAssociations(tx, localId, pulled, ctx);
  return 'created';
}

async function applyToLocal(
  tx: ApplyTx,
  pulled: PulledContact,
  remote: ContactSnapshot,
  hash: string,
  local: LocalContactRow,
  mapping: Mapping<'contact'> | null,
  link: LinkKind,
  ctx: ApplyContext,
): Promise<Outcome> {
  const c = pulled.contact;
  const pending = await tx.hasPendingOutbox('contact', local.id);
  if (local.deleted_at !== null && pending) return 'skipped';
  const r = reconcile({
    local: contactFromLocal(local),
    remote,
    base: mapping?.base_snapshot ?? null,
    pendingLocalChange: pending,
    policy: ctx.policy,
    localUpdatedAtMs: local.updated_at.getTime(),
    remoteUpdatedAtMs: c.updatedAt * 1000,
  });
  if (Object.keys(r.changes).length > 0) await tx.updateContact(local.id, patchOf(r.target, r.changes));
  const externalKey = contactExternalKey(remote);
  await tx.upsertMapping({
    entityType: 'contact',
    localId: local.id,
    intercomId: c.id,
    externalKey,
    status: 'active',
    statusReason: link === 'relink' ? `relinked from ${mapping?.intercom_id ?? 'unknown'}` : null,
    baseSnapshot: remote,
    baseHash: hash,
    remoteUpdatedAt: new Date(c.updatedAt * 1000),
  });
  const base = { entityType: 'contact' as const, localId: local.id, intercomId: c.id, externalKey };
  const audits = reconcileAudits(
    ctx,
    base,
    r,
    link
      ? {
          kind: link,
          previousIntercomId: mapping?.intercom_id ?? null,
          details: { reason: 'external_id seen with a new Intercom id' },
        }
      : null,
  );
  await tx.audit(audits);
  await syncAssociations(tx, local.id, pulled, ctx);
  if (r.conflicts.length > 0) return 'conflict';
  if (link) return 'linked';
  return Object.keys(r.changes).length > 0 ? 'updated' : 'unchanged';
}

/**
 * Makes contact_companies match Intercom for this contact, for companies both sides know. Pairs with a pending local
 * change are left to the push; companies not yet mapped are left for the companies pull.
 */
async function syncAssociations(tx: ApplyTx, contactId: number, pulled: PulledContact, ctx: ApplyContext): Promise<void> {
  if (pulled.companyIds === null) return;
  const wanted = new Map(
    (await tx.mappingsByIntercomIds('company', pulled.companyIds))
      .filter((m) => m.status === 'active')
      .map((m) => [m.local_id, m.intercom_id]),
  );
  const current = await tx.contactCompanyIds(contactId);
  const pending = new Set(await tx.pendingAssociationCompanyIds(contactId));
  const currentMapped = new Map(
    (await tx.mappingsByLocalIds('company', current)).filter((m) => m.intercom_id !== null).map((m) => [m.local_id, m.intercom_id]),
  );
  const audits = [];
  for (const [companyId, intercomCompanyId] of wanted) {
    if (current.includes(companyId) || pending.has(companyId)) continue;
    await tx.attach(contactId, companyId);
    audits.push(
      pullAudit(ctx, {
        entityType: 'contact_company',
        localId: contactId,
        intercomId: pulled.contact.id,
        externalKey: null,
        action: 'attach',
        details: { company_local_id: companyId, company_intercom_id: intercomCompanyId },
      }),
    );
  }
  for (const companyId of current) {
    if (wanted.has(companyId) || pending.has(companyId) || !currentMapped.has(companyId)) continue;
    await tx.detach(contactId, companyId);
    audits.push(
      pullAudit(ctx, {
        entityType: 'contact_company',
        localId: contactId,
        intercomId: pulled.contact.id,
        externalKey: null,
        action: 'detach',
        details: { company_local_id: companyId, company_intercom_id: currentMapped.get(companyId) ?? null },
      }),
    );
  }
  await tx.audit(audits);
}
