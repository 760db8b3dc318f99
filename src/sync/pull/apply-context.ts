import type { AuditEntry } from '../../db/queries/audit.ts';
import type { Mapping } from '../../db/queries/mappings.ts';
import type { ApplyTx } from './ports.ts';
import type { Logger } from '../../logger.ts';
import type { ConflictPolicy } from '../three-way-merge.ts';
import { pgCode, ValidationError } from '../../errors.ts';

export interface ApplyContext {
  runId: number | null;
  policy: ConflictPolicy;
  logger: Logger;
  /** WRITE_DOUBT_WINDOW_SECONDS: how long our in-doubt writes may still land late (./echo.ts). Default 900. */
  writeDoubtWindowSeconds?: number;
  /**
   * When the records being applied were requested from Intercom, on the database's clock (mapping timestamps are
   * written with now()). A mapping written after it holds news the record cannot have (isStaleRead).
   */
  readAt?: Date;
  /**
   * Unix seconds: the latest remote updated_at that can be believed (future.ts). A mapping's remote_updated_at beyond
   * it was stored before that rule and proves nothing about what is stale.
   */
  futureLimit?: number;
}

/**
 * A read older than what the mapping already holds. A pull page is requested, then applied later (after other pages,
 * company look-ups, a cursor restart); a push that wrote the contact in between recorded Intercom's answer, and
 * the page's copy is from before it. Applied, it would write the older value back over the application's newer
 * one (chaos seed 7: a name went back to its previous value on both sides). Intercom's updated_at only grows, so
 * a record older than the mapping's remote_updated_at is stale; one in the same whole second is stale when the
 * mapping was written after the page was requested. A skipped record is read again by the next pull (the window's
 * lookback), by then after the write that made it stale.
 */
export function isStaleRead(m: Mapping, c: { updatedAt: number }, readAt: Date | undefined, futureLimit?: number): boolean {
  // Archiving does not move updated_at, so a copy read while the contact was live cannot be told from a revival by
  // its timestamp: for an archived mapping, any page requested before the mapping's last write is stale (seed 19).
  if (m.status === 'archived') return readAt !== undefined && m.updated_at > readAt;
  if (m.remote_updated_at === null) return false;
  const known = Math.floor(m.remote_updated_at.getTime() / 1000);
  // A version from the future, taken in before the rule of future.ts: every real edit after it looks older than it,
  // and would be skipped forever.
  if (futureLimit !== undefined && known > futureLimit) return false;
  if (c.updatedAt < known) return true;
  return c.updatedAt === known && readAt !== undefined && m.updated_at > readAt;
}

/**
 * The context for applying one page: the run's, plus when the page was requested moved onto the database's clock
 * (the offset measured now, within this transaction's milliseconds), since mapping timestamps are written with now().
 */
export async function pageContext(tx: Pick<ApplyTx, 'clock'>, ctx: ApplyContext, readAt: Date | undefined): Promise<ApplyContext> {
  if (!readAt) return ctx;
  return { ...ctx, readAt: new Date(readAt.getTime() + ((await tx.clock()).getTime() - Date.now())) };
}

export type PullAudit = Omit<AuditEntry, 'direction' | 'runId'>;

export function pullAudit(ctx: ApplyContext, e: PullAudit): AuditEntry {
  return { ...e, direction: 'pull', runId: ctx.runId };
}

/** The audit `changes` of a row the pull created: every field, from nothing to its pulled value. */
export function creationChanges(row: object): Record<string, { before: null; after: unknown }> {
  return Object.fromEntries(Object.entries(row as Record<string, unknown>).map(([k, v]) => [k, { before: null, after: v }]));
}

/**
 * The audit rows of one reconciled entity: its (re)link, the fields the pull changed locally, each conflict, and the
 * fields a push had already applied in Intercom without living to record it (audited as that push's change).
 */
export function reconcileAudits(
  ctx: ApplyContext,
  base: Omit<PullAudit, 'action' | 'changes' | 'details'>,
  r: {
    changes: Record<string, { before: unknown; after: unknown }>;
    conflicts: readonly { field: string; base: unknown; local: unknown; remote: unknown; winner: 'local' | 'remote' }[];
    alreadyPushed: Record<string, { before: unknown; after: unknown }>;
  },
  link: { kind: 'link' | 'relink'; previousIntercomId: string | null; details?: Record<string, unknown> } | null,
): AuditEntry[] {
  const audits: AuditEntry[] = [];
  if (link) {
    audits.push(
      pullAudit(ctx, {
        ...base,
        action: link.kind,
        changes: { intercom_id: { before: link.previousIntercomId, after: base.intercomId } },
        details: link.kind === 'relink' ? { previous_intercom_id: link.previousIntercomId, ...link.details } : null,
      }),
    );
  }
  if (Object.keys(r.changes).length > 0) audits.push(pullAudit(ctx, { ...base, action: 'update', changes: r.changes }));
  for (const k of r.conflicts) {
    audits.push(
      pullAudit(ctx, {
        ...base,
        action: 'conflict',
        changes: { [k.field]: { before: k.local, after: k.winner === 'local' ? k.local : k.remote } },
        details: { policy: ctx.policy, winner: k.winner, base: k.base, local: k.local, remote: k.remote },
      }),
    );
  }
  if (Object.keys(r.alreadyPushed).length > 0) {
    audits.push({
      ...base,
      direction: 'push',
      runId: ctx.runId,
      action: 'update',
      changes: r.alreadyPushed,
      details: { recorded_by: 'pull', reason: 'Intercom already held this pending local change: a push applied it but ended before recording it' },
    });
  }
  return audits;
}

/** Bad data in one record (a CHECK or unique constraint, a value Postgres refuses): the row is invalid, the page goes on. */
export function isRecordDataError(err: unknown): boolean {
  if (err instanceof ValidationError) return true;
  const code = pgCode(err);
  return code !== undefined && (code.startsWith('22') || code.startsWith('23'));
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
