/**
 * What the drift sweep needs. It reads Intercom through the gateway, reads mappings through its store
 * (src/db/queries/verify.ts), and never writes data itself: every repair goes through the pull engine, so a repaired
 * record follows exactly the rules (three-way merge, identity resolution, audit) an incremental pull would apply.
 */
import type { LinkedMapping, Mapping, MappingEntity } from '../../db/queries/mappings.ts';
import type { StreamState } from '../../db/queries/sync-state.ts';
import type { IntercomGateway } from '../../intercom/gateway.ts';
import type { IntercomCompany, IntercomContact } from '../../intercom/payloads.ts';
import type { RunSummary } from '../outcome.ts';

export type VerifyGatewayPort = Pick<IntercomGateway, 'listContacts' | 'scrollCompanies' | 'getContact'>;

export interface VerifyStorePort {
  /** The database clock: "seen in this pass" compares mapping.last_synced_at (set by the database) with it. */
  now(): Promise<Date>;
  mappingsByIntercomIds(entity: MappingEntity, intercomIds: readonly string[]): Promise<LinkedMapping[]>;
  /** Records that these Intercom ids were seen, in sync, at now(). */
  touchMappings(entity: MappingEntity, intercomIds: readonly string[]): Promise<void>;
  /** Active mappings with an Intercom id not seen since `since`. */
  staleActiveMappings(entity: MappingEntity, since: Date, limit: number): Promise<LinkedMapping[]>;
  countActiveMappings(entity: MappingEntity): Promise<number>;
  getStream(stream: string): Promise<StreamState | null>;
  setStream(stream: string, patch: { cursor?: string | null; watermark?: Date | null; details?: Record<string, unknown> }): Promise<void>;
  /** Marks the mapping archived and audits it (pull/archive); the local row stays as it is. */
  markArchived(a: { entity: MappingEntity; mapping: Mapping; runId: number | null; reason: string }): Promise<void>;
  /** The same session lock the pull engine takes around a company scroll (Intercom allows one open scroll per app). */
  tryAdvisoryLock(name: string): Promise<{ release(): Promise<void> } | null>;
}

/** runId puts the verify run on the audit rows of what it repaired. */
export interface PullByIdsOptions {
  signal?: AbortSignal;
  runId?: number | null;
}

/** The pull engine's entry points the sweep repairs through. */
export interface VerifyPullPort {
  /** Re-reads these contacts by id and applies what Intercom says (404 → merge/deletion resolution, archived). */
  pullContactsByIds(ids: string[], o?: PullByIdsOptions): Promise<RunSummary>;
  pullCompaniesByIds(ids: string[], o?: PullByIdsOptions): Promise<RunSummary>;
  /** Applies records already in hand (a list or scroll page) without reading them again: drift costs no extra GET. */
  applyContacts(contacts: readonly IntercomContact[], a: { runId: number | null }): Promise<RunSummary>;
  applyCompanies(companies: readonly IntercomCompany[], a: { runId: number | null }): Promise<RunSummary>;
}
