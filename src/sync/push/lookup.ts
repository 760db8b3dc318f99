/**
 * Finding a contact Intercom already holds, for the identity decisions of create (409) and update (404). External
 * ids go through find_by_external_id (immediate, users only); emails through search (which lags behind writes).
 */
import { IntercomApiError } from '../../errors.ts';
import type { IntercomContact, InvalidRecord } from '../../intercom/payloads.ts';
import type { RemoteLookupPort } from '../identity.ts';
import { UnreadableMatchError } from './context.ts';
import type { PushGatewayPort } from './ports.ts';

/**
 * An email search with the records it could not parse kept beside the ones it could: every result matched the email,
 * so an unreadable one may be the very contact looked for, and "none readable" is not "none there".
 */
export async function searchByEmail(
  gateway: PushGatewayPort,
  email: string,
): Promise<{ contacts: IntercomContact[]; unreadable: InvalidRecord[] }> {
  const page = await gateway.searchContacts({ query: { field: 'email', operator: '=', value: email }, perPage: 50 }, 'push');
  return { contacts: page.data, unreadable: page.invalid };
}

export function unreadableMatch(key: string, unreadable: readonly InvalidRecord[]): UnreadableMatchError {
  return new UnreadableMatchError(
    key,
    unreadable.map((r) => r.id ?? '(no id)'),
    unreadable.map((r) => r.reason),
  );
}

/** The lookups of identity decisions: a search that met unreadable matches throws rather than answer "nothing". */
export function remoteLookup(gateway: PushGatewayPort): RemoteLookupPort {
  return {
    findContactByExternalId: (x) => gateway.findContactByExternalId(x, 'push'),
    async searchContactsByEmail(email) {
      const r = await searchByEmail(gateway, email);
      if (r.unreadable.length > 0) throw unreadableMatch('email', r.unreadable);
      return r.contacts;
    },
  };
}

/** null on 404: the id no longer answers (merged away, deleted). */
export async function getContactOrNull(gateway: PushGatewayPort, id: string): Promise<IntercomContact | null> {
  try {
    return await gateway.getContact(id, 'push');
  } catch (err) {
    if (err instanceof IntercomApiError && err.status === 404) return null;
    throw err;
  }
}

/** Intercom's 409 names the holder ("... already exists with id=<id>"): the one lookup that does not lag. */
export function conflictHolderId(err: IntercomApiError): string | null {
  return /\bid=([A-Za-z0-9_-]+)/.exec(err.message)?.[1] ?? null;
}

export function is(err: unknown, status: number): err is IntercomApiError {
  return err instanceof IntercomApiError && err.status === status;
}

/**
 * Runs a removal (delete, archive, detach) for which a 404 means done: the target is gone already, through a lost
 * answer to an earlier try of ours or through someone else.
 */
export async function goneIsDone(removal: Promise<unknown>): Promise<void> {
  try {
    await removal;
  } catch (err) {
    if (!is(err, 404)) throw err;
  }
}
