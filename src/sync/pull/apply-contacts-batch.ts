/**
 * The batch path of a page's contacts. Most contacts of a page are unchanged (filtered before the transaction), new
 * to us (no mapping, no local row with their external_id, no unlinked local row with their email) or changed
 * contacts we already hold under an active mapping. A page costs a fixed number of round trips whatever its size:
 * one locked read of the page's mappings; for unmapped contacts, one round trip of identity questions
 * (identifyUnmapped) and one statement creating rows, mappings, associations and audit rows; for linked ones, one
 * round trip reading their rows, pending changes, write doubts and associations (linkedContactsContext), the
 * field-level three-way merge per record in memory (the same pure planApplyToLocal the per-record path uses), and
 * one statement writing rows, mappings, settled doubts, associations and audit rows. Everything else — identity
 * questions (links, relinks, ambiguous emails), mappings in another status, duplicates within the page — goes
 * through applyContact one record at a time under its savepoint, exactly as before. If a batched statement fails on
 * bad data, that batch is rolled back and redone record by record, so the bad row is audited `invalid` and the
 * others still land.
 */
import type { AuditEntry } from '../../db/queries/audit.ts';
import type { Mapping, MappingWrite } from '../../db/queries/mappings.ts';
import { contactExternalKey, keepLeadExternalId } from '../identity.ts';
import type { Outcome } from '../outcome.ts';
import { snapshotHash, type ContactSnapshot } from '../snapshot.ts';
import { creationChanges, isRecordDataError, pullAudit, type ApplyContext } from './apply-context.ts';
import { applyContact, isUnchanged, planApplyToLocal, planAssociations, type PulledContact } from './apply-contacts.ts';
import type { ApplyTx, WriteDoubt } from './ports.ts';

export interface Applied {
  contact: PulledContact['contact'];
  outcome: Outcome;
}

type Guard = (p: PulledContact, fn: () => Promise<Outcome>) => Promise<Outcome>;

interface Candidate {
  pulled: PulledContact;
  remote: ContactSnapshot;
  hash: string;
}

export async function applyContactsBatched(
  tx: ApplyTx,
  pulled: readonly PulledContact[],
  ctx: ApplyContext,
  guard: Guard,
): Promise<Applied[]> {
  const perRecord = async (ps: readonly PulledContact[]): Promise<Applied[]> => {
    const out: Applied[] = [];
    for (const p of ps) out.push({ contact: p.contact, outcome: await guard(p, () => applyContact(tx, p, ctx)) });
    return out;
  };
  if (pulled.length < 2) return perRecord(pulled);

  const candidates = pulled.map((p): Candidate => ({ pulled: p, remote: p.remote, hash: p.hash }));
  // Locked as mappingByIntercomId locks one, in local_id order (the same order every applier locks in).
  const mappings = await tx.mappingsByIntercomIdsForUpdate('contact', candidates.map((c) => c.pulled.contact.id));
  const mapped = new Set(mappings.map((m) => m.intercom_id));
  const linked = new Map(mappings.filter((m) => m.status === 'active').map((m) => [m.intercom_id, m]));
  const externalIdCount = new Map<string, number>();
  for (const c of candidates) {
    const x = c.remote.external_id;
    if (x) externalIdCount.set(x, (externalIdCount.get(x) ?? 0) + 1);
  }
  const unmapped = candidates.filter((c) => !mapped.has(c.pulled.contact.id));
  const byEmail = unmapped.filter((c) => !c.remote.external_id && c.remote.email);
  const identity =
    unmapped.length === 0
      ? null
      : await tx.identifyUnmapped({
          lockExternalIds: unmapped.map((c) => c.remote.external_id).filter((x): x is string => !!x),
          emails: byEmail.map((c) => c.remote.email!),
          recheckIntercomIds: unmapped.map((c) => c.pulled.contact.id),
          companyIntercomIds: [...new Set(unmapped.flatMap((c) => c.pulled.companyIds ?? []))],
          intercomIds: unmapped.map((c) => c.pulled.contact.id),
        });
  // A push may link its row to one of these contacts between the mapping read and the look-ups by key (as in
  // applyContact): asked again after them, one of the two answers sees that link, so the contact is never created a
  // second time — also when the row the push links was deleted meanwhile, and no look-up by key can find it.
  for (const id of identity?.mapped ?? []) mapped.add(id);
  const isNew = (c: Candidate): boolean => {
    if (mapped.has(c.pulled.contact.id) || !identity) return false;
    const x = c.remote.external_id;
    // A contact our push created for a row the application has deleted since is the push's to archive (pushedCreate).
    if (x) return externalIdCount.get(x) === 1 && !identity.heldExternalIds.has(x) && !identity.createsInDoubt.has(x);
    const email = c.remote.email?.toLowerCase();
    return !email || (!identity.linkableEmails.has(email) && !identity.createsInDoubt.has(email));
  };
  const fresh = candidates.filter(isNew);
  const changed = candidates.filter((c) => linked.has(c.pulled.contact.id));
  const rest = candidates.filter((c) => !isNew(c) && !linked.has(c.pulled.contact.id)).map((c) => c.pulled);

  const batched = async (group: readonly Candidate[], fn: () => Promise<Applied[]>): Promise<Applied[]> => {
    if (group.length === 0) return [];
    try {
      return await tx.savepoint(fn);
    } catch (err) {
      if (!isRecordDataError(err)) throw err;
      return perRecord(group.map((c) => c.pulled));
    }
  };
  const created = await batched(fresh, () => createAll(tx, fresh, identity!, ctx));
  const updated = await batched(changed, () => updateAll(tx, changed, linked, ctx));
  return [...created, ...updated, ...(await perRecord(rest))];
}

/**
 * What applyContact does for contacts it holds under an active mapping (applyToLocal without a link), for many at
 * once: the decisions are planApplyToLocal's and planAssociations', only the reads and writes are set-based.
 */
async function updateAll(tx: ApplyTx, items: readonly Candidate[], mappings: ReadonlyMap<string, Mapping<'contact'>>, ctx: ApplyContext): Promise<Applied[]> {
  const links = [...new Map(items.map((c) => [mappings.get(c.pulled.contact.id)!.local_id, c.pulled.contact.id])).entries()].map(
    ([localId, intercomId]) => ({ localId, intercomId }),
  );
  const read = await tx.linkedContactsContext({
    links,
    companyIntercomIds: [...new Set(items.flatMap((c) => c.pulled.companyIds ?? []))],
    windowSeconds: ctx.writeDoubtWindowSeconds ?? 900,
  });
  const locals = new Map(read.contacts.map((r) => [r.id, r]));
  const doubts = new Map<number, WriteDoubt[]>();
  for (const d of read.doubts) doubts.set(d.localId, [...(doubts.get(d.localId) ?? []), d]);
  const out: Applied[] = [];
  const rows: { patch: Partial<ContactSnapshot> | null; mapping: MappingWrite<'contact'> }[] = [];
  const perContact: { item: Candidate; localId: number; audits: AuditEntry[] }[] = [];
  const settled: number[] = [];
  for (const item of items) {
    const c = item.pulled.contact;
    const mapping = mappings.get(c.id)!;
    // Re-checked under the lock: another applier may have brought this version in since the page was filtered. A
    // lead whose external_id Intercom dropped is compared as the base holds it (identity.ts keepLeadExternalId).
    const agreedLead = mapping.base_snapshot ? keepLeadExternalId(item.remote, mapping.base_snapshot) : item.remote;
    if (isUnchanged(mapping, c, item.hash) || (agreedLead !== item.remote && isUnchanged(mapping, c, snapshotHash(agreedLead)))) {
      out.push({ contact: c, outcome: 'unchanged' });
      continue;
    }
    const local = locals.get(mapping.local_id);
    // The local row is gone: a local delete is on its way to Intercom; the push decides, not the pull.
    if (!local) {
      out.push({ contact: c, outcome: 'skipped' });
      continue;
    }
    const plan = planApplyToLocal(
      {
        pulled: item.pulled,
        remote: item.remote,
        hash: item.hash,
        local,
        mapping,
        link: null,
        pending: read.pending.has(local.id),
        doubts: doubts.get(local.id) ?? [],
      },
      ctx,
    );
    if (plan === 'skipped') {
      out.push({ contact: c, outcome: 'skipped' });
      continue;
    }
    // Rare (a late echo of a write of ours): one statement each, in the order the per-record path runs it.
    if (plan.pushAgain.length > 0) await tx.requestPush('contact', local.id, plan.pushAgain);
    settled.push(...plan.settledDoubts);
    rows.push({ patch: plan.patch, mapping: plan.mapping });
    perContact.push({ item, localId: local.id, audits: [...plan.audits] });
    out.push({ contact: c, outcome: plan.outcome });
  }

  const current = groupPairs(read.pairs);
  const pendingPairs = groupPairs(read.pendingPairs);
  const attach: { contactId: number; companyId: number }[] = [];
  const detach: { contactId: number; companyId: number }[] = [];
  for (const p of perContact) {
    if (p.item.pulled.companyIds === null) continue;
    const ids = new Set(p.item.pulled.companyIds);
    const mine = current.get(p.localId) ?? [];
    const plan = planAssociations(ctx, p.localId, p.item.pulled.contact.id, {
      wanted: read.companies.filter((m) => ids.has(m.intercom_id)),
      current: mine,
      pending: pendingPairs.get(p.localId) ?? [],
      currentMapped: read.currentCompanies.filter((m) => mine.includes(m.local_id)),
    });
    for (const companyId of plan.attach) attach.push({ contactId: p.localId, companyId });
    for (const companyId of plan.detach) detach.push({ contactId: p.localId, companyId });
    p.audits.push(...plan.audits);
  }
  await tx.writeLinkedContacts({
    rows,
    settledDoubts: settled,
    attach,
    detach,
    audits: perContact.flatMap((p) => p.audits),
    releaseStrays: rows.some((r) => r.mapping.intercomId !== null && read.strayIntercomIds.has(r.mapping.intercomId)),
  });
  return out;
}

function groupPairs(pairs: readonly { contactId: number; companyId: number }[]): Map<number, number[]> {
  const m = new Map<number, number[]>();
  for (const p of pairs) m.set(p.contactId, [...(m.get(p.contactId) ?? []), p.companyId]);
  return m;
}

/** What applyContact does for a contact it finds nowhere locally: insert, map, audit `create`, attach its companies. */
async function createAll(
  tx: ApplyTx,
  fresh: readonly Candidate[],
  identity: { companies: readonly { local_id: number; intercom_id: string }[]; carriedIntercomIds: ReadonlySet<string> },
  ctx: ApplyContext,
): Promise<Applied[]> {
  // Ordered by local id, as syncAssociations sees them.
  const companies = identity.companies;
  const audits: AuditEntry[] = [];
  const pairs: { intercomId: string; companyId: number }[] = [];
  for (const c of fresh) {
    const ct = c.pulled.contact;
    // The new row's id is not known yet: the store fills it in (createPulledContacts).
    const localId = null;
    audits.push(
      pullAudit(ctx, {
        entityType: 'contact',
        localId,
        intercomId: ct.id,
        externalKey: contactExternalKey(c.remote),
        action: 'create',
        changes: creationChanges(c.remote),
      }),
    );
    if (c.pulled.companyIds === null) continue;
    const wanted = new Set(c.pulled.companyIds);
    const seen = new Set<number>();
    for (const m of companies) {
      if (!wanted.has(m.intercom_id) || seen.has(m.local_id)) continue;
      seen.add(m.local_id);
      pairs.push({ intercomId: ct.id, companyId: m.local_id });
      audits.push(
        pullAudit(ctx, {
          entityType: 'contact_company',
          localId,
          intercomId: ct.id,
          externalKey: null,
          action: 'attach',
          details: { company_local_id: m.local_id, company_intercom_id: m.intercom_id },
        }),
      );
    }
  }
  const localIds = await tx.createPulledContacts({
    rows: fresh.map((c) => ({
      snapshot: c.remote,
      remoteCreatedAt: c.pulled.contact.createdAt,
      intercomId: c.pulled.contact.id,
      externalKey: contactExternalKey(c.remote),
      baseHash: c.hash,
      remoteUpdatedAt: c.pulled.contact.updatedAt,
    })),
    attach: pairs,
    audits,
    releaseIntercomIds: fresh.some((c) => identity.carriedIntercomIds.has(c.pulled.contact.id)),
  });
  for (const c of fresh) {
    if (!localIds.has(c.pulled.contact.id)) throw new Error(`batched insert returned no row for Intercom contact ${c.pulled.contact.id}`);
  }
  return fresh.map((c) => ({ contact: c.pulled.contact, outcome: 'created' as const }));
}
