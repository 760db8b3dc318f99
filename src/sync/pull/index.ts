/**
 * The pull engine: Intercom → Postgres. The daemon, backfill CLI and webhooks call these; each returns a RunSummary
 * (counts and the requests it spent) and leaves sync_runs to the caller, which passes its runId for audit rows.
 *
 * Streams in sync_state: 'contacts' (watermark = newest remote updated_at committed), 'companies' (same, via
 * scroll), 'backfill:contacts' (a resumable full pull; its partitions are 'backfill:contacts:p:…'),
 * 'contacts:backlog:p:…' (partitions of a large incremental backlog), 'backfill:companies' (last full scroll) and
 * 'workspace' (the workspace time zone, read once with GET /me and kept, so a cycle costs only its searches).
 * First incremental contacts run (no watermark): a full pull, which notes the newest updated_at Intercom reports
 * before it starts and leaves the watermark there — so changes made during a long full pull are still inside the
 * next search window.
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
import { loadWatermark } from './future.ts';
import type { PullGatewayPort, PullStorePort } from './ports.ts';
import type { RunDeps } from './run-deps.ts';

export type { PullGatewayPort, PullStorePort } from './ports.ts';
export type { FullPullOptions } from './contacts-full-pull.ts';

export interface PullDeps {
  gateway: PullGatewayPort;
  store: PullStorePort;
  logger: Logger;
  config: { lookbackSeconds: number; conflictPolicy: ConflictPolicy; timezone?: string; writeDoubtWindowSeconds?: number };
  /** The gateway's in-flight target (Little's law); without it a full pull keeps DEFAULT_IN_FLIGHT searches going. */
  budget?: { inFlightTarget(): number };
  /** Unix ms; only used for bookkeeping timestamps. The search window is built from remote updated_at values. */
  now?: () => number;
}

export interface RunOptions {
  signal?: AbortSignal;
  runId?: number | null;
}

export const BACKFILL_COMPANIES_STREAM = 'backfill:companies';
export const WORKSPACE_STREAM = 'workspace';
const DEFAULT_IN_FLIGHT = 4;

const PULL_METHODS = {
  me: true,
  searchContacts: true,
  listContacts: true,
  getContact: true,
  findContactByExternalId: true,
  listContactCompanies: true,
  getCompany: true,
  scrollCompanies: true,
  // Reads the clock of the answers already received: no request.
  serverClock: false,
} as const satisfies Record<keyof PullGatewayPort, boolean>;

export function createPullEngine(deps: PullDeps) {
  const now = deps.now ?? Date.now;
  const log = deps.logger.child({ module: 'pull' });
  let tzCache: Promise<string> | null = deps.config.timezone ? Promise.resolve(deps.config.timezone) : null;
  const inFlight = () => deps.budget?.inFlightTarget() ?? DEFAULT_IN_FLIGHT;

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
      inFlight,
      // A dry run writes nothing, not even the time zone it read.
      timezone: () => timezone(counted.gateway, kind === 'backfill', !(opts as FullPullOptions).dryRun),
    };
    const out = await fn(runDeps);
    const summary: RunSummary = { counts: out.counts, requests: counted.requests() };
    if (out.details) summary.details = out.details;
    runDeps.logger.info({ counts: summary.counts, requests: summary.requests }, 'pull run finished');
    return summary;
  }

  /**
   * The workspace time zone decides where search days begin. It changes rarely, so it is kept in sync_state: a
   * daemon's cycle costs only its searches, not a GET /me per process. A backfill (the re-sync) reads it afresh.
   */
  const timezone = (gateway: RunDeps['gateway'], refresh: boolean, persist: boolean): Promise<string> => {
    if (refresh && !deps.config.timezone) tzCache = null;
    tzCache ??= (async () => {
      if (!refresh) {
        const kept = (await deps.store.getStream(WORKSPACE_STREAM))?.details.timezone;
        if (typeof kept === 'string' && kept !== '') return kept;
      }
      const tz = (await gateway.me()).timezone;
      if (persist) await deps.store.setStream(WORKSPACE_STREAM, { details: { timezone: tz, read_at: new Date(now()).toISOString() } });
      return tz;
    })();
    tzCache.catch(() => (tzCache = null));
    return tzCache;
  };

  return {
    pullContacts(opts: RunOptions = {}): Promise<RunSummary> {
      return run('pull_contacts', opts, async (d) => {
        const state = await loadWatermark(d, CONTACTS_STREAM);
        if (state.watermark) {
          const r = await pullContactsIncremental(d, state.watermark, deps.config.lookbackSeconds, opts.signal, now);
          return state.repaired ? { ...r, details: { ...r.details, watermark_repaired: state.repaired } } : r;
        }
        // The full pull leaves the watermark where the next incremental cycle should start.
        const full = await fullPullContacts(d, now, { ...withSignal(opts), resume: true });
        return { counts: full.counts, details: { ...full.details, first_run: true } };
      });
    },

    pullCompanies(opts: RunOptions = {}): Promise<RunSummary> {
      return run('pull_companies', opts, async (d) => {
        const state = await loadWatermark(d, COMPANIES_STREAM);
        const wm = state.watermark ? Math.floor(state.watermark.getTime() / 1000) : 0;
        const floor = wm === 0 ? 0 : Math.max(0, wm - deps.config.lookbackSeconds);
        const r = await scrollCompanies(d, { floor, signal: opts.signal });
        // r.newest counts only believable companies (future.ts).
        if (r.completed && r.newest > wm) await d.store.setStream(COMPANIES_STREAM, { watermark: new Date(r.newest * 1000) });
        return { counts: r.counts, details: { ...r.details, floor, ...(state.repaired ? { watermark_repaired: state.repaired } : {}) } };
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
          const state = await loadWatermark(d, COMPANIES_STREAM);
          const wm = state.watermark ? Math.floor(state.watermark.getTime() / 1000) : 0;
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
