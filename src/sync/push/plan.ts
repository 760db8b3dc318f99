/**
 * A dry run: what the pending outbox (and, for backfill, unlinked rows) would cost, without one request. Attribute
 * definitions are not checked (that needs Intercom); shape and limit problems are.
 */
import { contactFromLocal, companyFromLocal } from '../snapshot.ts';
import { validateCompanyWrite, validateContactWrite } from '../validate.ts';
import { companyWrite, contactWrite } from './diff.ts';
import type { PushStorePort } from './ports.ts';

export interface PushPlan {
  create: number;
  update: number;
  unchanged: number;
  invalid: number;
  delete: number;
  /** Requests the common path would spend (one per create, update, delete and association). */
  requests: number;
}

export async function planPending(
  store: PushStorePort,
  o: { includeUnlinked: boolean; limit: number; deleteMode: 'archive' | 'delete' | 'ignore' },
): Promise<PushPlan> {
  const plan: PushPlan = { create: 0, update: 0, unchanged: 0, invalid: 0, delete: 0, requests: 0 };
  const linked = (status: string | undefined, id: string | null | undefined) =>
    !!id && (status === 'active' || status === 'conflict' || status === 'archived');
  for (const r of await store.planRows({ includeUnlinked: o.includeUnlinked, limit: o.limit })) {
    if (r.entry?.entityType === 'contact_company') {
      plan.update++;
      plan.requests++;
      continue;
    }
    const row = r.contact ?? r.company;
    const isLinked = linked(r.mapping?.status, r.mapping?.intercom_id);
    if (!row || row.deleted_at) {
      if (isLinked && o.deleteMode !== 'ignore') {
        plan.delete++;
        plan.requests++;
      } else plan.unchanged++;
      continue;
    }
    let invalid: unknown;
    let body: object | null;
    if (r.contact) {
      const base = isLinked && r.mapping?.entity_type === 'contact' ? r.mapping.base_snapshot : null;
      const w = contactWrite(base, contactFromLocal(r.contact));
      invalid = w && validateContactWrite(r.contact.id, w);
      body = w;
    } else {
      const base = isLinked && r.mapping?.entity_type === 'company' ? r.mapping.base_snapshot : null;
      const w = companyWrite(base, companyFromLocal(r.company!));
      invalid = w && validateCompanyWrite(r.company!.id, w);
      body = w;
    }
    if (!body) plan.unchanged++;
    else if (invalid) plan.invalid++;
    else {
      if (isLinked) plan.update++;
      else plan.create++;
      plan.requests++;
    }
  }
  return plan;
}
