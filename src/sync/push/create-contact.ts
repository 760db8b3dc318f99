/**
 * Creating a contact for a local row that has no link, without ever creating it twice.
 *
 * Protocol (each numbered step is durable before the next one starts):
 *   1. Key: external_id; for leads (and users without one) the lower-cased email. A row with neither cannot be found
 *      again after a crash, so it is refused as invalid instead of being created blindly.
 *   2. Reserve: a sync_mappings row with status 'pending', external_key = the key, no intercom_id, committed in its
 *      own transaction BEFORE the create is sent.
 *   3. Resolve doubts: every create is recorded in sync_write_doubts before it is sent and settled when its answer is
 *      recorded, so a create left in doubt (timeout, dropped connection, 5xx, crash) is known. It is resolved by
 *      lookup before any new create (./doubt.ts): found → link (step 6); not searchable yet → wait; only a lookup that
 *      positively finds nothing allows step 4. Intercom deduplicates users by external_id but not leads (docs/simulator.md "Duplicate leads and lead `external_id`"),
 *      so a lead is never re-created on the hope of a 409.
 *   4. Create: POST /contacts with the row's non-empty fields, sent once (the gateway never resends a write).
 *   5. On 409: the holder's id from the message (GET /contacts/{id}, immediate), else find_by_external_id, else an
 *      email search. Several candidates → ambiguous (mapping status 'ambiguous', dead letter with the candidates);
 *      none visible yet → retry later (never create again); held by another live local row → ambiguous; held by a
 *      local row that was deleted (the key was re-created) → taken over. Unarchived first only when Intercom says
 *      it is archived (the 409's wording, or the contact) or we archived it ourselves.
 *   6. Link: PUT only the fields the row holds and Intercom lacks or differs on, then in ONE transaction: mapping
 *      active with the Intercom id and base := the answer, remote-only fields copied onto the row, audit row, doubts
 *      settled, outbox entry deleted if its version is unchanged.
 */
import { AmbiguousIdentityError, IntercomApiError, IntercomPayloadError, ValidationError, type RecordIdentity } from '../../errors.ts';
import type { MappingWrite } from '../../db/queries/mappings.ts';
import type { ContactWrite, IntercomContact } from '../../intercom/payloads.ts';
import { contactFromRemote, fieldChanges, snapshotHash, type ContactSnapshot, type LocalContactRow } from '../snapshot.ts';
import { auditBase, NotYetVisibleError, type PushContext, type Step } from './context.ts';
import { contactFinish, contactKey } from './contact-result.ts';
import { contactWrite, linkBase } from './diff.ts';
import { claimContact, type ClaimRefusal } from './claim.ts';
import { createDoubts, doubtOfError, openUpdateDoubts, putContact, resolveCreateDoubts, sendInDoubt, sendRecorded } from './doubt.ts';
import { conflictHolderId, getContactOrNull, is, searchByEmail, unreadableMatch } from './lookup.ts';
import type { OutboxEntry } from './ports.ts';
import { prepareContactBody, sendLeadTolerant } from './prepare.ts';

export async function createContact(
  ctx: PushContext,
  entry: OutboxEntry,
  row: LocalContactRow,
  local: ContactSnapshot,
): Promise<Step> {
  const key = contactKey(local);
  if (!key) {
    throw new ValidationError(
      'contact',
      String(row.id),
      'external_id',
      'is empty and so is email: Intercom could create it, but a retry could never find it again (set either)',
    );
  }
  // Validated before the reservation: a row Intercom would refuse leaves no 'pending' trace to look up later.
  const body = await prepareContactBody(ctx, row.id, contactWrite(null, local) ?? { role: local.role });
  const reservation = await ctx.store.reservePendingMapping('contact', row.id, key);
  const expectBaseHash = reservation.mapping.base_hash;

  const doubts = await createDoubts(ctx, row.id);
  const doubtIds = doubts.map((d) => d.id);
  if (doubts.length > 0) {
    const r = await resolveCreateDoubts(ctx, row.id, doubts, local);
    if (r.kind === 'wait') return { kind: 'defer', reason: r.reason, delayMs: r.delayMs };
    if (r.kind === 'found') return link(ctx, entry, row.id, local, { contact: r.contact }, expectBaseHash, { via: 'doubt' }, doubtIds);
    if (r.kind === 'found-unreadable') return linkUnreadable(ctx, entry, row.id, local, r, expectBaseHash, doubtIds);
    await ctx.store.settleWriteDoubts(doubtIds);
  } else if (!reservation.fresh && local.external_id) {
    // A reservation from before creates were recorded as doubts: the same look-up, kept for rows left by older versions.
    const existing = await ctx.gateway.findContactByExternalId(local.external_id, 'push');
    if (existing) return link(ctx, entry, row.id, local, { contact: existing }, expectBaseHash, { via: 'recovery' }, []);
  }

  let sent: { value: IntercomContact; doubtId: number };
  try {
    sent = await sendInDoubt(ctx, { entityType: 'contact', localId: row.id, intercomId: null, op: 'create', fields: { ...body } }, async () => {
      const r = await sendLeadTolerant(local.role, body, (b) => ctx.gateway.createContact(b, 'push'));
      if (r.value === null) throw new Error(`contact ${row.id}: nothing left to create`);
      return r.value;
    });
  } catch (err) {
    if (err instanceof IntercomPayloadError && err.identity) {
      // The create's doubt (sendInDoubt left it) is the only one open: earlier ones were settled before it was sent.
      const open = (await createDoubts(ctx, row.id)).map((d) => d.id);
      return linkUnreadable(ctx, entry, row.id, local, { identity: err.identity, reason: err.message, requestId: err.requestId ?? null }, expectBaseHash, open);
    }
    if (!is(err, 409)) throw err;
    const found = await findConflictHolder(ctx, row.id, local, err);
    return link(ctx, entry, row.id, local, found.holder, expectBaseHash, { via: '409', archived_409: found.archived409 }, []);
  }
  return contactFinish(ctx, entry, {
    expectBaseHash,
    response: sent.value,
    agreedBase: local,
    auditBase: null,
    local,
    body,
    action: 'create',
    outcome: 'created',
    settledDoubts: [sent.doubtId],
  });
}

/** What can be read of a contact Intercom served in a shape we cannot parse (schema drift), with the reason. */
interface UnreadableContact {
  identity: RecordIdentity;
  reason: string;
  requestId: string | null;
}

/** The contact a row is linked to: parsed, or (schema drift) only its readable identity, as the pull reads it. */
type Holder = { contact: IntercomContact } | { unreadable: UnreadableContact };

const holderId = (h: Holder) => ('contact' in h ? h.contact.id : h.unreadable.identity.id);

/** An answer that failed to parse but names this contact (or, without `id`, any contact): what can be read of it. */
function unreadableOf(err: unknown, id?: string): { unreadable: UnreadableContact } | null {
  if (!(err instanceof IntercomPayloadError) || !err.identity || (id !== undefined && err.identity.id !== id)) return null;
  return { unreadable: { identity: err.identity, reason: err.message, requestId: err.requestId ?? null } };
}

/**
 * Intercom answered the create (2xx) with a body we cannot parse (schema drift), or the look-up of a create in doubt
 * found it in that shape, or a re-created key's holder answers in it: the contact exists, and its id is readable. It
 * is linked at once with the values we sent as the agreed base, so no retry creates it a second time (nor retries its
 * way to a dead letter), and recorded `invalid` beside the `create` or `link`, as a pulled record of that shape is:
 * the pull and later updates meet the same shape and say so in their own audit rows and dead letters, with this id.
 */
function linkUnreadable(
  ctx: PushContext,
  entry: OutboxEntry,
  localId: number,
  local: ContactSnapshot,
  found: UnreadableContact,
  expectBaseHash: string | null,
  settledDoubts: readonly number[],
  as: { action: 'create' | 'link'; details: Record<string, unknown>; extraMappings: MappingWrite[] } = {
    action: 'create',
    details: { answer_unreadable: true },
    extraMappings: [],
  },
): Step {
  const { identity } = found;
  const externalKey = contactKey(local);
  const base = { ...auditBase(ctx, entry), intercomId: identity.id, externalKey, requestId: found.requestId };
  return {
    kind: 'finish',
    outcome: as.action === 'create' ? 'created' : 'linked',
    write: {
      expectBaseHash,
      guard: { entity: 'contact', localId },
      mappings: [
        ...as.extraMappings,
        {
          entityType: 'contact',
          localId,
          intercomId: identity.id,
          externalKey,
          status: 'active',
          baseSnapshot: local,
          baseHash: snapshotHash(local),
          remoteUpdatedAt: identity.updatedAt === null ? null : new Date(identity.updatedAt * 1000),
        },
      ],
      localPatches: [],
      audit: [
        { ...base, action: as.action, changes: fieldChanges(null, local), details: as.details },
        { ...base, action: 'invalid', changes: {}, details: { reason: found.reason } },
      ],
      settledDoubts,
    },
  };
}

/** Intercom's 409 for an archived holder says so ("An archived contact matching those details already exists"). */
export function conflictSaysArchived(err: IntercomApiError): boolean {
  return /\barchived contact\b/i.test(err.message);
}

async function findConflictHolder(
  ctx: PushContext,
  localId: number,
  local: ContactSnapshot,
  err: IntercomApiError,
): Promise<{ holder: Holder; archived409: boolean }> {
  const id = conflictHolderId(err);
  // A holder served in a drifted shape is read as the pull reads it: by its readable identity (payloads.ts).
  let holder: Holder | null = null;
  if (id) {
    try {
      const c = await getContactOrNull(ctx.gateway, id);
      if (c) holder = { contact: c };
    } catch (e) {
      holder = unreadableOf(e, id);
      if (!holder) throw e;
    }
  }
  if (!holder && local.external_id) {
    try {
      const c = await ctx.gateway.findContactByExternalId(local.external_id, 'push');
      if (c) holder = { contact: c };
    } catch (e) {
      holder = unreadableOf(e);
      if (!holder) throw e;
    }
  }
  if (!holder && local.email) {
    const { contacts, unreadable } = await searchByEmail(ctx.gateway, local.email);
    // A match without even a readable id may be the holder: nothing is linked on a guess.
    if (unreadable.some((r) => !r.identity)) throw unreadableMatch('email', unreadable);
    const candidates: Holder[] = [
      ...contacts.filter((c) => c.role === local.role).map((c) => ({ contact: c })),
      ...unreadable
        .filter((r) => r.identity && (r.identity.role === undefined || r.identity.role === local.role))
        .map((r) => ({ unreadable: { identity: r.identity!, reason: r.reason, requestId: null } })),
    ];
    if (candidates.length > 1) {
      throw new AmbiguousIdentityError(
        'contact',
        String(localId),
        candidates.map(holderId).sort(),
        `Intercom refused the create (409) and ${candidates.length} ${local.role}s share the email`,
      );
    }
    holder = candidates[0] ?? null;
  }
  if (!holder) {
    throw new NotYetVisibleError(
      `contact ${localId}: Intercom reports a duplicate (409) that no lookup shows yet; retrying later instead of creating again`,
      { cause: err },
    );
  }
  const holderExternalId = 'contact' in holder ? holder.contact.externalId : holder.unreadable.identity.externalId;
  if (local.external_id && holderExternalId !== null && holderExternalId !== local.external_id) {
    throw new AmbiguousIdentityError(
      'contact',
      String(localId),
      [holderId(holder)],
      `Intercom refused the create (409): its email belongs to a contact with external_id ${holderExternalId}`,
    );
  }
  return { holder, archived409: conflictSaysArchived(err) };
}

async function link(
  ctx: PushContext,
  entry: OutboxEntry,
  localId: number,
  local: ContactSnapshot,
  holder: Holder,
  expectBaseHash: string | null,
  details: Record<string, unknown>,
  settledDoubts: readonly number[],
): Promise<Step> {
  const id = holderId(holder);
  let owner = await ctx.store.mappingByIntercomId('contact', id);
  const extraMappings: MappingWrite[] = [];
  let weArchivedIt = false;
  if (owner && owner.local_id !== localId) {
    // The key was re-created (docs/guarantees.md "Re-created contacts"): the row that owned this contact was deleted, and a new row carries the same
    // key. The new row takes the contact over and the old mapping ends 'deleted' without an Intercom id, so the old
    // row's delete, whenever it runs, finds nothing to archive. The old mapping's status does not matter: when the
    // re-insert follows the delete closely, the delete may not have been pushed yet and the mapping is still
    // 'active' (found by the chaos test, docs/guarantees.md); the row's wish is gone either way.
    const ownerRow = await ctx.store.contact(owner.local_id);
    const ownerGone = ownerRow === null || ownerRow.deleted_at !== null;
    if (!ownerGone) {
      throw new AmbiguousIdentityError(
        'contact',
        String(localId),
        [id],
        `the Intercom contact holding this key is already linked to local contact ${owner.local_id}`,
      );
    }
    if (await ctx.store.hasPendingEntry('contact', owner.local_id)) {
      // The old row's delete is still queued or in flight: it will archive this very contact. Taking it over now would
      // race that archive (the contact would end archived under the new row), so the delete goes first and the
      // create comes back to unarchive it. The 409 that brought us here wrote nothing; the retry costs one request.
      return {
        kind: 'defer',
        reason: `contact ${localId}: the deleted row ${owner.local_id} that held Intercom contact ${id} has its delete pending; taking the contact over after it`,
        delayMs: 1_000,
      };
    }
    // Read again: the delete may have finished since the look-up above, and whether we archived it decides the unarchive.
    owner = (await ctx.store.mappingByIntercomId('contact', id)) ?? owner;
    weArchivedIt = owner.status === 'archived';
    extraMappings.push({
      entityType: 'contact',
      localId: owner.local_id,
      intercomId: null,
      externalKey: owner.external_key,
      status: 'deleted',
      statusReason: `deleted locally; its Intercom contact ${id} now belongs to re-created local contact ${localId}`,
      baseSnapshot: owner.base_snapshot,
      baseHash: owner.base_hash,
      remoteUpdatedAt: owner.remote_updated_at,
    });
    details = { ...details, revived_from_local_id: owner.local_id };
  }
  // The claim: recorded like a write in doubt (no fields) before anything is sent, under the contact's lock, and only
  // if no removal decided for another row is in flight and no other live row holds the contact (./claim.ts). Until this
  // link commits, it says the row is bringing the contact back to life in Intercom: a removal decided for an older row
  // then stands down, and a delete of this row that comes first archives it again (delete-entity.ts).
  const claimDoubt = { entityType: 'contact' as const, localId, intercomId: id, op: 'update' as const, fields: {} };
  const claim = await claimContact(ctx, claimDoubt, 'takeover');
  if ('refused' in claim) return takeoverRefused(localId, id, claim.refused);
  const settled = [...settledDoubts, claim.doubtId];
  // Intercom keeps an archived contact's key reserved and answers 409. Only a holder known to be archived is brought
  // back (help article https://www.intercom.com/help/en/articles/8851551): its 409 says so, or its answer does, or we archived it ourselves. Unarchiving a live contact
  // would be harmless, but one archived by someone else is theirs to bring back.
  const archived = 'contact' in holder ? holder.contact.archived : holder.unreadable.identity.archived;
  if (archived === true || details.archived_409 === true || weArchivedIt) {
    await sendRecorded(ctx, claim.doubtId, claimDoubt, () => ctx.gateway.unarchiveContact(id, 'push'));
    details = { ...details, unarchived: true };
  }
  if ('unreadable' in holder) return linkDrifted(ctx, entry, localId, local, holder.unreadable, expectBaseHash, details, settled, extraMappings);
  let current = holder.contact;
  const base = linkBase(contactFromRemote(current), local);
  const diff = contactWrite(base, local);
  let body: ContactWrite | null = null;
  if (diff) {
    body = await prepareContactBody(ctx, localId, diff);
    const sent = await putContact(ctx, { id: localId, role: local.role }, id, body);
    current = sent.value;
    settled.push(sent.doubtId);
  }
  return contactFinish(ctx, entry, {
    expectBaseHash,
    response: current,
    agreedBase: base,
    auditBase: base,
    local,
    body,
    action: 'link',
    outcome: 'linked',
    details: { ...details, intercom_id: id },
    settledDoubts: settled,
    extraMappings,
    openDoubts: await openUpdateDoubts(ctx, localId, settled),
  });
}

/**
 * The link to a holder we can only read the identity of: what Intercom holds is unknown, so every value the row has is
 * sent (what it lacks stays as Intercom holds it). An answer that parses is recorded as any link's; one in the same
 * drifted shape is an applied write all the same, and the values sent become the agreed base (linkUnreadable).
 */
async function linkDrifted(
  ctx: PushContext,
  entry: OutboxEntry,
  localId: number,
  local: ContactSnapshot,
  holder: UnreadableContact,
  expectBaseHash: string | null,
  details: Record<string, unknown>,
  settled: number[],
  extraMappings: MappingWrite[],
): Promise<Step> {
  const id = holder.identity.id;
  details = { ...details, intercom_id: id, holder_unreadable: true };
  const diff = contactWrite(null, local);
  let seen = holder;
  if (diff) {
    const body = await prepareContactBody(ctx, localId, diff);
    try {
      const sent = await putContact(ctx, { id: localId, role: local.role }, id, body);
      const base = linkBase(contactFromRemote(sent.value), local);
      return contactFinish(ctx, entry, {
        expectBaseHash,
        response: sent.value,
        agreedBase: base,
        auditBase: null,
        local,
        body,
        action: 'link',
        outcome: 'linked',
        details,
        settledDoubts: [...settled, sent.doubtId],
        extraMappings,
        openDoubts: await openUpdateDoubts(ctx, localId, [...settled, sent.doubtId]),
      });
    } catch (err) {
      const drifted = unreadableOf(err, id);
      if (!drifted) throw err;
      // Only this PUT's doubt is settled: an earlier write with the same body may still land late (doubt.ts).
      const own = doubtOfError(err);
      if (own !== null) settled = [...settled, own];
      seen = drifted.unreadable;
      details = { ...details, answer_unreadable: true };
    }
  }
  return linkUnreadable(ctx, entry, localId, local, { ...seen, identity: { ...holder.identity, ...seen.identity } }, expectBaseHash, settled, {
    action: 'link',
    details,
    extraMappings,
  });
}

/** Why the row may not take the contact over now (./claim.ts): a wait, or an identity another live row holds. */
function takeoverRefused(localId: number, intercomId: string, refused: ClaimRefusal): Step {
  switch (refused.kind) {
    case 'row-gone':
      // Deleted while its create was out: the entry runs again at once as the delete it now is, with nothing taken.
      return { kind: 'defer', reason: `contact ${localId}: deleted while linking Intercom contact ${intercomId}; not taking it over`, delayMs: 0 };
    case 'removing':
      return {
        kind: 'defer',
        reason: `contact ${localId}: the archive of Intercom contact ${intercomId} decided for deleted row ${refused.localId} is in flight; taking the contact over after it`,
        delayMs: 1_000,
      };
    case 'held':
      if (refused.by === 'write') {
        return {
          kind: 'defer',
          reason: `contact ${localId}: local contact ${refused.localId} is taking Intercom contact ${intercomId} over; waiting for its link`,
          delayMs: 1_000,
        };
      }
      throw new AmbiguousIdentityError(
        'contact',
        String(localId),
        [intercomId],
        `the Intercom contact holding this key is already linked to local contact ${refused.localId}`,
      );
  }
}
