/**
 * One page of pulled contacts → one apply transaction. Unchanged contacts are skipped before any work; the rest get
 * their full company lists (fetched when the payload says there are more) and any company we have never seen, then
 * contacts new to us are created and linked ones merged in a few set-based statements, and the rest are applied one
 * by one under a savepoint (apply-contacts-batch.ts), so one bad row is audited as invalid and the page goes on.
 */
import PQueue from 'p-queue';
import type { IntercomCompany, IntercomContact, InvalidRecord } from '../../intercom/payloads.ts';
import { countOutcome, type Outcome, type RunCounts } from '../outcome.ts';
import { errorText, isRecordDataError, pageContext, pullAudit } from './apply-context.ts';
import { applyCompany } from './apply-companies.ts';
import { isUnchanged, remoteSnapshot, type PulledContact, type RemoteSnapshot } from './apply-contacts.ts';
import { applyContactsBatched } from './apply-contacts-batch.ts';
import { embeddedCompanyIds } from './embedded-companies.ts';
import { futureAudit, futureLimit, isFromFuture } from './future.ts';
import { contactExternalKey } from '../identity.ts';
import { contactFromRemote } from '../snapshot.ts';
import { resolveMissingContactMapping } from './missing-contacts.ts';
import type { AuditEntry } from '../../db/queries/audit.ts';
import type { ApplyTx, StreamPatch } from './ports.ts';
import { isNotFound, type RunDeps } from './run-deps.ts';

export interface ContactPageOptions {
  dryRun?: boolean;
  /** Written in the same transaction as the page, so a resumed run restarts exactly after the last committed page. */
  stream?: { name: string; patch: StreamPatch };
  /** Full pulls mark every seen mapping, so contacts that vanished can be found afterwards. */
  touchSeen?: boolean;
  /** Look for leads merged into the users of this page (incremental and targeted pulls). */
  detectMerges?: boolean;
  /** Records of the page that did not parse: audited `invalid` with the reason, in the page's transaction. */
  invalid?: readonly InvalidRecord[];
  /** When the page was requested (this process's clock): records older than a mapping written since are skipped. */
  readAt?: Date;
  /**
   * Unix seconds: records updated after this are from the future (future.ts), recorded invalid and not applied. The
   * caller passes the limit its watermark uses, so both agree on every record; by default it is read from the gateway.
   */
  futureLimit?: number;
}

const FETCH_CONCURRENCY = 4;

export async function applyContactPage(deps: RunDeps, contacts: readonly IntercomContact[], opts: ContactPageOptions = {}): Promise<RunCounts> {
  const counts: RunCounts = {};
  const limit = opts.futureLimit ?? futureLimit(deps.gateway);
  const byId = new Map<string, IntercomContact>();
  const future = new Map<string, IntercomContact>();
  for (const c of contacts) {
    if (isFromFuture(c.updatedAt, limit)) {
      future.set(c.id, c);
      continue;
    }
    const prev = byId.get(c.id);
    if (!prev || prev.updatedAt < c.updatedAt) byId.set(c.id, c);
  }
  const mappings = new Map(
    (await deps.store.mappingsByIntercomIds('contact', [...byId.keys(), ...future.keys()])).map((m) => [m.intercom_id, m]),
  );
  const changed: (RemoteSnapshot & { contact: IntercomContact })[] = [];
  for (const c of byId.values()) {
    const snap = remoteSnapshot(c);
    if (isUnchanged(mappings.get(c.id), c, snap.hash)) countOutcome(counts, 'unchanged');
    else changed.push({ contact: c, ...snap });
  }

  const pulled = await withCompanyLists(deps, changed);
  const fetched = opts.dryRun ? [] : await unknownCompanies(deps, pulled);
  const companies = fetched.filter((co) => !isFromFuture(co.updatedAt, limit));
  const futureCompanies = fetched.filter((co) => isFromFuture(co.updatedAt, limit));
  const applied: { contact: IntercomContact; outcome: Outcome }[] = [];
  const futureAudits = [
    ...[...future.values()].map((c) =>
      futureAudit(deps.ctx, {
        entity: 'contact',
        intercomId: c.id,
        localId: mappings.get(c.id)?.local_id ?? null,
        externalKey: contactExternalKey(contactFromRemote(c)),
        updatedAt: c.updatedAt,
        limit,
      }),
    ),
    // A company of a pulled contact read by id: it is not applied either, and its association waits for a later sight.
    ...futureCompanies.map((co) =>
      futureAudit(deps.ctx, { entity: 'company', intercomId: co.id, localId: null, externalKey: co.companyId, updatedAt: co.updatedAt, limit }),
    ),
  ];
  for (const a of futureAudits) {
    countOutcome(counts, 'invalid');
    deps.logger.warn({ entity: a.entityType, intercomId: a.intercomId, updatedAt: a.details?.remote_updated_at_iso }, 'pulled record dated in the future; recorded as invalid');
  }

  const invalid = opts.invalid ?? [];
  for (const r of invalid) {
    countOutcome(counts, 'invalid');
    deps.logger.warn({ entity: 'contact', intercomId: r.id, reason: r.reason }, 'pulled record does not parse; recorded as invalid');
  }
  if (pulled.length > 0 || opts.stream || (opts.touchSeen && byId.size + future.size > 0) || invalid.length > 0 || futureAudits.length > 0) {
    await deps.store.applyTransaction(
      async (tx) => {
        await auditUnparsed(tx, deps, invalid);
        await auditOnce(tx, futureAudits);
        const believed = { ...deps.ctx, futureLimit: limit };
        for (const co of companies) await guarded(tx, deps, 'company', co.id, co.updatedAt, () => applyCompany(tx, co, believed));
        const guard = (p: PulledContact, fn: () => Promise<Outcome>) => guarded(tx, deps, 'contact', p.contact.id, p.contact.updatedAt, fn);
        const ctx = await pageContext(tx, believed, opts.readAt);
        for (const a of await applyContactsBatched(tx, pulled, ctx, guard)) {
          countOutcome(counts, a.outcome);
          applied.push(a);
        }
        if (opts.touchSeen) {
          // A contact created or updated here had its mapping written with last_synced_at = now() already: only the
          // others are touched, so a page of new or changed contacts spends no statement on it.
          const written = new Set(applied.filter((a) => a.outcome === 'created' || a.outcome === 'updated').map((a) => a.contact.id));
          await tx.touchMappings('contact', [...byId.keys(), ...future.keys()].filter((id) => !written.has(id)));
        }
        if (opts.stream) await tx.setStream(opts.stream.name, opts.stream.patch);
      },
      { rollback: opts.dryRun ?? false },
    );
  }
  if (opts.detectMerges && !opts.dryRun) {
    for (const [k, v] of Object.entries(await detectMergedLeads(deps, applied, byId))) countOutcome(counts, k as Outcome, v);
  }
  return counts;
}

async function withCompanyLists(deps: RunDeps, contacts: (RemoteSnapshot & { contact: IntercomContact })[]): Promise<PulledContact[]> {
  const queue = new PQueue({ concurrency: FETCH_CONCURRENCY });
  return Promise.all(
    contacts.map((item) =>
      queue.add(async (): Promise<PulledContact> => {
        const c = item.contact;
        const embedded = embeddedCompanyIds(c);
        if (embedded) return { ...item, companyIds: embedded };
        try {
          const all = await deps.gateway.listContactCompanies(c.id, 'pull');
          return { ...item, companyIds: all.map((co) => co.id) };
        } catch (err) {
          // Gone since the page was read: apply the fields, leave associations for the next sight of it.
          if (isNotFound(err)) return { ...item, companyIds: null };
          throw err;
        }
      }),
    ),
  );
}

/** Companies a contact belongs to that we have no mapping for: fetched so the association can be stored now. */
async function unknownCompanies(deps: RunDeps, pulled: PulledContact[]): Promise<IntercomCompany[]> {
  const ids = [...new Set(pulled.flatMap((p) => p.companyIds ?? []))];
  if (ids.length === 0) return [];
  const known = new Set((await deps.store.mappingsByIntercomIds('company', ids)).map((m) => m.intercom_id));
  const queue = new PQueue({ concurrency: FETCH_CONCURRENCY });
  const fetched = await Promise.all(
    ids
      .filter((id) => !known.has(id))
      .map((id) =>
        queue.add(async () => {
          try {
            return await deps.gateway.getCompany(id, 'pull');
          } catch (err) {
            if (isNotFound(err)) return null;
            throw err;
          }
        }),
      ),
  );
  return fetched.filter((c): c is IntercomCompany => c !== null && c !== undefined);
}

/** Applies one record under a savepoint; bad data becomes an `invalid` outcome with one audit row per remote version. */
export async function guarded(
  tx: ApplyTx,
  deps: RunDeps,
  entity: 'contact' | 'company',
  intercomId: string,
  remoteUpdatedAt: number,
  fn: () => Promise<Outcome>,
): Promise<Outcome> {
  try {
    return await tx.savepoint(fn);
  } catch (err) {
    if (!isRecordDataError(err)) throw err;
    deps.logger.warn({ entity, intercomId, err: errorText(err) }, 'pulled record rejected by the database');
    if (!(await tx.invalidAlreadyAudited(entity, intercomId, remoteUpdatedAt))) {
      await tx.audit([
        pullAudit(deps.ctx, {
          entityType: entity,
          localId: null,
          intercomId,
          externalKey: null,
          action: 'invalid',
          details: {
            remote_updated_at: remoteUpdatedAt,
            error: errorText(err),
            constraint: (err as { constraint?: string }).constraint ?? null,
          },
        }),
      ]);
    }
    return 'invalid';
  }
}

/** Writes these `invalid` rows but those whose remote version is already audited (a page read again). */
export async function auditOnce(tx: ApplyTx, audits: readonly AuditEntry[]): Promise<void> {
  const rows: AuditEntry[] = [];
  for (const a of audits) {
    const at = a.details?.remote_updated_at;
    if (a.intercomId && typeof at === 'number' && (await tx.invalidAlreadyAudited(a.entityType as 'contact' | 'company', a.intercomId, at))) continue;
    rows.push(a);
  }
  if (rows.length > 0) await tx.audit(rows);
}

/** One `invalid` audit row per unparsable remote version (a re-read of the same version is not audited again). */
async function auditUnparsed(tx: ApplyTx, deps: RunDeps, invalid: readonly InvalidRecord[]): Promise<void> {
  const rows = [];
  for (const r of invalid) {
    if (r.id && r.updatedAt !== null && (await tx.invalidAlreadyAudited('contact', r.id, r.updatedAt))) continue;
    rows.push(
      pullAudit(deps.ctx, {
        entityType: 'contact',
        localId: null,
        intercomId: r.id,
        externalKey: null,
        action: 'invalid',
        details: { remote_updated_at: r.updatedAt, reason: r.reason, error: `Intercom record does not parse: ${r.reason}` },
      }),
    );
  }
  if (rows.length > 0) await tx.audit(rows);
}

/**
 * A lead merged into a user vanishes without a tombstone (Intercom-OpenAPI descriptions/2.14, MergeContact); the user's updated_at moves and it usually
 * gains the lead's email. So for each user just applied, leads we hold under the same email are checked by id: a 404
 * means the lead was merged (or re-created), and identity resolution takes it from there.
 */
async function detectMergedLeads(
  deps: RunDeps,
  applied: { contact: IntercomContact; outcome: Outcome }[],
  pageIds: Map<string, IntercomContact>,
): Promise<RunCounts> {
  const counts: RunCounts = {};
  const emails = applied
    .filter((a) => a.contact.role === 'user' && a.contact.email && a.outcome !== 'unchanged' && a.outcome !== 'invalid')
    .map((a) => a.contact.email!);
  if (emails.length === 0) return counts;
  const leads = (await deps.store.activeLeadMappingsByEmails(emails)).filter((m) => !pageIds.has(m.intercom_id));
  for (const lead of leads) {
    try {
      await deps.gateway.getContact(lead.intercom_id, 'pull');
    } catch (err) {
      if (!isNotFound(err)) throw err;
      countOutcome(counts, await resolveMissingContactMapping(deps, lead));
    }
  }
  return counts;
}
