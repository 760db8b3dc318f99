/**
 * What every per-entity push step shares, and the values a step hands back to the entry processor. A step decides;
 * process-entry.ts applies the decision to the outbox in one place.
 */
import type { Logger } from 'pino';
import type { AuditEntry } from '../../db/queries/audit.ts';
import type { MappingStatus } from '../../db/queries/mappings.ts';
import { SyncError } from '../../errors.ts';
import type { Outcome } from '../outcome.ts';
import type { AttributeCatalog } from './attributes.ts';
import type { FinishWrite, OutboxEntry, PushGatewayPort, PushStorePort } from './ports.ts';

export interface PushConfig {
  batchSize: number;
  concurrency: number;
  maxAttempts: number;
  deleteMode: 'archive' | 'delete' | 'ignore';
  autoCreateAttributes: boolean;
  workerId?: string;
  /** How long a claim is ours; a worker that dies holds its entries this long. Default 120. */
  leaseSeconds?: number;
  /** First retry delay after a failure; doubles per attempt up to retryCapMs. Default 2000. */
  retryBaseMs?: number;
  /** Longest retry delay (RETRY_MAX_DELAY_SECONDS). Default 5 minutes. */
  retryCapMs?: number;
  /** CREATE_LOOKUP_DELAY_SECONDS: how long a create in doubt waits before an email search may prove it absent. */
  createLookupDelaySeconds?: number;
  /** WRITE_DOUBT_WINDOW_SECONDS: how long an update in doubt may still be applied late. */
  writeDoubtWindowSeconds?: number;
}

export interface PushContext {
  gateway: PushGatewayPort;
  store: PushStorePort;
  log: Logger;
  config: PushConfig;
  workerId: string;
  runId: number | null;
  attributes: AttributeCatalog;
}

export type Step =
  | { kind: 'finish'; outcome: Outcome; write: FinishWrite }
  /** Not yet possible (a dependency is not linked yet): try again soon without counting an attempt. */
  | { kind: 'defer'; reason: string; delayMs: number }
  | {
      kind: 'dead';
      outcome: Outcome;
      error: string;
      audit: Pick<AuditEntry, 'action' | 'intercomId' | 'externalKey'> & { details?: Record<string, unknown> };
      mappingStatus?: { status: MappingStatus; reason: string };
    };

/** The contact Intercom says exists is not visible to lookups yet (search lags behind writes): try again later. */
export class NotYetVisibleError extends SyncError {
  readonly retryable = true;
}

/**
 * A lookup met records matching its key that it could not parse (Intercom's schema drifted under us): it has not
 * positively found nothing, so nothing may be created on its word. Retried (the drift may pass); after the attempts
 * the dead letter names the unreadable Intercom ids for an operator.
 */
export class UnreadableMatchError extends SyncError {
  readonly retryable = true;
  constructor(
    readonly key: string,
    readonly intercomIds: readonly string[],
    reasons: readonly string[],
  ) {
    super(
      `a lookup by ${key} met Intercom contact(s) it could not read: ${intercomIds.join(', ')} (${reasons.join('; ')}); ` +
        'one may be the contact we look for, so none is created or linked until it can be read',
    );
  }
}

/** A done entry that needed no request and changes nothing but the outbox. */
export function noop(outcome: Outcome): Step {
  return { kind: 'finish', outcome, write: { expectBaseHash: null, guard: null, mappings: [], localPatches: [], audit: [] } };
}

export function auditBase(ctx: PushContext, entry: OutboxEntry): Pick<AuditEntry, 'runId' | 'direction' | 'entityType' | 'localId'> {
  return { runId: ctx.runId, direction: 'push', entityType: entry.entityType, localId: entry.localId };
}

/**
 * Intercom's request id of a successful answer, when the gateway exposes it on the parsed value (errors always carry
 * theirs). Kept tolerant so the audit row gains it as soon as the gateway attaches it.
 */
export function requestIdOf(value: unknown): string | null {
  const v = value as { requestId?: unknown; raw?: { request_id?: unknown } } | null | undefined;
  if (typeof v?.requestId === 'string') return v.requestId;
  if (typeof v?.raw?.request_id === 'string') return v.raw.request_id;
  return null;
}
