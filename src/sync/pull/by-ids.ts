/** Targeted pulls (webhooks): fetch each id directly; a 404 goes to identity resolution, never to a blind create. */
import PQueue from 'p-queue';
import type { IntercomCompany, IntercomContact, InvalidRecord } from '../../intercom/payloads.ts';
import { IntercomPayloadError } from '../../errors.ts';
import { countOutcome, mergeCounts, type RunCounts } from '../outcome.ts';
import { pullAudit } from './apply-context.ts';
import { applyCompanyPage } from './company-page.ts';
import { applyContactPage } from './contact-page.ts';
import { resolveMissingContactMapping } from './missing-contacts.ts';
import { isNotFound, type RunDeps } from './run-deps.ts';

const CONCURRENCY = 4;

export async function pullContactsByIds(deps: RunDeps, ids: readonly string[], signal?: AbortSignal): Promise<RunCounts> {
  const counts: RunCounts = {};
  const unique = [...new Set(ids)];
  const queue = new PQueue({ concurrency: CONCURRENCY });
  const found: IntercomContact[] = [];
  const missing: string[] = [];
  const invalid: InvalidRecord[] = [];
  // The first GET is sent after this: every record found is at least this fresh.
  const readAt = new Date();
  await Promise.all(
    unique.map((id) =>
      queue.add(async () => {
        signal?.throwIfAborted();
        try {
          found.push(await deps.gateway.getContact(id, 'pull'));
        } catch (err) {
          // One contact that does not parse is recorded and does not cost the others of the notification batch.
          if (err instanceof IntercomPayloadError) {
            invalid.push({ id, updatedAt: null, reason: err.message });
            return;
          }
          if (!isNotFound(err)) throw err;
          missing.push(id);
        }
      }),
    ),
  );
  mergeCounts(counts, await applyContactPage(deps, found, { detectMerges: true, invalid, readAt }));
  const mapped = await deps.store.mappingsByIntercomIds('contact', missing);
  for (const m of mapped) {
    if (m.status === 'active') countOutcome(counts, await resolveMissingContactMapping(deps, m));
    else countOutcome(counts, 'unchanged');
  }
  // Unknown ids that are already gone (e.g. a lead created and merged between two pulls): nothing to link.
  countOutcome(counts, 'skipped', missing.length - mapped.length);
  if (counts.skipped === 0) delete counts.skipped;
  return counts;
}

export async function pullCompaniesByIds(deps: RunDeps, ids: readonly string[], signal?: AbortSignal): Promise<RunCounts> {
  const counts: RunCounts = {};
  const queue = new PQueue({ concurrency: CONCURRENCY });
  const readAt = new Date();
  const found: IntercomCompany[] = [];
  const missing: string[] = [];
  await Promise.all(
    [...new Set(ids)].map((id) =>
      queue.add(async () => {
        signal?.throwIfAborted();
        try {
          found.push(await deps.gateway.getCompany(id, 'pull'));
        } catch (err) {
          if (!isNotFound(err)) throw err;
          missing.push(id);
        }
      }),
    ),
  );
  mergeCounts(counts, await applyCompanyPage(deps, found, { readAt }));
  // Intercom "deletes" companies by archiving them (Intercom-OpenAPI descriptions/2.14, deleteCompany): the link is over, the local row goes soft-deleted
  // unless a local change to it still waits for the push.
  for (const m of await deps.store.mappingsByIntercomIds('company', missing)) {
    if (m.status !== 'active') continue;
    await deps.store.applyTransaction(async (tx) => {
      await tx.setMappingStatus('company', m.local_id, 'deleted', `Intercom company ${m.intercom_id} answers 404`);
      const pending = await tx.hasPendingOutbox('company', m.local_id);
      if (!pending) await tx.softDeleteCompany(m.local_id);
      await tx.audit([
        pullAudit(deps.ctx, {
          entityType: 'company',
          localId: m.local_id,
          intercomId: m.intercom_id,
          externalKey: m.external_key,
          action: 'delete',
          details: { reason: 'not_found', local_row_kept: pending },
        }),
      ]);
    });
    countOutcome(counts, 'deleted');
  }
  return counts;
}
