/**
 * A linked contact: send local − base in one PUT. A 404 means the id stopped answering (merged away, deleted):
 * resolve it like the pull does (src/sync/identity.ts), relink, and send once more.
 */
import type { LinkedMapping } from '../../db/queries/mappings.ts';
import type { ContactWrite, IntercomContact } from '../../intercom/payloads.ts';
import { actionForFound, resolveMissingContact } from '../identity.ts';
import { IntercomPayloadError, type RecordIdentity } from '../../errors.ts';
import { contactFromRemote, contactSnapshotSchema, fieldChanges, snapshotHash, type ContactSnapshot, type LocalContactRow } from '../snapshot.ts';
import { auditBase, type PushContext, type Step, noop } from './context.ts';
import { contactFinish, contactKey } from './contact-result.ts';
import { contactWrite, sentFields, threeWayBase } from './diff.ts';
import { archiveStateDoubts, doubtOfError, mayHaveLeft, openUpdateDoubts, putContact, sendArchiveState } from './doubt.ts';
import { is, remoteLookup } from './lookup.ts';
import type { OutboxEntry } from './ports.ts';
import { prepareContactBody } from './prepare.ts';
import { sequenceKeySwap } from './swap.ts';

export async function updateContact(
  ctx: PushContext,
  entry: OutboxEntry,
  row: LocalContactRow,
  local: ContactSnapshot,
  mapping: LinkedMapping<'contact'>,
): Promise<Step> {
  const base = mapping.base_snapshot;
  const diff = contactWrite(base, local);
  // An archive of ours that nothing recorded may have been applied: undone as if it had been.
  const stateDoubts = await archiveStateDoubts(ctx, row.id);
  const settledDoubts = stateDoubts.map((d) => d.id);
  const archived = mapping.status === 'archived' || mayHaveLeft(stateDoubts, true);
  if (!diff && !archived) {
    // Only unarchives may be in doubt, and the row is live as they would leave it.
    await ctx.store.settleWriteDoubts(settledDoubts);
    return noop('unchanged');
  }

  if (archived) {
    // The row was soft-deleted (we archived it, or may have) and is live again.
    try {
      const sent = await sendArchiveState(ctx, row.id, mapping.intercom_id, false, () => ctx.gateway.unarchiveContact(mapping.intercom_id, 'push'));
      settledDoubts.push(sent.doubtId);
    } catch (err) {
      if (!is(err, 404)) throw err;
      return relink(ctx, entry, row, local, mapping, base);
    }
  }
  let response: IntercomContact;
  let body: ContactWrite | null = null;
  try {
    if (diff) {
      body = await prepareContactBody(ctx, row.id, diff);
      const sent = await putContact(ctx, { id: row.id, role: local.role }, mapping.intercom_id, body);
      response = sent.value;
      settledDoubts.push(sent.doubtId);
    } else {
      response = await ctx.gateway.getContact(mapping.intercom_id, 'push');
    }
  } catch (err) {
    // Answered 2xx, so applied, in a shape we cannot read (schema drift): the write is done; only the answer is lost.
    if (err instanceof IntercomPayloadError && err.identity?.id === mapping.intercom_id && body) {
      return updatedUnreadable(ctx, entry, { local, mapping, base, body, err, identity: err.identity });
    }
    // Refused because another of our contacts still holds a key this row takes from it (rows swapping keys).
    const sequenced = body ? await sequenceKeySwap(ctx, entry, row, local, mapping, body, err, settledDoubts) : null;
    if (sequenced) return sequenced;
    if (!is(err, 404)) throw err;
    return relink(ctx, entry, row, local, mapping, base);
  }
  return contactFinish(ctx, entry, {
    expectBaseHash: mapping.base_hash,
    response,
    agreedBase: base ?? local,
    auditBase: base,
    local,
    body,
    action: archived ? 'unarchive' : 'update',
    outcome: 'updated',
    settledDoubts,
    openDoubts: await openUpdateDoubts(ctx, row.id, settledDoubts),
  });
}

/**
 * A PUT Intercom answered 2xx with a body that does not parse: applied for certain, so the sent fields are agreed
 * (the base takes them, the others stay as they were) and the change is audited `update`, with an `invalid` row
 * naming what could not be read. Its own doubt is settled: the answer arrived. Without this the write stayed in doubt,
 * was retried (each retry applied again, answered the same way) and ended a dead letter for a change Intercom holds.
 * Only its own: an earlier PUT of the same body whose answer was lost may still land, after a remote edit, and its
 * doubt is what lets the pull take it for our echo (chaos seed 10 settled both, and the late value won unaudited).
 */
function updatedUnreadable(
  ctx: PushContext,
  entry: OutboxEntry,
  o: { local: ContactSnapshot; mapping: LinkedMapping<'contact'>; base: ContactSnapshot | null; body: ContactWrite; err: IntercomPayloadError; identity: RecordIdentity },
): Step {
  const sent = sentFields(o.body);
  const l: Readonly<Record<string, unknown>> = o.local;
  const agreed = contactSnapshotSchema.parse({ ...(o.base ?? o.local), ...Object.fromEntries([...sent].filter((k) => k in l).map((k) => [k, l[k]])) });
  const changes = fieldChanges(o.base, o.local);
  for (const k of Object.keys(changes)) if (!sent.has(k)) delete changes[k];
  const own = doubtOfError(o.err);
  const audit = { ...auditBase(ctx, entry), intercomId: o.mapping.intercom_id, externalKey: o.mapping.external_key, requestId: o.err.requestId ?? null };
  return {
    kind: 'finish',
    outcome: 'updated',
    write: {
      expectBaseHash: o.mapping.base_hash,
      guard: { entity: 'contact', localId: entry.localId },
      mappings: [
        {
          entityType: 'contact',
          localId: entry.localId,
          intercomId: o.mapping.intercom_id,
          externalKey: o.mapping.external_key,
          status: 'active',
          baseSnapshot: agreed,
          baseHash: snapshotHash(agreed),
          remoteUpdatedAt: o.identity.updatedAt === null ? o.mapping.remote_updated_at : new Date(o.identity.updatedAt * 1000),
        },
      ],
      localPatches: [],
      audit: [
        { ...audit, action: 'update', changes, details: { answer_unreadable: true } },
        { ...audit, action: 'invalid', changes: {}, details: { reason: o.err.message } },
      ],
      settledDoubts: own === null ? [] : [own],
    },
  };
}

async function relink(
  ctx: PushContext,
  entry: OutboxEntry,
  row: LocalContactRow,
  local: ContactSnapshot,
  mapping: LinkedMapping<'contact'>,
  base: ContactSnapshot | null,
): Promise<Step> {
  const known = {
    intercomId: mapping.intercom_id,
    externalId: base?.external_id ?? local.external_id,
    email: base?.email ?? local.email,
    role: base?.role ?? local.role,
  };
  const found = await resolveMissingContact(remoteLookup(ctx.gateway), known);
  const key = contactKey(local);
  if (found.kind === 'ambiguous') {
    return {
      kind: 'dead',
      outcome: 'failed',
      error: `contact ${row.id}: Intercom contact ${mapping.intercom_id} is gone and ${found.candidates.length} contacts could be it (${found.candidates.join(', ')}); not guessing`,
      audit: { action: 'dead', intercomId: mapping.intercom_id, externalKey: key, details: { candidates: found.candidates } },
      mappingStatus: { status: 'ambiguous', reason: `404 on ${mapping.intercom_id}; candidates ${found.candidates.join(', ')}` },
    };
  }
  if (found.kind === 'gone') {
    return {
      kind: 'dead',
      outcome: 'failed',
      error: `contact ${row.id}: Intercom contact ${mapping.intercom_id} no longer exists (deleted in Intercom); requeue to create it again`,
      audit: { action: 'dead', intercomId: mapping.intercom_id, externalKey: key },
      mappingStatus: { status: 'deleted', reason: `404 on ${mapping.intercom_id} and no contact with its external_id or email` },
    };
  }
  const owner = await ctx.store.mappingByIntercomId('contact', found.contact.id);
  const action = actionForFound(row.id, owner?.local_id ?? null);
  if (action.kind === 'merged') {
    return {
      kind: 'dead',
      outcome: 'merged',
      error: `contact ${row.id}: Intercom merged ${mapping.intercom_id} into ${found.contact.id}, which is local contact ${action.intoLocalId}; this row's change was not pushed`,
      audit: { action: 'dead', intercomId: mapping.intercom_id, externalKey: key, details: { merged_into: found.contact.id } },
      mappingStatus: { status: 'merged', reason: `merged into ${found.contact.id} (local ${action.intoLocalId})` },
    };
  }
  const agreed = threeWayBase(base, contactFromRemote(found.contact), local);
  const diff = contactWrite(agreed, local);
  let response = found.contact;
  let body: ContactWrite | null = null;
  const settledDoubts: number[] = [];
  if (diff) {
    body = await prepareContactBody(ctx, row.id, diff);
    const sent = await putContact(ctx, { id: row.id, role: local.role }, found.contact.id, body);
    response = sent.value;
    settledDoubts.push(sent.doubtId);
  }
  return contactFinish(ctx, entry, {
    expectBaseHash: mapping.base_hash,
    response,
    agreedBase: agreed,
    auditBase: base,
    local,
    body,
    action: 'relink',
    outcome: 'updated',
    details: { previous_intercom_id: mapping.intercom_id, via: found.via },
    settledDoubts,
    openDoubts: await openUpdateDoubts(ctx, row.id, settledDoubts),
  });
}
