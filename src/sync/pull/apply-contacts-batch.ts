/**
 * The batch path of a page's contacts. Most contacts of a page are unchanged (filtered before the transaction), new
 * to us (no mapping, no local row with their external_id, no unlinked local row with their email) or changed
 * contacts we already hold under an active mapping. New ones are created together in a few set-based statements
 * (rows, mappings, audit rows, associations); changed ones are merged together: one locked read of their rows,
 * mappings and pending outbox entries, the field-level three-way merge per record in memory (the same pure
 * planApplyToLocal the per-record path uses), then one UPDATE per set of changed fields, one mapping refresh, one
 * audit insert and one attach/detach each. Everything else — identity questions (links, relinks, ambiguous
 * emails), mappings in another status, duplicates within the page — goes through applyContact one record at a time
 * under its savepoint, exactly as before. If a batched statement fails on bad data, that batch is rolled back and
 * redone record by record, so the bad row is audited `invalid` and the others still land.
 */
import type { AuditEntry } from '../../db/queries/audit.ts';
import type { Mapping, MappingWrite } from '../../db/queries/mappings.ts';
import { contactExternalKey, keepLeadExternalId } from '../identity.ts';
import type { Outcome } from '../outcome.ts';
import { contactFromRemote, snapshotHash, type ContactSnapshot } from '../snapshot.ts';
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

  const candidates = pulled.map((p): Candidate => {
    const remote = contactFromRemote(p.contact);
    return { pulled: p, remote, hash: snapshotHash(remote) };
  });
  const mapped = await tx.mappedIntercomIds('contact', candidates.map((c) => c.pulled.contact.id));
  const externalIdCount = new Map<string, number>();
  for (const c of candidates) {
    const x = c.remote.external_id;
    if (x) externalIdCount.set(x, (externalIdCount.get(x) ?? 0) + 1);
  }
  const unmapped = candidates.filter((c) => !mapped.has(c.pulled.contact.id));
  const heldExternalIds = await tx.lockExternalIdsHeld(
    unmapped.map((c) => c.remote.external_id).filter((x): x is string => !!x),
  );
  const byEmail = unmapped.filter((c) => !c.remote.external_id && c.remote.email);
  const linkableEmails = await tx.emailsWithUnlinkedContacts(byEmail.map((c) => c.remote.email!));
  // A push may link its row to one of these contacts between the two look-ups above (as in applyContact): asked again
  // after the email look-up, one of the two answers sees that link, so the contact is never created a second time.
  for (const id of await tx.mappedIntercomIds('contact', byEmail.map((c) => c.pulled.contact.id))) mapped.add(id);
  const isNew = (c: Candidate): boolean => {
    if (mapped.has(c.pulled.contact.id)) return false;
    const x = c.remote.external_id;
    if (x) return externalIdCount.get(x) === 1 && !heldExternalIds.has(x);
    return !c.remote.email || !linkableEmails.has(c.remote.email.toLowerCase());
  };
  const fresh = candidates.filter(isNew);
  const linkedIds = candidates.filter((c) => mapped.has(c.pulled.contact.id)).map((c) => c.pulled.contact.id);
  // Locked as mappingByIntercomId locks one, in local_id order (the same order every applier locks in).
  const linked = new Map(
    (await tx.mappingsByIntercomIdsForUpdate('contact', linkedIds))
      .filter((m) => m.status === 'active' && m.intercom_id !== null)
      .map((m) => [m.intercom_id!, m as Mapping<'contact'>]),
  );
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
  const created = await batched(fresh, () => createAll(tx, fresh, ctx));
  const updated = await batched(changed, () => updateAll(tx, changed, linked, ctx));
  return [...created, ...updated, ...(await perRecord(rest))];
}

/**
 * What applyContact does for contacts it holds under an active mapping (applyToLocal without a link), for many at
 * once: the decisions are planApplyToLocal's and planAssociations', only the reads and writes are set-based.
 */
async function updateAll(tx: ApplyTx, items: readonly Candidate[], mappings: ReadonlyMap<string, Mapping<'contact'>>, ctx: ApplyContext): Promise<Applied[]> {
  const localIds = [...new Set(items.map((c) => mappings.get(c.pulled.contact.id)!.local_id))];
  const locals = new Map((await tx.contactsByIds(localIds)).map((r) => [r.id, r]));
  const pending = await tx.pendingOutboxLocalIds('contact', localIds);
  const doubts = new Map<number, WriteDoubt[]>();
  for (const d of await tx.writeDoubtsFor('contact', localIds, ctx.writeDoubtWindowSeconds ?? 900)) {
    doubts.set(d.localId, [...(doubts.get(d.localId) ?? []), d]);
  }
  const out: Applied[] = [];
  const patches: { localId: number; patch: Partial<ContactSnapshot> }[] = [];
  const writes: MappingWrite<'contact'>[] = [];
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
        pending: pending.has(local.id),
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
    if (plan.patch) patches.push({ localId: local.id, patch: plan.patch });
    writes.push(plan.mapping);
    perContact.push({ item, localId: local.id, audits: [...plan.audits] });
    out.push({ contact: c, outcome: plan.outcome });
  }
  await tx.settleWriteDoubts(settled);
  await tx.updateContacts(patches);
  await tx.refreshLinkedMappings(writes);

  const withCompanies = perContact.filter((p) => p.item.pulled.companyIds !== null);
  const attach: { contactId: number; companyId: number }[] = [];
  const detach: { contactId: number; companyId: number }[] = [];
  if (withCompanies.length > 0) {
    const contactIds = withCompanies.map((p) => p.localId);
    const wantedAll = (await tx.mappingsByIntercomIds('company', [...new Set(withCompanies.flatMap((p) => p.item.pulled.companyIds!))]))
      .filter((m) => m.status === 'active');
    const current = groupPairs(await tx.contactCompanyPairs(contactIds));
    const pendingPairs = groupPairs(await tx.pendingAssociationPairs(contactIds));
    const currentMapped = (await tx.mappingsByLocalIds('company', [...new Set([...current.values()].flat())])).filter((m) => m.intercom_id !== null);
    for (const p of withCompanies) {
      const ids = new Set(p.item.pulled.companyIds);
      const mine = current.get(p.localId) ?? [];
      const plan = planAssociations(ctx, p.localId, p.item.pulled.contact.id, {
        wanted: wantedAll.filter((m) => m.intercom_id !== null && ids.has(m.intercom_id)),
        current: mine,
        pending: pendingPairs.get(p.localId) ?? [],
        currentMapped: currentMapped.filter((m) => mine.includes(m.local_id)),
      });
      for (const companyId of plan.attach) attach.push({ contactId: p.localId, companyId });
      for (const companyId of plan.detach) detach.push({ contactId: p.localId, companyId });
      p.audits.push(...plan.audits);
    }
  }
  await tx.attachMany(attach);
  await tx.detachMany(detach);
  await tx.audit(perContact.flatMap((p) => p.audits));
  return out;
}

function groupPairs(pairs: readonly { contactId: number; companyId: number }[]): Map<number, number[]> {
  const m = new Map<number, number[]>();
  for (const p of pairs) m.set(p.contactId, [...(m.get(p.contactId) ?? []), p.companyId]);
  return m;
}

/** What applyContact does for a contact it finds nowhere locally: insert, map, audit `create`, attach its companies. */
async function createAll(tx: ApplyTx, fresh: readonly Candidate[], ctx: ApplyContext): Promise<Applied[]> {
  const localIds = await tx.insertPulledContacts(
    fresh.map((c) => ({
      snapshot: c.remote,
      remoteCreatedAt: c.pulled.contact.createdAt,
      intercomId: c.pulled.contact.id,
      externalKey: contactExternalKey(c.remote),
      baseHash: c.hash,
      remoteUpdatedAt: c.pulled.contact.updatedAt,
    })),
  );
  const companyIds = [...new Set(fresh.flatMap((c) => c.pulled.companyIds ?? []))];
  // Ordered by local id, as syncAssociations sees them.
  const companies = await tx.activeMappingIds('company', companyIds);
  const audits: AuditEntry[] = [];
  const pairs: { contactId: number; companyId: number }[] = [];
  for (const c of fresh) {
    const ct = c.pulled.contact;
    const localId = localIds.get(ct.id);
    if (localId === undefined) throw new Error(`batched insert returned no row for Intercom contact ${ct.id}`);
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
      pairs.push({ contactId: localId, companyId: m.local_id });
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
  await tx.attachMany(pairs);
  await tx.audit(audits);
  return fresh.map((c) => ({ contact: c.pulled.contact, outcome: 'created' as const }));
}
