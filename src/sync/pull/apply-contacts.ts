/**
 * Applies one pulled Intercom contact to Postgres inside the page's apply transaction: find (or link, or create) its
 * local row, reconcile, write the row, the mapping and the audit, then the company associations.
 */
import type { AuditEntry } from '../../db/queries/audit.ts';
import type { Mapping, MappingWrite } from '../../db/queries/mappings.ts';
import type { IntercomContact } from '../../intercom/payloads.ts';
import { contactExternalKey, decideLink, keepLeadExternalId } from '../identity.ts';
import { linkBase } from '../link-base.ts';
import type { Outcome } from '../outcome.ts';
import { contactFromLocal, contactFromRemote, snapshotHash, type ContactSnapshot, type LocalContactRow } from '../snapshot.ts';
import { creationChanges, isStaleRead, pullAudit, reconcileAudits, type ApplyContext } from './apply-context.ts';
import type { ApplyTx, WriteDoubt } from './ports.ts';
import { findEchoes, findLanded } from './echo.ts';
import { applyRevival } from './revived.ts';
import { patchOf, reconcile } from './reconcile.ts';

/**
 * A pulled contact's snapshot and its hash. Both are asked for several times per record (the page's unchanged
 * filter, the check under the lock, the mapping write), so they are computed once, when the page is read.
 */
export interface RemoteSnapshot {
  remote: ContactSnapshot;
  hash: string;
}

export function remoteSnapshot(c: IntercomContact): RemoteSnapshot {
  const remote = contactFromRemote(c);
  return { remote, hash: snapshotHash(remote) };
}

export interface PulledContact extends RemoteSnapshot {
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

/**
 * A row the push is creating — its mapping reserved 'pending' (create-contact.ts, step 2) and its entry still queued
 * — is linked by the push, never by the pull. The push's protocol finds its own contact again (doubts, 409 holder),
 * and only the push knows the contact it links may hold someone else's older values: a re-created key takes over
 * the archived contact of the deleted row, and the unarchive that takeover sends moves updated_at, so a pull that
 * linked first with no base would let those older values win under newest_wins (chaos seed 7; docs/guarantees.md "Re-created contacts").
 */
async function pushOwnsLink(tx: ApplyTx, localId: number, m: Mapping | null): Promise<boolean> {
  return m?.status === 'pending' && (await tx.hasPendingOutbox('contact', localId));
}

/** Is another live row, one the push is creating, claiming this contact by its key? (see pushOwnsLink) */
async function claimedByPushedCreate(tx: ApplyTx, remote: ContactSnapshot, ownerLocalId: number): Promise<boolean> {
  const claimants = remote.external_id
    ? [await tx.contactByExternalId(remote.external_id)]
    : remote.email
      ? await tx.unlinkedContactsByEmail(remote.email)
      : [];
  for (const row of claimants) {
    if (!row || row.id === ownerLocalId || row.deleted_at !== null) continue;
    if (await pushOwnsLink(tx, row.id, await tx.mappingByLocalId('contact', row.id))) return true;
  }
  return false;
}

export async function applyContact(tx: ApplyTx, pulled: PulledContact, ctx: ApplyContext, opts: ApplyContactOptions = {}): Promise<Outcome> {
  const { contact: c, remote, hash } = pulled;

  if (opts.forceLocalId !== undefined) {
    const local = await tx.contact(opts.forceLocalId);
    if (!local) return 'skipped';
    const mapping = await tx.mappingByLocalId('contact', local.id);
    return applyToLocal(tx, pulled, remote, hash, local, mapping, 'relink', ctx);
  }

  const mapping = await tx.mappingByIntercomId('contact', c.id);
  if (mapping) {
    const archivedRow = mapping.status === 'archived' ? await tx.contact(mapping.local_id) : undefined;
    if (archivedRow === null || (archivedRow && archivedRow.deleted_at !== null)) {
      // A re-created key (docs/guarantees.md "Re-created contacts"): the push is taking this contact over for the new row and unarchived it itself.
      // That is our own write, not a revival, and the old contact's values must not overwrite the new row's.
      if (await claimedByPushedCreate(tx, remote, mapping.local_id)) return 'skipped';
      // Another row's write to this contact is in doubt: a takeover by a newer row with the key (which may since have
      // been deleted in turn) brought it back, or a removal decided for one is on its way. Our own doing, not a
      // revival: that row's push decides (push/claim.ts). Taken for a revival, it put back a row the application had
      // deleted, under the key the application was about to insert again.
      const writers = await tx.contactWritersInDoubt(c.id, mapping.local_id, ctx.writeDoubtWindowSeconds ?? 900);
      if (writers.length > 0) return 'skipped';
      // Read before our archive was recorded: the contact shows live because the archive had not happened yet, not
      // because Intercom revived it (chaos seed 19).
      if (isStaleRead(mapping, c, ctx.readAt, ctx.futureLimit)) return 'skipped';
      // We archived it for a local delete, and Intercom shows it live again: a conflict the policy decides. (A
      // mapping marked archived while the row stayed live — archived in Intercom, found by verify — just relinks.)
      const r = await applyRevival(tx, c, mapping as Mapping & { status: 'archived' }, ctx);
      if ('outcome' in r) return r.outcome;
      const restored = await tx.contact(mapping.local_id);
      if (!restored) return applyContact(tx, pulled, ctx, opts);
      return applyToLocal(tx, pulled, remote, hash, restored, mapping, null, ctx);
    }
    if (isUnchanged(mapping, c, hash)) return 'unchanged';
    // A lead whose external_id Intercom dropped: the base holds the local value (identity.ts keepLeadExternalId).
    const agreedLead = mapping.base_snapshot ? keepLeadExternalId(remote, mapping.base_snapshot) : remote;
    if (agreedLead !== remote && isUnchanged(mapping, c, snapshotHash(agreedLead))) return 'unchanged';
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
      if (await pushOwnsLink(tx, local.id, m)) return 'skipped';
      // Same external_id under a new Intercom id: Intercom keeps external_id unique among live contacts, so the old id
      // was merged away or the contact re-created.
      return applyToLocal(tx, pulled, remote, hash, local, m, m?.intercom_id ? 'relink' : 'link', ctx);
    }
  } else if (remote.email) {
    const unlinked = await tx.unlinkedContactsByEmail(remote.email);
    // The push links a local row it created to this very contact in one transaction that may commit between the look-up
    // by id above (no mapping yet) and this one (the row is linked, so no longer "unlinked"): ask by id again, after,
    // so that either question sees that link. Without it the pull created a second local row for the contact and
    // took the Intercom id away from the pushed one (whose mapping became 'merged'). The mapping is now locked by this
    // transaction, so the second pass takes the mapped branch above: one level of recursion at most.
    if (await tx.mappingByIntercomId('contact', c.id)) return applyContact(tx, pulled, ctx, opts);
    const decision = decideLink(unlinked);
    if (decision.kind === 'link') {
      const m = await tx.mappingByLocalId('contact', decision.row.id);
      if (await pushOwnsLink(tx, decision.row.id, m)) return 'skipped';
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

  // Nobody local holds the key. If our own push created this contact, for a row the application deleted since (a key
  // deleted and re-created in quick succession), its link may commit after the look-up by id above: taken for a
  // contact made in Intercom, it came back as a local row the application never wrote, under the key it was about to
  // insert again. The push decides (its delete archives what its create made).
  const ours = await tx.pushedCreate(c.id, { externalId: remote.external_id, email: remote.email });
  if (ours === 'mapped') return applyContact(tx, pulled, ctx, opts);
  if (ours === 'in-doubt') return 'skipped';
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
      changes: creationChanges(remote),
    }),
  ]);
  await syncAssociations(tx, localId, pulled, ctx);
  return 'created';
}

async function applyToLocal(
  tx: ApplyTx,
  pulled: PulledContact,
  pulledRemote: ContactSnapshot,
  pulledHash: string,
  local: LocalContactRow,
  mapping: Mapping<'contact'> | null,
  link: LinkKind,
  ctx: ApplyContext,
): Promise<Outcome> {
  const pending = await tx.hasPendingOutbox('contact', local.id);
  if (local.deleted_at !== null && pending) return 'skipped';
  const doubts = await tx.writeDoubts('contact', local.id, ctx.writeDoubtWindowSeconds ?? 900);
  const plan = planApplyToLocal({ pulled, remote: pulledRemote, hash: pulledHash, local, mapping, link, pending, doubts }, ctx);
  if (plan === 'skipped') return 'skipped';
  if (plan.pushAgain.length > 0) await tx.requestPush('contact', local.id, plan.pushAgain);
  await tx.settleWriteDoubts(plan.settledDoubts);
  if (plan.patch) await tx.updateContact(local.id, plan.patch);
  await tx.upsertMapping(plan.mapping);
  await tx.audit(plan.audits);
  await syncAssociations(tx, local.id, pulled, ctx);
  return plan.outcome;
}

export interface LocalApplyInput {
  pulled: PulledContact;
  /** The snapshot of the pulled contact, and its hash. */
  remote: ContactSnapshot;
  hash: string;
  local: LocalContactRow;
  mapping: Mapping<'contact'> | null;
  link: LinkKind;
  /** The local row has a pending outbox entry (a local change not pushed yet). */
  pending: boolean;
  /** Writes of ours to this entity whose answer was lost (writeDoubts). */
  doubts: readonly WriteDoubt[];
}

export interface LocalApplyPlan {
  patch: Partial<ContactSnapshot> | null;
  mapping: MappingWrite<'contact'>;
  audits: AuditEntry[];
  /** Fields whose local value must be pushed again (a late echo of our own write). */
  pushAgain: string[];
  /** Doubts of ours this pull saw landed and audited: deleted in the same transaction (echo.ts findLanded). */
  settledDoubts: number[];
  outcome: Outcome;
}

/**
 * What applying a pulled contact to its local row writes: the three-way merge's patch, the mapping, the audit rows,
 * the fields to push again and the outcome. Pure, so the per-record path and the batched one
 * (apply-contacts-batch.ts) decide identically.
 */
export function planApplyToLocal(i: LocalApplyInput, ctx: ApplyContext): LocalApplyPlan | 'skipped' {
  const c = i.pulled.contact;
  if (i.local.deleted_at !== null && i.pending) return 'skipped';
  if (i.link === null && i.mapping?.intercom_id === c.id && isStaleRead(i.mapping, c, ctx.readAt, ctx.futureLimit)) return 'skipped';
  const localSnap = contactFromLocal(i.local);
  // A lead's external_id Intercom does not keep stays as the application wrote it (identity.ts).
  const remote = keepLeadExternalId(i.remote, localSnap);
  const hash = remote === i.remote ? i.hash : snapshotHash(remote);
  // A row linked while its own change is still queued (its create not pushed yet) has agreed nothing with this contact,
  // which may hold an older row's values (a key deleted and re-created): as the push's link does, what the row holds
  // wins and what it lacks is taken from Intercom. With no base at all, every difference was a conflict that
  // newest_wins could hand to the older row's values (the contact's updated_at moved by our own takeover).
  const agreed = i.mapping?.base_snapshot ?? (i.link !== null && i.pending ? linkBase(remote, localSnap) : null);
  // Our own write landing late is not a remote edit: the local value stands and is pushed again (./echo.ts).
  const echoes = i.doubts.length > 0 ? findEchoes(agreed, localSnap, remote, [...i.doubts]) : null;
  const echoed = echoes ? Object.keys(echoes.fields) : [];
  const landed = i.doubts.length > 0 ? findLanded(agreed, remote, i.doubts) : [];
  const r = reconcile({
    local: localSnap,
    remote: echoes?.remote ?? remote,
    base: agreed,
    pendingLocalChange: i.pending,
    policy: ctx.policy,
    localUpdatedAtMs: i.local.updated_at.getTime(),
    remoteUpdatedAtMs: c.updatedAt * 1000,
  });
  // The base takes what Intercom holds, so the push diff sends the local value over our late one.
  for (const f of echoed) delete r.alreadyPushed[f.startsWith('custom_attributes.') ? 'custom_attributes' : f];
  // A landed doubt is audited below as its own push row: not a second time as a pending change already pushed.
  for (const l of landed) for (const f of Object.keys(l.changes)) delete r.alreadyPushed[f.split('.')[0]!];
  const changed = Object.keys(r.changes).length > 0;
  const externalKey = contactExternalKey(remote);
  const mapping: MappingWrite<'contact'> = {
    entityType: 'contact',
    localId: i.local.id,
    intercomId: c.id,
    externalKey,
    status: 'active',
    statusReason: i.link === 'relink' ? `relinked from ${i.mapping?.intercom_id ?? 'unknown'}` : null,
    baseSnapshot: remote,
    baseHash: hash,
    remoteUpdatedAt: new Date(c.updatedAt * 1000),
  };
  const base = { entityType: 'contact' as const, localId: i.local.id, intercomId: c.id, externalKey };
  const audits = reconcileAudits(
    ctx,
    base,
    r,
    i.link
      ? {
          kind: i.link,
          previousIntercomId: i.mapping?.intercom_id ?? null,
          details: { reason: 'external_id seen with a new Intercom id' },
        }
      : null,
  );
  if (echoes && echoed.length > 0) {
    audits.push(
      pullAudit(ctx, {
        ...base,
        action: 'echo',
        changes: echoes.fields,
        details: {
          reason: 'Intercom applied a write of ours whose answer was lost, after a newer one: the newer local value is pushed again',
          doubts: i.doubts.map((d) => d.id),
        },
      }),
    );
  }
  // One row per write the remote state proves landed (findLanded keeps a same-bodied retry in doubt, not audited).
  for (const l of landed) {
    audits.push({
      ...base,
      direction: 'push',
      runId: ctx.runId,
      action: 'update',
      changes: l.changes,
      details: {
        landed_late: true,
        doubts: [l.doubtId],
        recorded_by: 'pull',
        reason: 'Intercom applied a write of ours whose answer was lost, and no push lived to record it',
      },
    });
  }
  const outcome: Outcome = r.conflicts.length > 0 ? 'conflict' : i.link ? 'linked' : changed ? 'updated' : 'unchanged';
  return {
    patch: changed ? patchOf(r.target, r.changes) : null,
    mapping,
    audits,
    pushAgain: [...new Set(echoed.map((f) => f.split('.')[0]!))],
    settledDoubts: landed.map((l) => l.doubtId),
    outcome,
  };
}

/**
 * Makes contact_companies match Intercom for this contact, for companies both sides know. Pairs with a pending local
 * change are left to the push; companies not yet mapped are left for the companies pull.
 */
async function syncAssociations(tx: ApplyTx, contactId: number, pulled: PulledContact, ctx: ApplyContext): Promise<void> {
  if (pulled.companyIds === null) return;
  const wanted = (await tx.mappingsByIntercomIds('company', pulled.companyIds)).filter((m) => m.status === 'active');
  const current = await tx.contactCompanyIds(contactId);
  const pending = await tx.pendingAssociationCompanyIds(contactId);
  const currentMapped = (await tx.mappingsByLocalIds('company', current)).filter((m) => m.intercom_id !== null);
  const plan = planAssociations(ctx, contactId, pulled.contact.id, { wanted, current, pending, currentMapped });
  for (const companyId of plan.attach) await tx.attach(contactId, companyId);
  for (const companyId of plan.detach) await tx.detach(contactId, companyId);
  await tx.audit(plan.audits);
}

/** The attaches, detaches and audit rows that bring one contact's companies in line with Intercom. Pure. */
export function planAssociations(
  ctx: ApplyContext,
  contactId: number,
  intercomId: string,
  s: {
    /** Active mappings of the companies Intercom lists for the contact. */
    wanted: readonly { local_id: number; intercom_id: string | null }[];
    /** Local company ids attached now, ascending. */
    current: readonly number[];
    /** Local company ids with a pending association change. */
    pending: readonly number[];
    /** Mappings (with an Intercom id) of the companies attached now. */
    currentMapped: readonly { local_id: number; intercom_id: string | null }[];
  },
): { attach: number[]; detach: number[]; audits: AuditEntry[] } {
  const wanted = new Map(s.wanted.map((m) => [m.local_id, m.intercom_id]));
  const pending = new Set(s.pending);
  const currentMapped = new Map(s.currentMapped.map((m) => [m.local_id, m.intercom_id]));
  const out = { attach: [] as number[], detach: [] as number[], audits: [] as AuditEntry[] };
  const change = (action: 'attach' | 'detach', companyId: number, companyIntercomId: string | null) => {
    out[action].push(companyId);
    out.audits.push(
      pullAudit(ctx, {
        entityType: 'contact_company',
        localId: contactId,
        intercomId,
        externalKey: null,
        action,
        details: { company_local_id: companyId, company_intercom_id: companyIntercomId },
      }),
    );
  };
  for (const [companyId, intercomCompanyId] of wanted) {
    if (!s.current.includes(companyId) && !pending.has(companyId)) change('attach', companyId, intercomCompanyId);
  }
  for (const companyId of s.current) {
    if (wanted.has(companyId) || pending.has(companyId) || !currentMapped.has(companyId)) continue;
    change('detach', companyId, currentMapped.get(companyId) ?? null);
  }
  return out;
}
