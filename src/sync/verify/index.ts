/**
 * The drift sweep: a budgeted walk over the whole workspace that finds what incremental pulls cannot see — changes
 * that do not move updated_at (tags, silent edits), and contacts or companies deleted, archived or merged away (list
 * and search simply stop returning them). It compares each listed record's snapshot hash with the mapping's base,
 * repairs drift through the pull engine, and once a listing is complete checks every mapped record the listing did
 * not return. Contacts resume page by page across runs; companies are scrolled in one go (a scroll cannot resume).
 */
import type { Logger } from 'pino';
import type { Mapping, MappingEntity } from '../../db/queries/mappings.ts';
import type { IntercomCompany, IntercomContact } from '../../intercom/payloads.ts';
import { mergeCounts, type RunCounts, type RunSummary } from '../outcome.ts';
import { companyFromRemote, contactFromRemote, snapshotHash } from '../snapshot.ts';
import { SCROLL_LOCK } from '../pull/companies-scroll.ts';
import type { VerifyGatewayPort, VerifyPullPort, VerifyStorePort } from './ports.ts';

export type { VerifyGatewayPort, VerifyPullPort, VerifyStorePort } from './ports.ts';

export const CONTACTS_STREAM = 'verify:contacts';
export const COMPANIES_STREAM = 'verify:companies';
/** Shared with the pull engine's company scroll: both hold it while a scroll is open. */
export const COMPANY_SCROLL_LOCK = SCROLL_LOCK;
const VERIFY_LOCK = 'verify';

const SCROLL_PAGE = 50;

export interface VerifyDeps {
  gateway: VerifyGatewayPort;
  store: VerifyStorePort;
  pull: VerifyPullPort;
  logger: Pick<Logger, 'info' | 'warn' | 'debug'>;
  config?: {
    /** Contacts per list page; 150 is Intercom's maximum. */
    pageSize?: number;
    /** Missing records checked per repair call. */
    missingBatch?: number;
    companyScrollLock?: string;
  };
}

export interface VerifyArgs {
  signal: AbortSignal;
  runId: number | null;
  /** The most Intercom requests this run may spend (repairs included); the sweep resumes next run. */
  budget: number;
  entity?: 'contacts' | 'companies' | 'all';
}

export interface VerifyEngine {
  verify(a: VerifyArgs): Promise<RunSummary>;
}

/** Per entity, what one run looked at and repaired; stored in sync_runs.details and summed per pass in sync_state. */
export interface SweepReport {
  listed: number;
  inSync: number;
  drifted: number;
  missingChecked: number;
  repaired: RunCounts;
  passCompleted: boolean;
  /** Contacts found archived in Intercom (their mappings are now 'archived'). */
  archived?: number;
  /** Why the sweep of this entity stopped before the end of its pass, if it did. */
  stoppedBy?: 'budget' | 'aborted' | 'scroll_busy' | 'scroll_failed';
}

interface PassState {
  passStartedAt: string | null;
  phase: 'list' | 'missing' | null;
  totals: { listed: number; drifted: number; missingChecked: number; repaired: RunCounts };
}

const emptyReport = (): SweepReport => ({ listed: 0, inSync: 0, drifted: 0, missingChecked: 0, repaired: {}, passCompleted: false });

export function createVerifyEngine(deps: VerifyDeps): VerifyEngine {
  const pageSize = deps.config?.pageSize ?? 150;
  const missingBatch = deps.config?.missingBatch ?? 50;
  const scrollLock = deps.config?.companyScrollLock ?? COMPANY_SCROLL_LOCK;
  const { gateway, store, pull, logger } = deps;

  return {
    async verify(a) {
      // The daemon's schedule and a manual `intercom-sync verify` would otherwise walk the same cursor twice.
      const lock = await store.tryAdvisoryLock(VERIFY_LOCK);
      if (!lock) {
        logger.info('verify: another sweep is running; skipping this run');
        return { counts: { skipped: 1 }, requests: 0, details: { reason: 'another verify run holds the lock' } };
      }
      try {
        return await sweep(a);
      } finally {
        await lock.release();
      }
    },
  };

  async function sweep(a: VerifyArgs): Promise<RunSummary> {
    const budget = new Budget(a.budget);
    const entity = a.entity ?? 'all';
    const contacts = emptyReport();
    const companies = emptyReport();
    // An unfinished company check from an earlier run goes first: it needs no scroll, only its remaining lookups.
    if (entity !== 'contacts') {
      const st = await readPass(COMPANIES_STREAM);
      if (st.phase === 'missing') await checkMissing('company', COMPANIES_STREAM, st, companies, budget, a);
    }
    if (entity !== 'companies') await sweepContacts(contacts, budget, a);
    const contactsDone = entity === 'companies' || contacts.passCompleted;
    if (entity !== 'contacts' && contactsDone && !companies.passCompleted && !companies.stoppedBy) {
      await sweepCompanies(companies, budget, a);
    }
    const counts: RunCounts = { unchanged: contacts.inSync + companies.inSync };
    mergeCounts(counts, contacts.repaired);
    mergeCounts(counts, companies.repaired);
    const summary: RunSummary = { counts, requests: budget.spent, details: { contacts, companies } };
    logger.info({ requests: budget.spent, contacts, companies }, 'verify run finished');
    return summary;
  }

  async function readPass(stream: string): Promise<PassState> {
    const d = (await store.getStream(stream))?.details ?? {};
    const totals = (d.totals as PassState['totals'] | undefined) ?? { listed: 0, drifted: 0, missingChecked: 0, repaired: {} };
    return {
      passStartedAt: typeof d.passStartedAt === 'string' ? d.passStartedAt : null,
      phase: d.phase === 'list' || d.phase === 'missing' ? d.phase : null,
      totals,
    };
  }

  async function startPass(stream: string): Promise<PassState> {
    const st: PassState = {
      passStartedAt: (await store.now()).toISOString(),
      phase: 'list',
      totals: { listed: 0, drifted: 0, missingChecked: 0, repaired: {} },
    };
    await store.setStream(stream, { cursor: null, details: { ...st } });
    return st;
  }

  async function finishPass(stream: string, st: PassState, report: SweepReport): Promise<void> {
    report.passCompleted = true;
    await store.setStream(stream, {
      cursor: null,
      // The watermark of a verify stream is the start of its last complete pass: nothing older has gone unnoticed.
      watermark: new Date(st.passStartedAt ?? Date.now()),
      details: { passStartedAt: null, phase: null, lastPass: { ...st.totals, startedAt: st.passStartedAt, completedAt: new Date().toISOString() } },
    });
  }

  async function sweepContacts(report: SweepReport, budget: Budget, a: VerifyArgs): Promise<void> {
    let st = await readPass(CONTACTS_STREAM);
    if (!st.passStartedAt || !st.phase) st = await startPass(CONTACTS_STREAM);
    let cursor = (await store.getStream(CONTACTS_STREAM))?.cursor ?? null;
    let restarted = false;
    while (st.phase === 'list') {
      if (stopped(report, budget, a)) return;
      let page;
      try {
        page = await gateway.listContacts({ perPage: pageSize, startingAfter: cursor }, 'verify');
      } catch (err) {
        budget.spend(1);
        // A cursor saved days ago may no longer be accepted: start the pass over once rather than fail every run.
        if (cursor === null || restarted || !isClientError(err)) throw err;
        logger.warn({ err: (err as Error).message }, 'verify: the saved contact cursor was refused; starting the pass over');
        restarted = true;
        st = await startPass(CONTACTS_STREAM);
        cursor = null;
        continue;
      }
      budget.spend(1);
      const mappings = await store.mappingsByIntercomIds('contact', page.data.map((c) => c.id));
      const { inSync, drifted } = classify(page.data, mappings, (c: IntercomContact) => snapshotHash(contactFromRemote(c)));
      await store.touchMappings('contact', inSync.map((c) => c.id));
      const repair = drifted.length === 0 ? null : await repairListed('contact', drifted, () => pull.applyContacts(drifted, { runId: a.runId }));
      if (repair) budget.spend(repair.requests);
      tally(report, st, page.data.length, inSync.length, drifted.length, repair?.counts ?? {});
      cursor = page.nextCursor;
      if (!cursor) st.phase = 'missing';
      // A kill between the repair and this write repeats the page next time; re-applying it is a no-op.
      await store.setStream(CONTACTS_STREAM, { cursor, details: { ...st } });
    }
    await checkMissing('contact', CONTACTS_STREAM, st, report, budget, a);
  }

  async function sweepCompanies(report: SweepReport, budget: Budget, a: VerifyArgs): Promise<void> {
    // A scroll expires after a minute idle and cannot resume, so it starts only when the budget can see it through.
    const pages = Math.ceil((await store.countActiveMappings('company')) / SCROLL_PAGE) + 1;
    if (budget.left < pages) {
      report.stoppedBy = 'budget';
      return;
    }
    const lock = await store.tryAdvisoryLock(scrollLock);
    if (!lock) {
      report.stoppedBy = 'scroll_busy';
      return;
    }
    const st = await startPass(COMPANIES_STREAM);
    try {
      let scrollParam: string | null = null;
      for (;;) {
        if (a.signal.aborted) {
          report.stoppedBy = 'aborted';
          return;
        }
        let page;
        try {
          page = await gateway.scrollCompanies(scrollParam, 'verify');
        } catch (err) {
          budget.spend(1);
          // Another app's scroll (400), a broken or expired one (5xx, 404): a scroll cannot resume, so the companies
          // wait for the next run instead of failing the contacts' work done in this one.
          if (!isScrollFailure(err)) throw err;
          logger.warn({ err: (err as Error).message }, 'verify: company scroll failed; the companies pass starts over next run');
          report.stoppedBy = isClientError(err) && (err as { status?: unknown }).status === 400 ? 'scroll_busy' : 'scroll_failed';
          return;
        }
        budget.spend(1);
        if (page.data.length === 0) break;
        const mappings = await store.mappingsByIntercomIds('company', page.data.map((c) => c.id));
        const { inSync, drifted } = classify(page.data, mappings, (c: IntercomCompany) => snapshotHash(companyFromRemote(c)));
        await store.touchMappings('company', inSync.map((c) => c.id));
        const repair = drifted.length === 0 ? null : await repairListed('company', drifted, () => pull.applyCompanies(drifted, { runId: a.runId }));
        if (repair) budget.spend(repair.requests);
        tally(report, st, page.data.length, inSync.length, drifted.length, repair?.counts ?? {});
        scrollParam = page.scrollParam;
        if (!scrollParam) break;
      }
    } finally {
      await lock.release();
    }
    st.phase = 'missing';
    await store.setStream(COMPANIES_STREAM, { details: { ...st } });
    await checkMissing('company', COMPANIES_STREAM, st, report, budget, a);
  }

  /**
   * Mapped, active records the complete listing did not return (and nothing else touched since the pass began).
   * Contacts are read back by id: 404 → the pull engine resolves it (merged into another → relink or merged; else
   * deleted); archived (see isArchived) → the mapping is marked archived, since the pull engine would see nothing
   * wrong with it; alive → applied like any pulled contact. Companies go to the pull engine's by-id pull:
   * 404 → deleted; alive (scroll leaves out companies without contacts) → applied.
   */
  async function checkMissing(entity: MappingEntity, stream: string, st: PassState, report: SweepReport, budget: Budget, a: VerifyArgs): Promise<void> {
    const since = new Date(st.passStartedAt ?? 0);
    for (;;) {
      if (stopped(report, budget, a)) return;
      const stale = await store.staleActiveMappings(entity, since, Math.min(missingBatch, budget.left));
      if (stale.length === 0) break;
      const ids = stale.map((m) => m.intercom_id);
      const repaired: RunCounts = {};
      if (entity === 'contact') {
        const toPull: string[] = [];
        for (const m of stale) {
          const c = await readContact(m.intercom_id);
          budget.spend(1);
          if (c && isArchived(c, since)) {
            await store.markArchived({ entity, mapping: m, runId: a.runId, reason: 'archived in Intercom (found by verify)' });
            report.archived = (report.archived ?? 0) + 1;
          } else toPull.push(m.intercom_id);
        }
        if (toPull.length > 0) {
          const result = await pull.pullContactsByIds(toPull, byIds(a));
          budget.spend(result.requests);
          mergeCounts(repaired, withoutUnchanged(result.counts));
        }
      } else {
        const result = await pull.pullCompaniesByIds(ids, byIds(a));
        budget.spend(result.requests);
        mergeCounts(repaired, withoutUnchanged(result.counts));
      }
      // Whatever the pull made of them, they were looked at in this pass; without this an id the pull left alone
      // (say, alive but not listed yet) would be picked again forever.
      await store.touchMappings(entity, ids);
      report.missingChecked += ids.length;
      st.totals.missingChecked += ids.length;
      mergeCounts(report.repaired, repaired);
      mergeCounts(st.totals.repaired, repaired);
      await store.setStream(stream, { details: { ...st } });
    }
    await finishPass(stream, st, report);
  }

  async function readContact(id: string): Promise<IntercomContact | null> {
    try {
      return await gateway.getContact(id, 'verify');
    } catch (err) {
      if ((err as { status?: unknown } | null)?.status === 404) return null;
      throw err;
    }
  }

  /** The listed payload is what a GET would return, so drift is applied from it: no request per drifted record. */
  async function repairListed(
    entity: MappingEntity,
    drifted: readonly { id: string }[],
    apply: () => Promise<RunSummary>,
  ): Promise<{ counts: RunCounts; requests: number }> {
    logger.debug({ entity, ids: drifted.map((d) => d.id) }, 'verify: drift found');
    const result = await apply();
    return { counts: withoutUnchanged(result.counts), requests: result.requests };
  }

  function tally(report: SweepReport, st: PassState, listed: number, inSync: number, drifted: number, repaired: RunCounts): void {
    report.listed += listed;
    report.inSync += inSync;
    report.drifted += drifted;
    mergeCounts(report.repaired, repaired);
    st.totals.listed += listed;
    st.totals.drifted += drifted;
    mergeCounts(st.totals.repaired, repaired);
  }

  function stopped(report: SweepReport, budget: Budget, a: VerifyArgs): boolean {
    if (a.signal.aborted) report.stoppedBy = 'aborted';
    else if (budget.left <= 0) report.stoppedBy = 'budget';
    else return false;
    return true;
  }
}

/**
 * In sync = mapped, active, and the remote snapshot hashes to the agreed base. Everything else listed is drift:
 * changed fields, a record we hold as archived/merged/deleted that is back, or one we never linked.
 */
export function classify<T extends { id: string }>(
  listed: readonly T[],
  mappings: readonly Mapping[],
  hash: (r: T) => string,
): { inSync: T[]; drifted: T[] } {
  const byId = new Map(mappings.map((m) => [m.intercom_id, m]));
  const inSync: T[] = [];
  const drifted: T[] = [];
  for (const r of listed) {
    const m = byId.get(r.id);
    if (m && m.status === 'active' && m.base_hash === hash(r)) inSync.push(r);
    else drifted.push(r);
  }
  return { inSync, drifted };
}

/** Fresh writes can take minutes to reach list and search ("a few minutes": https://developers.intercom.com/docs/references/rest-api/api.intercom.io/contacts/searchcontacts). */
const INDEXING_GRACE_MS = 15 * 60_000;

/**
 * A contact that reads back fine by id yet was missing from a complete listing is archived: list and search hide
 * archived contacts, and the 2.14 contact object does not always say so. The exception is a contact too young to be
 * indexed when the pass began; that one is alive and simply applied.
 */
export function isArchived(c: Pick<IntercomContact, 'archived' | 'createdAt'>, passStartedAt: Date): boolean {
  if (c.archived !== undefined) return c.archived;
  return c.createdAt * 1000 < passStartedAt.getTime() - INDEXING_GRACE_MS;
}

function byIds(a: VerifyArgs): { signal: AbortSignal; runId: number | null } {
  return { signal: a.signal, runId: a.runId };
}

function isScrollFailure(err: unknown): boolean {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === 'number' && (status === 400 || status === 404 || status >= 500);
}

function isClientError(err: unknown): boolean {
  const status = (err as { status?: unknown } | null)?.status;
  return status === 400 || status === 404;
}

function withoutUnchanged(counts: RunCounts): RunCounts {
  const { unchanged: _unchanged, ...rest } = counts;
  return rest;
}

class Budget {
  spent = 0;
  constructor(private readonly max: number) {}
  get left(): number {
    return Math.max(0, this.max - this.spent);
  }
  spend(n: number): void {
    this.spent += n;
  }
}
