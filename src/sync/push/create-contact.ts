/**
 * Creating a contact for a local row that has no link, without ever creating it twice.
 *
 * Protocol (each numbered step is durable before the next one starts):
 *   1. Key: external_id; for leads (and users without one) the lower-cased email. A row with neither cannot be found
 *      again after a crash, so it is refused as invalid instead of being created blindly.
 *   2. Reserve: a sync_mappings row with status 'pending', external_key = the key, no intercom_id, committed in its
 *      own transaction BEFORE the create is sent. From then on, a 'pending' mapping means "a create may have
 *      reached Intercom".
 *   3. Recover (only when the reservation already existed, i.e. an earlier attempt may have created the contact):
 *      with an external_id, GET /contacts/find_by_external_id (immediate, no search lag); found → link (step 6).
 *      Leads and email-keyed users skip this: search may not see a contact created seconds ago, so the create
 *      attempt itself is the lookup (Intercom answers 409 naming the existing id).
 *   4. Create: POST /contacts with the row's non-empty fields.
 *   5. On 409: the holder's id from the message (GET /contacts/{id}, immediate), else find_by_external_id, else an
 *      email search. Several candidates → ambiguous (mapping status 'ambiguous', dead letter with the candidates);
 *      none visible yet → retry later (never create again); held by another local row → ambiguous; archived →
 *      unarchive first.
 *   6. Link: PUT only the fields the row holds and Intercom lacks or differs on, then in ONE transaction: mapping
 *      active with the Intercom id and base := the answer, remote-only fields copied onto the row, audit row, outbox
 *      entry deleted if its version is unchanged.
 * A crash after 4 leaves a 'pending' mapping, so the retry goes through 3/5 and links the contact made by the lost
 * attempt. A crash after 6 committed leaves nothing to redo.
 */
import { AmbiguousIdentityError, IntercomApiError, ValidationError } from '../../errors.ts';
import type { ContactWrite, IntercomContact } from '../../intercom/payloads.ts';
import { contactFromRemote, type ContactSnapshot, type LocalContactRow } from '../snapshot.ts';
import { NotYetVisibleError, type PushContext, type Step } from './context.ts';
import { contactFinish, contactKey } from './contact-result.ts';
import { contactWrite, linkBase } from './diff.ts';
import { conflictHolderId, getContactOrNull, is, remoteLookup } from './lookup.ts';
import type { OutboxEntry } from './ports.ts';
import { prepareContactBody } from './prepare.ts';

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

  if (!reservation.fresh && local.external_id) {
    const existing = await ctx.gateway.findContactByExternalId(local.external_id, 'push');
    if (existing) return link(ctx, entry, row.id, local, existing, expectBaseHash, { via: 'recovery' });
  }

  let created: IntercomContact;
  try {
    created = await ctx.gateway.createContact(body, 'push');
  } catch (err) {
    if (!is(err, 409)) throw err;
    const holder = await findConflictHolder(ctx, row.id, local, err);
    return link(ctx, entry, row.id, local, holder, expectBaseHash, { via: '409' });
  }
  return contactFinish(ctx, entry, {
    expectBaseHash,
    response: created,
    agreedBase: local,
    auditBase: null,
    local,
    body,
    action: 'create',
    outcome: 'created',
  });
}

async function findConflictHolder(
  ctx: PushContext,
  localId: number,
  local: ContactSnapshot,
  err: IntercomApiError,
): Promise<IntercomContact> {
  const id = conflictHolderId(err);
  let holder = id ? await getContactOrNull(ctx.gateway, id) : null;
  if (!holder && local.external_id) holder = await ctx.gateway.findContactByExternalId(local.external_id, 'push');
  if (!holder && local.email) {
    const matches = await remoteLookup(ctx.gateway).searchContactsByEmail(local.email);
    const sameRole = matches.filter((c) => c.role === local.role);
    if (sameRole.length > 1) {
      throw new AmbiguousIdentityError(
        'contact',
        String(localId),
        sameRole.map((c) => c.id).sort(),
        `Intercom refused the create (409) and ${sameRole.length} ${local.role}s share the email`,
      );
    }
    holder = sameRole[0] ?? null;
  }
  if (!holder) {
    throw new NotYetVisibleError(
      `contact ${localId}: Intercom reports a duplicate (409) that no lookup shows yet; retrying later instead of creating again`,
      { cause: err },
    );
  }
  if (local.external_id && holder.externalId !== null && holder.externalId !== local.external_id) {
    throw new AmbiguousIdentityError(
      'contact',
      String(localId),
      [holder.id],
      `Intercom refused the create (409): its email belongs to a contact with external_id ${holder.externalId}`,
    );
  }
  return holder;
}

async function link(
  ctx: PushContext,
  entry: OutboxEntry,
  localId: number,
  local: ContactSnapshot,
  holder: IntercomContact,
  expectBaseHash: string | null,
  details: Record<string, unknown>,
): Promise<Step> {
  const owner = await ctx.store.mappingByIntercomId('contact', holder.id);
  if (owner && owner.local_id !== localId) {
    throw new AmbiguousIdentityError(
      'contact',
      String(localId),
      [holder.id],
      `the Intercom contact holding this key is already linked to local contact ${owner.local_id}`,
    );
  }
  let current = holder;
  // Intercom keeps an archived contact's key reserved and answers 409: bring it back rather than fight over the key.
  // Its contact answers do not always say `archived`, and find_by_external_id hides archived contacts, so a 409
  // holder of unknown state is unarchived too (a no-op for a live one; 409s are rare).
  if (holder.archived === true || (holder.archived === undefined && details.via === '409')) {
    await ctx.gateway.unarchiveContact(holder.id, 'push');
    details = { ...details, unarchived: true };
  }
  const base = linkBase(contactFromRemote(current), local);
  const diff = contactWrite(base, local);
  let body: ContactWrite | null = null;
  if (diff) {
    body = await prepareContactBody(ctx, localId, diff);
    current = await ctx.gateway.updateContact(holder.id, body, 'push');
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
    details: { ...details, intercom_id: holder.id },
  });
}
