/**
 * The pull engine: Intercom → Postgres. The daemon, backfill CLI and webhooks call these; each returns a RunSummary
 * (counts and the requests it spent) and leaves sync_runs to the caller, which passes its runId for audit rows.
 *
 * Streams in sync_state: 'contacts' (watermark = newest remote updated_at committed), 'companies' (same, via
 * scroll), 'backfill:contacts' (list cursor of a resumable full pull), 'backfill:companies' (last full scroll).
 * First incremental contacts run (no watermark): the newest updated_at Intercom reports is noted first, then a full
 * pull runs, then the watermark is set to the noted value — so changes made during a long full pull are still
 * inside the next search window.
 */
import type { Logger } from '../../logger.ts';
import { mergeCounts, type RunCounts, type RunSummary } from '../outcome.ts';
import type { ConflictPolicy } from '../three-way-merge.ts';
import type { IntercomCompany, IntercomContact } from '../../intercom/payloads.ts';
import { pullCompaniesByIds, pullContactsByIds } from './by-ids.ts';
import { applyCompanyPage } from './company-page.ts';
import { applyContactPage } from './contact-page.ts';
import { COMPANIES_STREAM, scrollCompanies } from './companies-scroll.ts';
import { fullPullContacts, type FullPullOptions } from './contacts-full-pull.ts';
import { CONTACTS_STREAM, pullContactsIncremental } from './contacts-pull.ts';
import { countingGateway } from '../request-counter.ts';
import type { PullGatewayPort, PullStorePort } from './ports.ts';
import type { RunDeps } from './run-deps.ts';

export type { PullGatewayPort, PullStorePort } from './ports.ts';
export type { FullPullOptions } from './contacts-full-pull.ts';

export interface PullDeps {
  gateway: PullGatewayPort;
  store: PullStorePort;
  logger: Logger;
  config: { lookbackSeconds: number; conflictPolicy: ConflictPolicy; timezone?: string; writeDoubtWindowSeconds?: number };
  /** Unix ms; only used for bookkeeping timestamps. The search window is built from remote updated_at values. */
  now?: () => number;
}

export interface RunOptions {
  signal?: AbortSignal;
  runId?: number | null;
}

export const BACKFILL_COMPANIES_STREAM = 'backfill:companies';

const PULL_METHODS = {
  me: true,
  searchContacts: true,
  listContacts: true,
  getContact: true,
  findContactByExternalId: true,
  listContactCompanies: true,
  getCompany: true,
  scrollCompanies: true,
} as const satisfies Record<keyof PullGatewayPort, true>;

export function createPullEngine(deps: PullDeps) {
  const now = deps.now ?? Date.now;
  const log = deps.logger.child({ module: 'pull' });
  let tzCache: Promise<string> | null = deps.config.timezone ? Promise.resolve(deps.config.timezone) : null;

  /** Runs fn with a request-counting gateway and returns its counts as a RunSummary. */
  async function run(
    kind: string,
    opts: RunOptions,
    fn: (d: RunDeps) => Promise<{ counts: RunCounts; details?: Record<string, unknown> }>,
  ): Promise<RunSummary> {
    const counted = countingGateway(deps.gateway, PULL_METHODS);
    const runDeps: RunDeps = {
      gateway: counted.gateway,
      store: deps.store,
      logger: log.child({ run: opts.runId ?? null, kind }),
      ctx: {
        runId: opts.runId ?? null,
        policy: deps.config.conflictPolicy,
        logger: log,
        ...(deps.config.writeDoubtWindowSeconds ? { writeDoubtWindowSeconds: deps.config.writeDoubtWindowSeconds } : {}),
      },
    };
    const out = await fn(runDeps);
    const summary: RunSummary = { counts: out.counts, requests: counted.requests() };
    if (out.details) summary.details = out.details;
    runDeps.logger.info({ counts: summary.counts, requests: summary.requests }, 'pull run finished');
    return summary;
  }

  const timezone = (d: RunDeps) => () => {
    // The workspace time zone decides where search days begin; it changes rarely, so one /me per engine.
    tzCache ??= d.gateway.me().then((m) => m.timezone);
    tzCache.catch(() => (tzCache = null));
    return tzCache;
  };

  return {
    pullContacts(opts: RunOptions = {}): Promise<RunSummary> {
      return run('pull_contacts', opts, async (d) => {
        const state = await d.store.getStream(CONTACTS_STREAM);
        if (state?.watermark) {
          return pullContactsIncremental(d, timezone(d), state.watermark, deps.config.lookbackSeconds, opts.signal);
        }
        let initial = state?.details.initial_watermark;
        if (typeof initial !== 'number') {
          const probe = await d.gateway.searchContacts(
            { query: { field: 'updated_at', operator: '>', value: 0 }, perPage: 1, sort: { field: 'updated_at', order: 'descending' } },
            'pull',
          );
          initial = probe.data[0]?.updatedAt ?? 0;
          await d.store.setStream(CONTACTS_STREAM, { details: { initial_watermark: initial } });
        }
        const full = await fullPullContacts(d, now, { ...withSignal(opts), resume: true });
        await d.store.setStream(CONTACTS_STREAM, { watermark: new Date((initial as number) * 1000) });
        return { counts: full.counts, details: { ...full.details, first_run: true, watermark: initial } };
      });
    },

    pullCompanies(opts: RunOptions = {}): Promise<RunSummary> {
      return run('pull_companies', opts, async (d) => {
        const state = await d.store.getStream(COMPANIES_STREAM);
        const wm = state?.watermark ? Math.floor(state.watermark.getTime() / 1000) : 0;
        const floor = wm === 0 ? 0 : Math.max(0, wm - deps.config.lookbackSeconds);
        const r = await scrollCompanies(d, { floor, signal: opts.signal });
        if (r.completed && r.newest > wm) await d.store.setStream(COMPANIES_STREAM, { watermark: new Date(r.newest * 1000) });
        return { counts: r.counts, details: { ...r.details, floor } };
      });
    },

    pullContactsByIds(ids: string[], opts: RunOptions = {}): Promise<RunSummary> {
      return run('webhook', opts, async (d) => ({ counts: await pullContactsByIds(d, ids, opts.signal) }));
    },

    pullCompaniesByIds(ids: string[], opts: RunOptions = {}): Promise<RunSummary> {
      return run('webhook', opts, async (d) => ({ counts: await pullCompaniesByIds(d, ids, opts.signal) }));
    },

    /**
     * Applies records already in hand (a verify list page) exactly as a pull page is applied, without reading each
     * one again: the listed payload is the same contact or company object a GET returns.
     * https://developers.intercom.com/docs/references/2.14/rest-api/api.intercom.io/contacts/listcontacts
     */
    applyContacts(contacts: readonly IntercomContact[], opts: RunOptions = {}): Promise<RunSummary> {
      return run('verify', opts, async (d) => ({ counts: await applyContactPage(d, contacts, { detectMerges: true }) }));
    },

    applyCompanies(companies: readonly IntercomCompany[], opts: RunOptions = {}): Promise<RunSummary> {
      return run('verify', opts, async (d) => ({ counts: await applyCompanyPage(d, companies) }));
    },

    fullPullContacts(opts: FullPullOptions = {}): Promise<RunSummary> {
      return run('backfill', opts, (d) => fullPullContacts(d, now, opts));
    },

    /**
     * Companies have no cursor list past 10,000, so the full pull is one complete scroll. A scroll cannot be resumed
     * (its parameter dies with the process); a rerun re-reads from the start and skips committed pages as unchanged.
     */
    fullPullCompanies(opts: FullPullOptions = {}): Promise<RunSummary> {
      return run('backfill', opts, async (d) => {
        const r = await scrollCompanies(d, { floor: 0, signal: opts.signal, dryRun: opts.dryRun ?? false, onProgress: opts.onProgress });
        if (r.completed && !opts.dryRun) {
          await d.store.setStream(BACKFILL_COMPANIES_STREAM, { details: { status: 'done', finished_at: new Date(now()).toISOString() } });
          const state = await d.store.getStream(COMPANIES_STREAM);
          const wm = state?.watermark ? Math.floor(state.watermark.getTime() / 1000) : 0;
          if (r.newest > wm) await d.store.setStream(COMPANIES_STREAM, { watermark: new Date(r.newest * 1000) });
        }
        return { counts: mergeCounts({}, r.counts), ...(r.details ? { details: r.details } : {}) };
      });
    },
  };
}

export type PullEngine = ReturnType<typeof createPullEngine>;

function withSignal(opts: RunOptions): { signal?: AbortSignal } {
  return opts.signal ? { signal: opts.signal } : {};
}
