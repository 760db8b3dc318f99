/**
 * Identity resolution shared by pull and push: which Intercom contact a local row is, once the id we held stops
 * answering (merge, deletion, re-creation) or before a link exists. Pure decisions over small lookup ports; the
 * callers apply the decision in their own transaction. The rule everywhere: never guess, never create a duplicate.
 */
import type { IntercomContact } from '../intercom/payloads.ts';
import type { ContactSnapshot } from './snapshot.ts';

/**
 * The mapping's external_key: a user's external_id; a lead's email. Leads cannot be found by external_id
 * (find_by_external_id serves users only, 2.14 OpenAPI operation ShowContactByExternalId), and whether Intercom keeps a lead's external_id at all is
 * disputed (Segment's integration says it does not: docs/simulator.md "Duplicate leads and lead `external_id`"), so a lead is keyed by email even when it has one.
 */
export function contactExternalKey(s: Pick<ContactSnapshot, 'external_id' | 'email' | 'role'>): string | null {
  if (s.role === 'lead' && s.email) return s.email.toLowerCase();
  return s.external_id ?? null;
}

/**
 * A lead's external_id that Intercom dropped (the answer or a pulled lead has none while the local lead has one) is
 * local-only: the agreed state takes the local value, so it is neither pushed again on every change nor wiped
 * locally by the pull. It is sent again when the lead becomes a user (see push/diff.ts contactWrite).
 */
export function keepLeadExternalId(remote: ContactSnapshot, local: Pick<ContactSnapshot, 'external_id' | 'role'>): ContactSnapshot {
  if (remote.role !== 'lead' || local.role !== 'lead' || remote.external_id !== null || !local.external_id) return remote;
  return { ...remote, external_id: local.external_id };
}

export interface RemoteLookupPort {
  /** null when Intercom has no live user with that external_id. */
  findContactByExternalId(externalId: string): Promise<IntercomContact | null>;
  /** Live contacts whose email equals this one (search is case-insensitive). */
  searchContactsByEmail(email: string): Promise<IntercomContact[]>;
}

export interface KnownContact {
  /** The Intercom id that now answers 404. */
  intercomId: string;
  externalId: string | null;
  email: string | null;
  role: 'user' | 'lead';
}

export type MissingResolution =
  | { kind: 'found'; contact: IntercomContact; via: 'external_id' | 'email' }
  | { kind: 'gone' }
  | { kind: 'ambiguous'; candidates: string[] };

/**
 * A mapped contact answered 404. External id first (unique among live users); then email, where a single live
 * match is the survivor (a merged lead's email moves to the user that lacked one) and several matches are refused.
 */
export async function resolveMissingContact(port: RemoteLookupPort, known: KnownContact): Promise<MissingResolution> {
  if (known.externalId) {
    const c = await port.findContactByExternalId(known.externalId);
    if (c && c.id !== known.intercomId) return { kind: 'found', contact: c, via: 'external_id' };
  }
  if (known.email) {
    const matches = (await port.searchContactsByEmail(known.email)).filter((c) => c.id !== known.intercomId);
    // A user is the only thing a lead can be merged into; prefer it when the email is shared with other leads.
    const users = matches.filter((c) => c.role === 'user');
    const pool = known.role === 'lead' && users.length > 0 ? users : matches;
    if (pool.length === 1) return { kind: 'found', contact: pool[0]!, via: 'email' };
    if (pool.length > 1) return { kind: 'ambiguous', candidates: pool.map((c) => c.id).sort() };
  }
  return { kind: 'gone' };
}

export type FoundAction =
  /** The survivor is another local row's contact: the missing one was merged into it. */
  | { kind: 'merged'; intoLocalId: number }
  /** Nobody local holds the survivor: it is this row's contact under a new id (re-created, or its merge target). */
  | { kind: 'relink' };

/** What to do with the local row whose contact vanished, given who (if anyone) already maps the survivor. */
export function actionForFound(missingLocalId: number, survivorOwnerLocalId: number | null): FoundAction {
  if (survivorOwnerLocalId !== null && survivorOwnerLocalId !== missingLocalId) return { kind: 'merged', intoLocalId: survivorOwnerLocalId };
  return { kind: 'relink' };
}

/** Local candidates for an unmapped remote contact: exactly one links, several are ambiguous, none creates. */
export type LinkDecision<T> = { kind: 'link'; row: T } | { kind: 'ambiguous'; rows: T[] } | { kind: 'create' };

export function decideLink<T>(candidates: readonly T[]): LinkDecision<T> {
  if (candidates.length === 1) return { kind: 'link', row: candidates[0]! };
  if (candidates.length > 1) return { kind: 'ambiguous', rows: [...candidates] };
  return { kind: 'create' };
}
