/**
 * Companies: POST /companies is Intercom's upsert keyed on company_id, so a create is naturally idempotent and a
 * crash between request and commit simply repeats the same upsert.
 */
import { ValidationError } from '../../errors.ts';
import {
  companyFromLocal,
  companyFromRemote,
  fieldChanges,
  fromUnix,
  snapshotHash,
} from '../snapshot.ts';
import { auditBase, noop, requestIdOf, type PushContext, type Step } from './context.ts';
import { deleteCompany } from './delete-entity.ts';
import { companyWrite, remoteOnlyPatch, sentFields } from './diff.ts';
import type { OutboxEntry } from './ports.ts';
import { prepareCompanyBody } from './prepare.ts';

export async function pushCompany(ctx: PushContext, entry: OutboxEntry): Promise<Step> {
  const row = await ctx.store.company(entry.localId);
  const mapping = await ctx.store.mapping('company', entry.localId);
  if (!row || row.deleted_at) return deleteCompany(ctx, entry, mapping);
  if (mapping?.status === 'ambiguous') {
    return {
      kind: 'dead',
      outcome: 'failed',
      error: `company ${row.id}: ${mapping.status_reason ?? 'identity is ambiguous'}`,
      audit: { action: 'dead', intercomId: null, externalKey: row.company_id },
    };
  }
  const local = companyFromLocal(row);
  const linked = mapping?.intercom_id && mapping.status !== 'deleted' ? mapping : null;
  const base = linked ? linked.base_snapshot : null;
  if (base && base.company_id !== local.company_id) {
    throw new ValidationError(
      'company',
      String(row.id),
      'company_id',
      `changed from ${JSON.stringify(base.company_id)} to ${JSON.stringify(local.company_id)}; Intercom never changes a company_id (create a new row instead)`,
    );
  }
  const diff = companyWrite(base, local);
  if (!diff) return noop('unchanged');
  const body = await prepareCompanyBody(ctx, row.id, diff);
  const response = await ctx.gateway.upsertCompany(body, 'push');
  const snap = companyFromRemote(response);
  const sent = sentFields(body);
  const changes = fieldChanges(base, local);
  for (const k of Object.keys(changes)) if (!sent.has(k)) delete changes[k];
  return {
    kind: 'finish',
    outcome: base ? 'updated' : 'created',
    write: {
      expectBaseHash: mapping?.base_hash ?? null,
      guard: { entity: 'company', localId: row.id },
      mappings: [
        {
          entityType: 'company',
          localId: row.id,
          intercomId: response.id,
          externalKey: local.company_id,
          status: 'active',
          baseSnapshot: snap,
          baseHash: snapshotHash(snap),
          remoteUpdatedAt: fromUnix(response.updatedAt),
        },
      ],
      localPatches: [
        { entity: 'company', localId: row.id, compute: (r) => remoteOnlyPatch(base ?? local, snap, companyFromLocal(r), sent) },
      ],
      audit: [
        {
          ...auditBase(ctx, entry),
          intercomId: response.id,
          externalKey: local.company_id,
          action: base ? 'update' : 'create',
          changes,
          requestId: requestIdOf(response),
        },
      ],
    },
  };
}
