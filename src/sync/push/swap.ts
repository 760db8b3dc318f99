/**
 * Rows trading keys (docs/guarantees.md, "Swapped keys"): an application swaps the external_ids of two users, or the
 * emails of two leads, in one transaction. Each row's PUT alone is refused (409, or a 400) because the other contact
 * still holds the key it wants, and each waits for the other: before, both were dead-lettered and Intercom kept the
 * old keys.
 *
 * A write blocked by one of OUR contacts — mapped to another live row whose own pending change releases that key — is
 * sequenced instead of failed. The lower local id of the two moves its contact aside to a temporary key of its own and
 * comes back (its entry stays pending, no attempt counted); the other waits for the key to be released. In a swap the
 * first frees the key the second wants, which frees the key the first wants; in a longer cycle the lowest row moves
 * aside; in a chain the writes simply follow each other.
 *
 * The temporary value is `intercom-sync-swap-<Intercom id>` (external_id) or `intercom-sync-swap-<Intercom id>@swap.invalid`
 * (email): unique in the workspace, a reserved top-level domain (RFC 2606) that no mail goes to, and never written to a
 * local row. It must not stick, whatever crashes: it is sent as any update, its doubt recorded first (./doubt.ts), and
 * its answer recorded as the agreed base with the entry still pending, so the next run sends the row's own value over
 * it. An answer lost leaves it a write in doubt, which the pull takes for our echo (never for a remote edit) and which
 * the next run overwrites the same way.
 */
import type { LinkedMapping, Mapping } from '../../db/queries/mappings.ts';
import { IntercomApiError } from '../../errors.ts';
import type { ContactWrite } from '../../intercom/payloads.ts';
import { contactSnapshotSchema, snapshotHash, type ContactSnapshot, type LocalContactRow } from '../snapshot.ts';
import { auditBase, requestIdOf, type PushContext, type Step } from './context.ts';
import { putContact } from './doubt.ts';
import { conflictHolderId } from './lookup.ts';
import type { OutboxEntry } from './ports.ts';
import { prepareContactBody } from './prepare.ts';

export const TEMPORARY_KEY_PREFIX = 'intercom-sync-swap-';
/** How soon a sequenced write tries again: the other row's write is usually already on its way. */
const SWAP_WAIT_MS = 250;

type KeyField = 'external_id' | 'email';

export function temporaryKey(field: KeyField, intercomId: string): string {
  return field === 'external_id' ? `${TEMPORARY_KEY_PREFIX}${intercomId}` : `${TEMPORARY_KEY_PREFIX}${intercomId}@swap.invalid`;
}

export function isTemporaryKey(v: unknown): boolean {
  return typeof v === 'string' && v.startsWith(TEMPORARY_KEY_PREFIX);
}

const sameKey = (field: KeyField, a: string | null | undefined, b: string | null | undefined): boolean =>
  a != null && b != null && (field === 'email' ? a.toLowerCase() === b.toLowerCase() : a === b);

interface Blocker {
  field: KeyField;
  wanted: string;
  owner: LinkedMapping<'contact'>;
  /** The owner's agreed base already holds its temporary key: it is releasing the key, never to be moved again. */
  movingAside: boolean;
}

/** The contact of ours that holds a key this write wants, if another live row's pending change releases it. */
async function ownBlocker(
  ctx: PushContext,
  row: LocalContactRow,
  mapping: LinkedMapping<'contact'>,
  body: ContactWrite,
  err: IntercomApiError,
): Promise<Blocker | null> {
  const wants: [KeyField, string][] = [];
  if (typeof body.external_id === 'string') wants.push(['external_id', body.external_id]);
  if (typeof body.email === 'string') wants.push(['email', body.email]);
  if (wants.length === 0) return null;
  // Intercom's 409 names the holder; otherwise it can only be ours if one of our mappings is keyed by the value.
  const id = conflictHolderId(err);
  const candidates: Mapping<'contact'>[] = [];
  if (id) {
    const m = await ctx.store.mappingByIntercomId('contact', id);
    if (m) candidates.push(m);
  } else {
    for (const [field, v] of wants) candidates.push(...(await ctx.store.mappingsByExternalKey('contact', field === 'email' ? v.toLowerCase() : v)));
  }
  for (const owner of candidates) {
    if (owner.local_id === row.id || owner.intercom_id === null || owner.intercom_id === mapping.intercom_id) continue;
    if (owner.status !== 'active' && owner.status !== 'conflict') continue;
    const holds = owner.base_snapshot;
    if (!holds) continue;
    for (const [field, wanted] of wants) {
      // Holding a temporary key, the owner is moving aside in a swap: Intercom's refusal may have been answered just
      // before that write landed, while its finish has committed since. Its entry stays pending until it sets its own
      // value, so waiting for it ends.
      const movingAside = isTemporaryKey(holds[field]);
      if (!movingAside && !sameKey(field, holds[field], wanted)) continue;
      const ownerRow = await ctx.store.contact(owner.local_id);
      if (!ownerRow || ownerRow.deleted_at !== null) continue;
      // The other row keeps this key: a real conflict, not a trade.
      if (sameKey(field, ownerRow[field], wanted)) continue;
      if (!(await ctx.store.hasPendingEntry('contact', owner.local_id))) continue;
      return { field, wanted, owner: { ...owner, intercom_id: owner.intercom_id }, movingAside };
    }
  }
  return null;
}

/**
 * Called when the PUT of a linked contact was refused (409 or 400): the step that sequences the write if one of our
 * own contacts blocks it (see above), or null to let the refusal stand.
 */
export async function sequenceKeySwap(
  ctx: PushContext,
  entry: OutboxEntry,
  row: LocalContactRow,
  local: ContactSnapshot,
  mapping: LinkedMapping<'contact'>,
  body: ContactWrite,
  err: unknown,
  settledDoubts: readonly number[],
): Promise<Step | null> {
  if (!(err instanceof IntercomApiError) || (err.status !== 409 && err.status !== 400)) return null;
  const blocker = await ownBlocker(ctx, row, mapping, body, err);
  if (!blocker) return null;
  const { field, owner } = blocker;
  const base = mapping.base_snapshot ?? local;
  const current = base[field];
  if (blocker.movingAside || row.id > owner.local_id || current === null || isTemporaryKey(current)) {
    // Settled doubts (an unarchive sent in this run) stay recorded: the finish of the retry settles them with the rest.
    return {
      kind: 'defer',
      reason: `contact ${row.id}: ${field} ${blocker.wanted} is still held by Intercom contact ${owner.intercom_id} of local contact ${owner.local_id}, whose pending change releases it; sent after it`,
      delayMs: SWAP_WAIT_MS,
    };
  }
  const temp = temporaryKey(field, mapping.intercom_id);
  const prepared = await prepareContactBody(ctx, row.id, { [field]: temp });
  const sent = await putContact(ctx, { id: row.id, role: local.role }, mapping.intercom_id, prepared);
  // Only the key moved: the rest of the base stays as agreed (the pull reconciles anything else the answer shows).
  const agreed = contactSnapshotSchema.parse({ ...base, [field]: temp });
  return {
    kind: 'finish',
    outcome: 'updated',
    write: {
      expectBaseHash: mapping.base_hash,
      guard: { entity: 'contact', localId: row.id },
      mappings: [
        {
          entityType: 'contact',
          localId: row.id,
          intercomId: mapping.intercom_id,
          externalKey: mapping.external_key,
          status: 'active',
          baseSnapshot: agreed,
          baseHash: snapshotHash(agreed),
          remoteUpdatedAt: new Date(sent.value.updatedAt * 1000),
        },
      ],
      localPatches: [],
      audit: [
        {
          ...auditBase(ctx, entry),
          intercomId: mapping.intercom_id,
          externalKey: mapping.external_key,
          action: 'update',
          changes: { [field]: { before: current, after: temp } },
          requestId: requestIdOf(sent.value),
          details: {
            swap: 'temporary',
            releases_for_local_id: owner.local_id,
            reason: `local contact ${owner.local_id} takes ${field} ${String(current)}; this row's own ${field} is sent next`,
          },
        },
      ],
      settledDoubts: [...settledDoubts, sent.doubtId],
      keepEntry: { delayMs: SWAP_WAIT_MS },
    },
  };
}
