/**
 * Writes in doubt (docs/guarantees.md, "Writes in doubt"). Intercom has no idempotency key and no conditional write:
 * a request whose answer is lost (timeout, dropped connection, 5xx) may have been applied, or may still be applied
 * after a newer one. So every contact write is recorded in sync_write_doubts before it is sent and settled when its
 * answer is recorded; whatever is left is "in doubt":
 *   - a create in doubt is resolved by lookup before any new create, and only a lookup that positively finds nothing
 *     allows one (users: find_by_external_id, immediate; leads and email-keyed users: an email search once the
 *     indexing delay has passed — search lags writes by minutes, same search reference: https://developers.intercom.com/docs/references/2.14/rest-api/api.intercom.io/contacts/searchcontacts); a search whose results include a
 *     record it cannot parse has not found nothing, and is retried until the dead letter names that record;
 *   - an update in doubt lets the pull recognise our own late-applied value as an echo (src/sync/pull/echo.ts);
 *   - an archive or unarchive in doubt (op 'archive', fields.archived: the state sent) is sent again the other way
 *     if the row's state disagrees when it is next pushed (chaos seed 19: a worker killed after its archive request,
 *     the row restored before the entry ran again, and the contact stayed archived).
 */
import { AmbiguousIdentityError, IntercomPayloadError, writeMayHaveApplied, type RecordIdentity } from '../../errors.ts';
import type { ContactWrite, IntercomContact, InvalidRecord } from '../../intercom/payloads.ts';
import type { ContactSnapshot } from '../snapshot.ts';
import type { PushContext } from './context.ts';
import { searchByEmail, unreadableMatch } from './lookup.ts';
import { sendLeadTolerant } from './prepare.ts';
import type { WriteDoubt, WriteDoubtInput } from './ports.ts';

export const DEFAULT_CREATE_LOOKUP_DELAY_SECONDS = 300;
export const DEFAULT_WRITE_DOUBT_WINDOW_SECONDS = 900;

export function doubtWindowSeconds(ctx: PushContext): number {
  return ctx.config.writeDoubtWindowSeconds ?? DEFAULT_WRITE_DOUBT_WINDOW_SECONDS;
}

/**
 * Sends one write with its doubt recorded first. The doubt is dropped at once when the error proves Intercom did not
 * apply the write; otherwise it stays, and the caller settles it in the transaction that records the answer.
 */
export async function sendInDoubt<T>(
  ctx: PushContext,
  doubt: WriteDoubtInput,
  send: () => Promise<T>,
): Promise<{ value: T; doubtId: number }> {
  return sendRecorded(ctx, await ctx.store.recordWriteDoubt(doubt), doubt, send);
}

/** sendInDoubt for a write whose doubt is already recorded (claimContact records it under its lock). */
export async function sendRecorded<T>(
  ctx: PushContext,
  doubtId: number,
  doubt: WriteDoubtInput,
  send: () => Promise<T>,
): Promise<{ value: T; doubtId: number }> {
  try {
    return { value: await send(), doubtId };
  } catch (err) {
    if (!writeMayHaveApplied(err)) await ctx.store.settleWriteDoubts([doubtId]);
    else ctx.log.warn({ localId: doubt.localId, op: doubt.op, intercomId: doubt.intercomId }, 'Intercom may have applied this write: it stays in doubt');
    if (typeof err === 'object' && err !== null) doubtsOfErrors.set(err, doubtId);
    throw err;
  }
}

const doubtsOfErrors = new WeakMap<object, number>();

/**
 * The doubt of the write that failed with this error. A caller that learns the write was applied after all (a 2xx
 * answer that does not parse) settles exactly that doubt: an earlier write with the same body may still be in flight,
 * and its doubt is what lets the pull recognise it when it lands late (chaos seed 10).
 */
export function doubtOfError(err: unknown): number | null {
  return typeof err === 'object' && err !== null ? (doubtsOfErrors.get(err) ?? null) : null;
}

/** PUT /contacts/{id} with its doubt recorded: the update every contact push path sends. */
export function putContact(
  ctx: PushContext,
  local: { id: number; role: 'user' | 'lead' },
  intercomId: string,
  body: ContactWrite,
): Promise<{ value: IntercomContact; doubtId: number }> {
  return sendInDoubt(ctx, { entityType: 'contact', localId: local.id, intercomId, op: 'update', fields: { ...body } }, async () => {
    const r = await sendLeadTolerant(local.role, body, (b) => ctx.gateway.updateContact(intercomId, b, 'push'));
    // Nothing was left to send once the refused external_id was dropped: the contact as it is is the answer.
    return r.value ?? ctx.gateway.getContact(intercomId, 'push');
  });
}

/** Our update writes to this contact still in doubt, other than those the step at hand settles (contact-result.ts heldEchoes). */
export async function openUpdateDoubts(ctx: PushContext, localId: number, settled: readonly number[]): Promise<WriteDoubt[]> {
  const done = new Set(settled);
  return (await ctx.store.writeDoubts('contact', localId, doubtWindowSeconds(ctx))).filter((d) => d.op === 'update' && !done.has(d.id));
}

/**
 * Archives and unarchives of this contact that may have been applied without being recorded (a crash or a lost answer
 * between the request and the finish, a stale finish): the mapping's status may not be Intercom's. They do not expire:
 * the next push of the row sends the state the row asks for wherever one of them may have left the other, and its
 * finish settles them.
 */
export async function archiveStateDoubts(ctx: PushContext, localId: number): Promise<WriteDoubt[]> {
  return (await ctx.store.writeDoubts('contact', localId, doubtWindowSeconds(ctx))).filter((d) => d.op === 'archive');
}

/** Whether one of these archive-state doubts may have left the contact `archived`. */
export function mayHaveLeft(doubts: readonly WriteDoubt[], archived: boolean): boolean {
  return doubts.some((d) => d.fields.archived === archived);
}

/** POST /contacts/{id}/archive or /unarchive with its doubt recorded first. */
export function sendArchiveState<T>(ctx: PushContext, localId: number, intercomId: string, archived: boolean, send: () => Promise<T>) {
  return sendInDoubt(ctx, { entityType: 'contact', localId, intercomId, op: 'archive', fields: { archived } }, send);
}

export async function createDoubts(ctx: PushContext, localId: number): Promise<WriteDoubt[]> {
  return (await ctx.store.writeDoubts('contact', localId, doubtWindowSeconds(ctx))).filter((d) => d.op === 'create');
}

export type DoubtResolution =
  | { kind: 'found'; contact: IntercomContact }
  /** It was found, in a shape we cannot parse (schema drift): its id is readable, which is enough to link it. */
  | { kind: 'found-unreadable'; identity: RecordIdentity; reason: string; requestId: string | null }
  | { kind: 'absent' }
  | { kind: 'wait'; delayMs: number; reason: string };

/** What a create in doubt was sent with: the identity to look it up by. */
function sentIdentity(doubts: readonly WriteDoubt[], local: Pick<ContactSnapshot, 'external_id' | 'email' | 'role'>) {
  const last = doubts[doubts.length - 1]!.fields;
  return {
    externalId: (typeof last.external_id === 'string' ? last.external_id : null) ?? local.external_id,
    email: (typeof last.email === 'string' ? last.email : null) ?? local.email,
    role: last.role === 'lead' || last.role === 'user' ? last.role : local.role,
  };
}

/**
 * Did one of these creates in doubt make a contact? `found` names it; `absent` is a positive "nothing there" that
 * allows a new create; `wait` means search cannot answer yet (it may not index a contact created moments ago).
 * Contacts already linked to another local row are not ours to claim.
 */
export async function resolveCreateDoubts(
  ctx: PushContext,
  localId: number,
  doubts: readonly WriteDoubt[],
  local: Pick<ContactSnapshot, 'external_id' | 'email' | 'role'>,
  nowMs: number = Date.now(),
): Promise<DoubtResolution> {
  const id = sentIdentity(doubts, local);
  const notOurs = async (c: { id: string }) => {
    const owner = await ctx.store.mappingByIntercomId('contact', c.id);
    return owner !== null && owner.local_id !== localId && owner.status !== 'archived' && owner.status !== 'deleted';
  };
  if (id.externalId && id.role === 'user') {
    // find_by_external_id reads the live record (no indexing lag) but hides archived contacts; an archived holder
    // then answers the new create with a 409, which names it.
    let found: IntercomContact | null;
    try {
      found = await ctx.gateway.findContactByExternalId(id.externalId, 'push');
    } catch (err) {
      if (!(err instanceof IntercomPayloadError) || !err.identity || (await notOurs(err.identity))) throw err;
      return { kind: 'found-unreadable', identity: err.identity, reason: err.message, requestId: err.requestId ?? null };
    }
    if (found && !(await notOurs(found))) return { kind: 'found', contact: found };
    return { kind: 'absent' };
  }
  if (!id.email) return { kind: 'absent' };
  const delaySeconds = ctx.config.createLookupDelaySeconds ?? DEFAULT_CREATE_LOOKUP_DELAY_SECONDS;
  const searchableAt = Math.max(...doubts.map((d) => d.sentAt.getTime())) + delaySeconds * 1000;
  if (nowMs < searchableAt) {
    return {
      kind: 'wait',
      delayMs: searchableAt - nowMs,
      reason: `contact ${localId}: a create whose answer was lost may have made this ${id.role}; searching by email once Intercom has indexed it`,
    };
  }
  const { contacts: matches, unreadable } = await searchByEmail(ctx.gateway, id.email);
  // A match we cannot parse (schema drift; a drifted create answer is what left this doubt in the first place) may be
  // the contact the create made: unless another local row owns it, the doubt is not resolvable yet.
  const blocking: InvalidRecord[] = [];
  for (const r of unreadable) if (r.id === null || !(await notOurs({ id: r.id }))) blocking.push(r);
  const readable: IntercomContact[] = [];
  for (const c of matches) if (c.role === id.role && !(await notOurs(c))) readable.push(c);
  // The one contact the search found, unreadable but with a readable id and nothing else it could be: the create made
  // it (its answer drifted the same way). Anything less certain waits for a reading, as before.
  const only = blocking[0];
  if (blocking.length === 1 && readable.length === 0 && only?.identity) {
    return { kind: 'found-unreadable', identity: only.identity, reason: only.reason, requestId: null };
  }
  if (blocking.length > 0) throw unreadableMatch(`email (contact ${localId}, create in doubt)`, blocking);
  const candidates: IntercomContact[] = [];
  for (const c of matches) {
    if (c.role !== id.role) continue;
    if (id.role === 'user' && c.externalId !== null && c.externalId !== id.externalId) continue;
    if (await notOurs(c)) continue;
    candidates.push(c);
  }
  if (candidates.length > 1) {
    throw new AmbiguousIdentityError(
      'contact',
      String(localId),
      candidates.map((c) => c.id).sort(),
      `a create whose answer was lost may have made one of ${candidates.length} ${id.role}s sharing this email`,
    );
  }
  return candidates[0] ? { kind: 'found', contact: candidates[0] } : { kind: 'absent' };
}
