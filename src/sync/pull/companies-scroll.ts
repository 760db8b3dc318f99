/**
 * Companies pull over the scroll API (companies have no search; the list stops at 10,000). Intercom allows one open
 * scroll per workspace, so the whole scroll runs under a Postgres advisory lock held on its own connection; the
 * scroll parameter lives only in this function (it expires after a minute idle, so persisting it could only mislead
 * a restarted process). A 500 or an expired parameter restarts the scroll from the start, a bounded number of times:
 * committed pages are skipped cheaply as unchanged. A scroll already open elsewhere makes this run a 'skipped' one.
 */
import { IntercomApiError } from '../../errors.ts';
import { countOutcome, mergeCounts, type RunCounts, type RunSummary } from '../outcome.ts';
import { applyCompanyPage } from './company-page.ts';
import { futureLimit, newestBelieved } from './future.ts';
import { isNotFound, type RunDeps } from './run-deps.ts';

export const COMPANIES_STREAM = 'companies';
export const SCROLL_LOCK = 'companies-scroll';
const MAX_RESTARTS = 3;
const MAX_404_RESTARTS = 10;

export interface ScrollOptions {
  /** Unix seconds: companies updated before this are skipped on the client. 0 = all. */
  floor: number;
  signal?: AbortSignal | undefined;
  dryRun?: boolean;
  onProgress?: ((p: { done: number; total: number | null }) => void) | undefined;
}

/** newest: the newest believable updated_at scrolled past (future.ts): what the companies watermark may move to. */
export type ScrollResult = Omit<RunSummary, 'requests'> & { completed: boolean; newest: number };

export async function scrollCompanies(deps: RunDeps, opts: ScrollOptions): Promise<ScrollResult> {
  const lock = await deps.store.tryAdvisoryLock(SCROLL_LOCK);
  if (!lock) {
    return { counts: { skipped: 1 }, details: { reason: 'another process holds the company scroll lock' }, completed: false, newest: 0 };
  }
  const counts: RunCounts = {};
  let restarts = 0;
  try {
    for (;;) {
      try {
        const { newest, done } = await scrollOnce(deps, opts, counts);
        return { counts, details: { restarts, done }, completed: true, newest };
      } catch (err) {
        if (isScrollBusy(err)) {
          deps.logger.warn({ err: (err as Error).message }, 'a company scroll is already open for this workspace; trying next cycle');
          countOutcome(counts, 'skipped');
          return { counts, details: { restarts, reason: 'scroll_exists' }, completed: false, newest: 0 };
        }
        // An expired or lost scroll_param (404) restarts more often than a 5xx before giving up: a 404 on any page is a
        // known behaviour (airbyte issue #9339), and each restart only re-reads committed pages as unchanged.
        const limit = isNotFound(err) ? MAX_404_RESTARTS : MAX_RESTARTS;
        if (!isRestartable(err) || restarts >= limit) throw err;
        restarts++;
        deps.logger.warn({ err: (err as Error).message, restarts }, 'company scroll broke; restarting it from the beginning');
      }
    }
  } finally {
    await lock.release();
  }
}

async function scrollOnce(deps: RunDeps, opts: ScrollOptions, counts: RunCounts): Promise<{ newest: number; done: number }> {
  let param: string | null = null;
  let newest = 0;
  let done = 0;
  for (;;) {
    opts.signal?.throwIfAborted();
    const readAt = new Date();
    const page = await deps.gateway.scrollCompanies(param, 'pull');
    if (page.data.length === 0) break;
    done += page.data.length;
    const recent = page.data.filter((c) => c.updatedAt >= opts.floor);
    // A company dated in the future is recorded invalid by the apply and moves no watermark (same limit for both).
    const limit = futureLimit(deps.gateway);
    newest = newestBelieved(recent.map((c) => c.updatedAt), limit, newest);
    mergeCounts(counts, await applyCompanyPage(deps, recent, { dryRun: opts.dryRun ?? false, readAt, futureLimit: limit }));
    opts.onProgress?.({ done, total: null });
    if (!page.scrollParam) break;
    param = page.scrollParam;
  }
  return { newest, done };
}

function isScrollBusy(err: unknown): boolean {
  return err instanceof IntercomApiError && err.status === 400 && (err.code === 'scroll_exists' || /scroll.*exist/i.test(err.message));
}

function isRestartable(err: unknown): boolean {
  // 5xx: Intercom says "restart the scroll"; 404: our parameter expired (idle too long) and cannot be resumed.
  return err instanceof IntercomApiError && err.status !== undefined && (err.status >= 500 || err.status === 404);
}
