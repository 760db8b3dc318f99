/**
 * The narrow ports the pull engine runs on. The gateway port is a structural subset of IntercomGateway; the store
 * port is implemented by src/db/queries/pull.ts (createPullStore). Sync code never sees pg.
 */
import type { AuditEntry } from '../../db/queries/audit.ts';
import type { LinkedMapping, Mapping, MappingEntity, MappingStatus, MappingWrite } from '../../db/queries/mappings.ts';
import type { StreamState } from '../../db/queries/sync-state.ts';
import type { IntercomGateway } from '../../intercom/gateway.ts';
import type { WriteDoubt } from '../push/ports.ts';

export type { WriteDoubt } from '../push/ports.ts';
import type { CompanySnapshot, ContactSnapshot, LocalCompanyRow, LocalContactRow } from '../snapshot.ts';

export type PullGatewayPort = Pick<
  IntercomGateway,
  | 'me'
  | 'searchContacts'
  | 'listContacts'
  | 'getContact'
  | 'findContactByExternalId'
  | 'listContactCompanies'
  | 'getCompany'
  | 'scrollCompanies'
  | 'serverClock'
>;

export type StreamPatch = { watermark?: Date | null; cursor?: string | null; details?: Record<string, unknown> };

/** Everything one apply transaction may do; it runs in sync-apply mode so no write reaches the outbox. */
export interface ApplyTx {
  /** The database's clock now: mapping timestamps are on it, and the daemon's clock may differ. */
  clock(): Promise<Date>;
  /** Mapping lookups that lock the row (SELECT … FOR UPDATE) so pull and push never apply over each other. */
  mappingByIntercomId<E extends MappingEntity>(entity: E, intercomId: string): Promise<LinkedMapping<E> | null>;
  mappingByLocalId<E extends MappingEntity>(entity: E, localId: number): Promise<Mapping<E> | null>;
  mappingsByIntercomIds<E extends MappingEntity>(entity: E, intercomIds: readonly string[]): Promise<LinkedMapping<E>[]>;
  /** Without locking. */
  mappingsByLocalIds<E extends MappingEntity>(entity: E, localIds: readonly number[]): Promise<Mapping<E>[]>;
  contact(localId: number): Promise<LocalContactRow | null>;
  contactByExternalId(externalId: string): Promise<LocalContactRow | null>;
  /** Live local contacts without external_id and without a linked Intercom id whose email matches (any case). */
  unlinkedContactsByEmail(email: string): Promise<LocalContactRow[]>;
  insertContact(s: ContactSnapshot, remoteCreatedAt: number | null): Promise<number>;
  updateContact(localId: number, patch: Partial<ContactSnapshot>): Promise<void>;
  /** Records on the local lead row which local user it was merged into (merge_into_id), and frees its Intercom id. */
  markContactMerged(localId: number, intoLocalId: number): Promise<void>;
  softDeleteContact(localId: number): Promise<void>;
  /** Clears deleted_at (a contact revived in Intercom won the conflict with the local delete). */
  restoreContact(localId: number): Promise<void>;
  /** Frees the Intercom id a mapping holds (and the row's mirror column), keeping the mapping's status. */
  releaseMappingIntercomId(entity: MappingEntity, localId: number): Promise<void>;
  softDeleteCompany(localId: number): Promise<void>;
  company(localId: number): Promise<LocalCompanyRow | null>;
  companyByCompanyId(companyId: string): Promise<LocalCompanyRow | null>;
  insertCompany(s: CompanySnapshot): Promise<number>;
  updateCompany(localId: number, patch: Partial<CompanySnapshot>): Promise<void>;
  hasPendingOutbox(entity: MappingEntity, localId: number): Promise<boolean>;
  contactCompanyIds(contactId: number): Promise<number[]>;
  /** Local company ids whose association with this contact has a pending outbox entry (a local change not pushed yet). */
  pendingAssociationCompanyIds(contactId: number): Promise<number[]>;
  attach(contactId: number, companyId: number): Promise<void>;
  detach(contactId: number, companyId: number): Promise<void>;
  upsertMapping<E extends MappingEntity>(m: MappingWrite<E>): Promise<Mapping<E>>;
  setMappingStatus(
    entity: MappingEntity,
    localId: number,
    status: MappingStatus,
    reason: string | null,
    mergedInto?: string | null,
  ): Promise<void>;
  audit(entries: readonly AuditEntry[]): Promise<void>;
  /** Our writes to this entity whose answer was lost, sent within the last windowSeconds (creates: any age). */
  writeDoubts(entity: MappingEntity, localId: number, windowSeconds: number): Promise<WriteDoubt[]>;
  /**
   * Local rows other than `exceptLocalId` with a write of ours to this Intercom contact in doubt: an update sent within
   * the window (a re-created key's takeover records its claim as one) or an archive or delete (any age).
   */
  contactWritersInDoubt(intercomId: string, exceptLocalId: number, windowSeconds: number): Promise<number[]>;
  /**
   * Whether a push created (or is creating) this contact: 'mapped' when a mapping holds the Intercom id now, 'in-doubt'
   * when a contact create of ours not recorded yet carries its key (the external_id if it has one, else the email).
   * One statement: the push's finish settles that doubt and writes the mapping in one commit, so one of the two shows.
   */
  pushedCreate(intercomId: string, key: { externalId: string | null; email: string | null }): Promise<'mapped' | 'in-doubt' | null>;
  /** Deletes doubts the pull saw landed (and audited in this transaction): they are never audited again. */
  settleWriteDoubts(ids: readonly number[]): Promise<void>;
  /** Queues a push of this entity, as a local change to these fields would (the outbox trigger's entry). */
  requestPush(entity: MappingEntity, localId: number, fields: readonly string[]): Promise<void>;
  invalidAlreadyAudited(entity: MappingEntity, intercomId: string, remoteUpdatedAt: number): Promise<boolean>;
  /**
   * The batch path's identity questions about a page's contacts that have no mapping, in one round trip and in this
   * order, each statement seeing what committed before it: the advisory locks of `lockExternalIds` (sorted, one per
   * key: the lock contactByExternalId takes), which of them a local contact holds, which of `emails` (lower-cased)
   * unlinkedContactsByEmail would find a row for, which of those external ids and emails a create of ours still in
   * doubt carries (pushedCreate), which of `recheckIntercomIds` have a mapping now (a push may link
   * one between the mapping read and the email look-up: asked after it, one of the two answers sees that link), the
   * active company mappings of `companyIntercomIds` (ordered by local id) and which of `intercomIds` a local
   * contact carries.
   */
  identifyUnmapped(q: {
    lockExternalIds: readonly string[];
    emails: readonly string[];
    recheckIntercomIds: readonly string[];
    companyIntercomIds: readonly string[];
    intercomIds: readonly string[];
  }): Promise<{
    heldExternalIds: Set<string>;
    linkableEmails: Set<string>;
    /** Of the external ids and (lower-cased) emails asked, those a contact create of ours still in doubt carries. */
    createsInDoubt: Set<string>;
    mapped: Set<string>;
    companies: { local_id: number; intercom_id: string }[];
    carriedIntercomIds: Set<string>;
  }>;
  /**
   * Inserts new local contacts with their active mappings, company associations and audit rows (what insertContact,
   * upsertMapping, attach and audit do per record) in one statement. Attach pairs name the contact by Intercom id;
   * audit rows of these contacts with a null local id get the new row's id. `releaseIntercomIds`: some local row may
   * still carry one of these Intercom ids, which it lets go first (as upsertMapping). Returns Intercom id → local id.
   */
  createPulledContacts(w: {
    rows: readonly NewPulledContact[];
    attach: readonly { intercomId: string; companyId: number }[];
    audits: readonly AuditEntry[];
    releaseIntercomIds: boolean;
  }): Promise<Map<string, number>>;
  /** Batch path of a page's linked contacts: their mappings (any status), locked as mappingByIntercomId locks one. */
  mappingsByIntercomIdsForUpdate<E extends MappingEntity>(entity: E, intercomIds: readonly string[]): Promise<LinkedMapping<E>[]>;
  /**
   * Everything the merge of these linked contacts reads, in one round trip: their rows (locked, ordered by id), which
   * have a pending outbox entry (hasPendingOutbox), their write doubts within the window, their company associations
   * (ordered by contact, then company) and pending association changes, the active mappings of `companyIntercomIds`
   * (ordered by local id), the mappings with an Intercom id of the companies attached now, and the Intercom ids of
   * `links` a contact other than the linked one still carries.
   */
  linkedContactsContext(q: {
    links: readonly { localId: number; intercomId: string }[];
    companyIntercomIds: readonly string[];
    windowSeconds: number;
  }): Promise<{
    contacts: LocalContactRow[];
    pending: Set<number>;
    doubts: WriteDoubt[];
    pairs: { contactId: number; companyId: number }[];
    pendingPairs: { contactId: number; companyId: number }[];
    companies: { local_id: number; intercom_id: string }[];
    currentCompanies: { local_id: number; intercom_id: string }[];
    strayIntercomIds: Set<string>;
  }>;
  /**
   * Writes the merge of linked contacts in one statement: each row's patch with its Intercom id and remote_updated_at
   * (updateContact plus the mirror upsertMapping keeps), its active mapping (upsertMapping for a mapping that keeps its
   * local and Intercom ids), settled doubts, attaches, detaches and audit rows. `releaseStrays`: another local row
   * still carries one of these Intercom ids, which it lets go first.
   */
  writeLinkedContacts(w: {
    rows: readonly { patch: Partial<ContactSnapshot> | null; mapping: MappingWrite<'contact'> }[];
    settledDoubts: readonly number[];
    attach: readonly { contactId: number; companyId: number }[];
    detach: readonly { contactId: number; companyId: number }[];
    audits: readonly AuditEntry[];
    releaseStrays: boolean;
  }): Promise<void>;
  /** Runs fn inside a SAVEPOINT: a failing row rolls back alone and the page goes on. */
  savepoint<T>(fn: () => Promise<T>): Promise<T>;
  setStream(stream: string, patch: StreamPatch): Promise<void>;
  /** Marks mappings as seen now (full pulls use last_synced_at to find contacts that vanished). */
  touchMappings(entity: MappingEntity, intercomIds: readonly string[]): Promise<void>;
}

export interface NewPulledContact {
  snapshot: ContactSnapshot;
  remoteCreatedAt: number | null;
  intercomId: string;
  externalKey: string | null;
  baseHash: string;
  /** Unix seconds. */
  remoteUpdatedAt: number;
}

export interface PullStorePort {
  /** One transaction in sync-apply mode; `rollback` runs the same work and throws it away (dry runs). */
  applyTransaction<T>(fn: (tx: ApplyTx) => Promise<T>, opts?: { rollback?: boolean }): Promise<T>;
  mappingsByIntercomIds<E extends MappingEntity>(entity: E, intercomIds: readonly string[]): Promise<LinkedMapping<E>[]>;
  /** Active contact mappings of leads whose external key (email) is one of these. */
  activeLeadMappingsByEmails(emails: readonly string[]): Promise<LinkedMapping<'contact'>[]>;
  /** Active mappings with an Intercom id not synced since `since`. */
  staleActiveMappings<E extends MappingEntity>(entity: E, since: Date, limit: number): Promise<LinkedMapping<E>[]>;
  /**
   * Linked contacts whose last pulled version was updated in [from, to): what an incremental search window's first
   * day holds below its floor, as far as we already know it.
   */
  countContactsPulledBetween(from: Date, to: Date): Promise<number>;
  getStream(stream: string): Promise<StreamState | null>;
  setStream(stream: string, patch: StreamPatch): Promise<void>;
  /** Streams whose name starts with prefix (a partitioned pull's partitions). */
  listStreams(prefix: string): Promise<StreamState[]>;
  deleteStreams(prefix: string): Promise<number>;
  /** A session-level advisory lock held on a dedicated connection until release(); null if another holder has it. */
  tryAdvisoryLock(name: string): Promise<{ release(): Promise<void> } | null>;
}
