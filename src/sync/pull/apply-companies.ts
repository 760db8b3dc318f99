/** Applies one pulled Intercom company inside the page's apply transaction (same rules as contacts, keyed on company_id). */
import type { Mapping } from '../../db/queries/mappings.ts';
import type { IntercomCompany } from '../../intercom/payloads.ts';
import type { Outcome } from '../outcome.ts';
import { companyFromLocal, companyFromRemote, snapshotHash } from '../snapshot.ts';
import { creationChanges, isStaleRead, pullAudit, reconcileAudits, type ApplyContext } from './apply-context.ts';
import type { ApplyTx } from './ports.ts';
import { patchOf, reconcile } from './reconcile.ts';

export function isCompanyUnchanged(m: Mapping | undefined | null, c: IntercomCompany): boolean {
  return (
    !!m &&
    m.status === 'active' &&
    m.base_hash === snapshotHash(companyFromRemote(c)) &&
    m.remote_updated_at !== null &&
    Math.floor(m.remote_updated_at.getTime() / 1000) === c.updatedAt
  );
}

export async function applyCompany(tx: ApplyTx, c: IntercomCompany, ctx: ApplyContext): Promise<Outcome> {
  const remote = companyFromRemote(c);
  const hash = snapshotHash(remote);
  let mapping: Mapping<'company'> | null = await tx.mappingByIntercomId('company', c.id);
  let link: 'link' | 'relink' | null = null;
  let local;
  if (mapping) {
    if (isCompanyUnchanged(mapping, c)) return 'unchanged';
    if (isStaleRead(mapping, c, ctx.readAt, ctx.futureLimit)) return 'skipped';
    local = await tx.company(mapping.local_id);
    if (!local) return 'skipped';
  } else {
    local = await tx.companyByCompanyId(remote.company_id);
    if (local) {
      mapping = await tx.mappingByLocalId('company', local.id);
      // company_id is ours and immutable in Intercom: a new Intercom id for it means the company was deleted
      // (archived) and upserted again.
      link = mapping?.intercom_id ? 'relink' : 'link';
    }
  }

  const mappingWrite = {
    entityType: 'company' as const,
    intercomId: c.id,
    externalKey: remote.company_id,
    status: 'active' as const,
    baseSnapshot: remote,
    baseHash: hash,
    remoteUpdatedAt: new Date(c.updatedAt * 1000),
  };
  const auditBase = { entityType: 'company' as const, intercomId: c.id, externalKey: remote.company_id };

  if (!local) {
    const localId = await tx.insertCompany(remote);
    await tx.upsertMapping({ ...mappingWrite, localId });
    await tx.audit([
      pullAudit(ctx, {
        ...auditBase,
        localId,
        action: 'create',
        changes: creationChanges(remote),
      }),
    ]);
    return 'created';
  }

  const pending = await tx.hasPendingOutbox('company', local.id);
  if (local.deleted_at !== null && pending) return 'skipped';
  const r = reconcile({
    local: companyFromLocal(local),
    remote,
    base: mapping?.base_snapshot ?? null,
    pendingLocalChange: pending,
    policy: ctx.policy,
    localUpdatedAtMs: local.updated_at.getTime(),
    remoteUpdatedAtMs: c.updatedAt * 1000,
  });
  if (Object.keys(r.changes).length > 0) await tx.updateCompany(local.id, patchOf(r.target, r.changes));
  await tx.upsertMapping({
    ...mappingWrite,
    localId: local.id,
    statusReason: link === 'relink' ? `relinked from ${mapping?.intercom_id ?? 'unknown'}` : null,
  });
  const base = { ...auditBase, localId: local.id };
  const audits = reconcileAudits(ctx, base, r, link ? { kind: link, previousIntercomId: mapping?.intercom_id ?? null } : null);
  await tx.audit(audits);
  if (r.conflicts.length > 0) return 'conflict';
  if (link) return 'linked';
  return Object.keys(r.changes).length > 0 ? 'updated' : 'unchanged';
}
