/**
 * The batch path of a page's contacts. Most contacts of a page are either unchanged (filtered before the
 * transaction) or new to us: no mapping, no local row with their external_id, no unlinked local row with their email.
 * Those are created together in a few set-based statements (rows, mappings, audit rows, associations). Everything
 * else — identity questions, existing mappings, pending local changes, duplicates within the page — goes through
 * applyContact one record at a time under its savepoint, exactly as before. If a batched statement fails on bad data,
 * the batch is rolled back and redone record by record, so the bad row is audited `invalid` and the others still land.
 */
import type { AuditEntry } from '../../db/queries/audit.ts';
import { contactExternalKey } from '../identity.ts';
import type { Outcome } from '../outcome.ts';
import { contactFromRemote, snapshotHash, type ContactSnapshot } from '../snapshot.ts';
import { creationChanges, isRecordDataError, pullAudit, type ApplyContext } from './apply-context.ts';
import { applyContact, type PulledContact } from './apply-contacts.ts';
import type { ApplyTx } from './ports.ts';

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
  const rest = candidates.filter((c) => !isNew(c)).map((c) => c.pulled);

  let applied: Applied[];
  if (fresh.length === 0) applied = [];
  else {
    try {
      applied = await tx.savepoint(() => createAll(tx, fresh, ctx));
    } catch (err) {
      if (!isRecordDataError(err)) throw err;
      applied = await perRecord(fresh.map((c) => c.pulled));
    }
  }
  return [...applied, ...(await perRecord(rest))];
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
