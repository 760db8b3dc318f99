/**
 * The narrow ports the push engine runs on. The gateway port is a structural subset of IntercomGateway; the store
 * port is implemented by src/db/queries/outbox.ts (createPushStore). Sync code never sees pg.
 */
import type { AuditEntry } from '../../db/queries/audit.ts';
import type { LinkedMapping, Mapping, MappingEntity, MappingStatus, MappingWrite } from '../../db/queries/mappings.ts';
import type { IntercomGateway } from '../../intercom/gateway.ts';
import type { CompanySnapshot, ContactSnapshot, LocalCompanyRow, LocalContactRow } from '../snapshot.ts';

export type PushGatewayPort = Pick<
  IntercomGateway,
  | 'getContact'
  | 'findContactByExternalId'
  | 'searchContacts'
  | 'createContact'
  | 'updateContact'
  | 'deleteContact'
  | 'archiveContact'
  | 'unarchiveContact'
  | 'mergeContacts'
  | 'attachCompany'
  | 'detachCompany'
  | 'upsertCompany'
  | 'deleteCompany'
  | 'listDataAttributes'
  | 'createDataAttribute'
>;

export type OutboxEntityType = 'contact' | 'company' | 'contact_company';

export interface OutboxEntry {
  id: number;
  entityType: OutboxEntityType;
  localId: number;
  /** Local company id for contact_company entries, else 0. */
  relatedId: number;
  op: 'upsert' | 'delete' | 'attach' | 'detach';
  changedFields: string[];
  /** The version this worker claimed; completion only deletes the row if nobody bumped it since. */
  version: number;
  attempts: number;
}

/** What remote-only changes to copy onto a local row: computed under the row lock from the row as it is then. */
/** A patch computed from the locked row inside the finish transaction, and the audit row it makes when it changes anything. */
export type LocalPatch =
  | {
      entity: 'contact';
      localId: number;
      compute: (row: LocalContactRow) => Partial<ContactSnapshot>;
      audit?: (row: LocalContactRow, patch: Partial<ContactSnapshot>) => AuditEntry;
    }
  | {
      entity: 'company';
      localId: number;
      compute: (row: LocalCompanyRow) => Partial<CompanySnapshot>;
      audit?: (row: LocalCompanyRow, patch: Partial<CompanySnapshot>) => AuditEntry;
    };

/** A write to Intercom whose outcome is unknown (sync_write_doubts; docs/guarantees.md "Writes in doubt"). */
export interface WriteDoubt {
  id: number;
  entityType: MappingEntity;
  localId: number;
  intercomId: string | null;
  op: 'create' | 'update' | 'archive';
  /** The fields as sent, in snapshot form. */
  fields: Record<string, unknown>;
  sentAt: Date;
}

export type WriteDoubtInput = Omit<WriteDoubt, 'id' | 'sentAt'>;

/**
 * Who else has a say over one Intercom contact, read in one statement under a lock on that contact id
 * (PushStorePort.claimContact). "Live" means the local row exists and is not soft-deleted.
 */
export interface ContactClaimFacts {
  /** The claiming row exists and is not soft-deleted. */
  selfLive: boolean;
  /** Other live rows whose mapping holds the contact. */
  heldBy: number[];
  /** Other live rows with a write to the contact in doubt (updates within the doubt window; archive-state writes). */
  claimedBy: number[];
  /** Other rows with an archive or delete of the contact in doubt and their outbox entry still pending: in flight. */
  removingBy: number[];
}

export interface FinishWrite {
  /**
   * The mapping's base_hash the diff was computed from. If pull moved the base meanwhile, nothing is written and the
   * entry stays pending (no attempt counted) so the next round re-diffs against the new base.
   */
  expectBaseHash: string | null;
  /** Which mapping that hash belongs to; null when the entry touches no mapping (associations). */
  guard: { entity: MappingEntity; localId: number } | null;
  mappings: MappingWrite[];
  localPatches: LocalPatch[];
  audit: AuditEntry[];
  /** Doubts this step's answers settled (the write was answered, or a lookup found what it made). */
  settledDoubts?: readonly number[];
  /**
   * The step is one of several (a key swap's temporary write, ./swap.ts): the entry is not done, it stays pending and
   * runs again after delayMs, without counting an attempt.
   */
  keepEntry?: { delayMs: number };
}

export type FinishResult = 'done' | 'stale' | 'superseded';

export interface PendingMappingReservation<E extends MappingEntity = MappingEntity> {
  /** true: inserted just now, so no create can have happened yet. false: an earlier attempt may have created it. */
  fresh: boolean;
  mapping: Mapping<E>;
}

export interface PlanRow {
  entry: OutboxEntry | null;
  contact: LocalContactRow | null;
  company: LocalCompanyRow | null;
  /** Either entity's mapping: a union, so `entity_type` tells which snapshot its base is. */
  mapping: Mapping<'contact'> | Mapping<'company'> | null;
}

export interface PushStorePort {
  /** Due pending entries, locked with FOR UPDATE SKIP LOCKED and leased to workerId. */
  claim(workerId: string, limit: number, leaseSeconds: number): Promise<OutboxEntry[]>;
  contact(localId: number): Promise<LocalContactRow | null>;
  company(localId: number): Promise<LocalCompanyRow | null>;
  mapping<E extends MappingEntity>(entity: E, localId: number): Promise<Mapping<E> | null>;
  mappingByIntercomId<E extends MappingEntity>(entity: E, intercomId: string): Promise<LinkedMapping<E> | null>;
  /** Mappings whose external key (a user's external_id, a lead's lower-cased email) is this one, by local id. */
  mappingsByExternalKey<E extends MappingEntity>(entity: E, externalKey: string): Promise<Mapping<E>[]>;
  associationExists(contactId: number, companyId: number): Promise<boolean>;
  /** A pending (not dead) outbox entry exists for this entity. */
  hasPendingEntry(entity: 'contact' | 'company', localId: number): Promise<boolean>;
  /** Commits a 'pending' mapping (no Intercom id) before a create is sent; see create-contact.ts. */
  reservePendingMapping<E extends MappingEntity>(
    entity: E,
    localId: number,
    externalKey: string | null,
  ): Promise<PendingMappingReservation<E>>;
  setMappingStatus(entity: MappingEntity, localId: number, status: MappingStatus, reason: string | null): Promise<void>;
  /** Committed before a write is sent: from then on the write is "in doubt" until its answer is recorded. */
  recordWriteDoubt(d: WriteDoubtInput): Promise<number>;
  /**
   * recordWriteDoubt for a write to an existing Intercom contact, in one transaction holding a lock on that contact id:
   * the facts are read in one statement, `decide` says whether the write may go, and only then is the doubt recorded.
   * Every archive, delete and takeover of a contact goes through here, so each sees the others' recorded decisions.
   * Returns the facts, and the doubt's id (null when `decide` refused).
   */
  claimContact(
    d: WriteDoubtInput & { intercomId: string },
    windowSeconds: number,
    decide: (f: ContactClaimFacts) => boolean,
  ): Promise<{ facts: ContactClaimFacts; doubtId: number | null }>;
  /** Forgets doubts: the write provably did not apply, or a lookup settled it. */
  settleWriteDoubts(ids: readonly number[]): Promise<void>;
  /** Doubts of one entity, oldest first: every create and archive, and updates sent within the last windowSeconds. */
  writeDoubts(entity: MappingEntity, localId: number, windowSeconds: number): Promise<WriteDoubt[]>;
  /** Deletes update doubts older than the window (they can no longer be told from remote edits). Returns how many. */
  expireWriteDoubts(windowSeconds: number): Promise<number>;
  /** One transaction: guard check, mappings, local patches (sync-apply mode), audit, delete entry if version unchanged. */
  finish(entry: OutboxEntry, workerId: string, write: FinishWrite): Promise<FinishResult>;
  /** Leaves the entry pending for a later round. countAttempt=false for "not yet" (dependency, lag), true for failures. */
  retryLater(
    entry: OutboxEntry,
    workerId: string,
    o: { delayMs: number; countAttempt: boolean; error?: string; details?: Record<string, unknown> },
  ): Promise<void>;
  /** Moves the entry to dead letters with the error and writes an audit row, in one transaction. */
  dead(entry: OutboxEntry, workerId: string, error: string, details: Record<string, unknown>, audit: AuditEntry): Promise<void>;
  /** Gives back the lease of entries this worker claimed but never started (shutdown). */
  release(entries: readonly OutboxEntry[], workerId: string): Promise<void>;
  /**
   * Pushes the lease of entries this worker still holds (claimed, queued or in flight) to now + leaseSeconds. An entry
   * whose lease ran out while it waited behind the limiter would be claimed by another worker and written twice.
   */
  extendLeases(entries: readonly OutboxEntry[], workerId: string, leaseSeconds: number): Promise<void>;
  /** Workers holding unexpired leases right now (to find those whose process has died). */
  leaseHolders(): Promise<string[]>;
  /** Ends every lease held by these workers, so their entries are claimable now instead of at lease expiry. */
  releaseWorkers(workerIds: readonly string[]): Promise<number>;
  requeueDead(filter: { entityType?: string; localIds?: number[] }, runId: number | null): Promise<number>;
  /** Rows without a mapping (and their associations) get a pending outbox entry: backfill --direction push. */
  enqueueUnlinked(opts?: { entity?: 'contact' | 'company' }): Promise<number>;
  /** Pending entries (and, if asked, unlinked rows without one) with their rows and mappings, for a dry run. */
  planRows(opts: { includeUnlinked: boolean; limit: number }): Promise<PlanRow[]>;
}
