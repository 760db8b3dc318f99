import type { IntercomCompany } from '../../intercom/payloads.ts';
import { countOutcome, type RunCounts } from '../outcome.ts';
import { isCompanyUnchanged } from './apply-companies.ts';
import { applyCompany } from './apply-companies.ts';
import { pageContext } from './apply-context.ts';
import { guarded } from './contact-page.ts';
import type { RunDeps } from './run-deps.ts';

/** One page of pulled companies → one apply transaction (unchanged ones skipped before it). */
export async function applyCompanyPage(
  deps: RunDeps,
  companies: readonly IntercomCompany[],
  /** readAt: when the page was requested (this process's clock); see isStaleRead. */
  opts: { dryRun?: boolean; readAt?: Date } = {},
): Promise<RunCounts> {
  const counts: RunCounts = {};
  const mappings = new Map(
    (await deps.store.mappingsByIntercomIds('company', companies.map((c) => c.id))).map((m) => [m.intercom_id, m]),
  );
  const changed = companies.filter((c) => {
    if (!isCompanyUnchanged(mappings.get(c.id), c)) return true;
    countOutcome(counts, 'unchanged');
    return false;
  });
  if (changed.length === 0) return counts;
  await deps.store.applyTransaction(
    async (tx) => {
      const ctx = await pageContext(tx, deps.ctx, opts.readAt);
      for (const c of changed) countOutcome(counts, await guarded(tx, deps, 'company', c.id, c.updatedAt, () => applyCompany(tx, c, ctx)));
    },
    { rollback: opts.dryRun ?? false },
  );
  return counts;
}
