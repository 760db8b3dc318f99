import type { AuditEntry } from '../../db/queries/audit.ts';
import type { Logger } from '../../logger.ts';
import type { ConflictPolicy } from '../three-way-merge.ts';
import { pgCode, ValidationError } from '../../errors.ts';

export interface ApplyContext {
  runId: number | null;
  policy: ConflictPolicy;
  logger: Logger;
}

export type PullAudit = Omit<AuditEntry, 'direction' | 'runId'>;

export function pullAudit(ctx: ApplyContext, e: PullAudit): AuditEntry {
  return { ...e, direction: 'pull', runId: ctx.runId };
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
