import type { IntercomCompany } from '../../intercom/payloads.ts';
import { countOutcome, type RunCounts } from '../outcome.ts';
import { isCompanyUnchanged } from './apply-companies.ts';
import { applyCompany } from './apply-companies.ts';
import { pageContext } from './apply-context.ts';
import { auditOnce, guarded } from './contact-page.ts';
import { futureAudit, futureLimit, isFromFuture } from './future.ts';
import type { RunDeps } from './run-deps.ts';

/**
 * One page of pulled companies → one apply transaction (unchanged ones skipped before it). A company dated in the
 * future (future.ts) is recorded invalid instead of applied.
 */
export async function applyCompanyPage(
  deps: RunDeps,
  companies: readonly IntercomCompany[],
  /** readAt: when the page was requested (this process's clock); see isStaleRead. futureLimit: see ContactPageOptions. */
  opts: { dryRun?: boolean; readAt?: Date; futureLimit?: number } = {},
): Promise<RunCounts> {
  const counts: RunCounts = {};
  const limit = opts.futureLimit ?? futureLimit(deps.gateway);
  const mappings = new Map(
    (await deps.store.mappingsByIntercomIds('company', companies.map((c) => c.id))).map((m) => [m.intercom_id, m]),
  );
  const future = companies.filter((c) => isFromFuture(c.updatedAt, limit));
  const audits = future.map((c) =>
    futureAudit(deps.ctx, { entity: 'company', intercomId: c.id, localId: mappings.get(c.id)?.local_id ?? null, externalKey: c.companyId, updatedAt: c.updatedAt, limit }),
  );
  for (const c of future) {
    countOutcome(counts, 'invalid');
    deps.logger.warn({ entity: 'company', intercomId: c.id, updatedAt: c.updatedAt }, 'pulled record dated in the future; recorded as invalid');
  }
  const changed = companies.filter((c) => {
    if (isFromFuture(c.updatedAt, limit)) return false;
    if (!isCompanyUnchanged(mappings.get(c.id), c)) return true;
    countOutcome(counts, 'unchanged');
    return false;
  });
  if (changed.length === 0 && audits.length === 0) return counts;
  await deps.store.applyTransaction(
    async (tx) => {
      await auditOnce(tx, audits);
      const ctx = await pageContext(tx, { ...deps.ctx, futureLimit: limit }, opts.readAt);
      for (const c of changed) countOutcome(counts, await guarded(tx, deps, 'company', c.id, c.updatedAt, () => applyCompany(tx, c, ctx)));
    },
    { rollback: opts.dryRun ?? false },
  );
  return counts;
}
