/**
 * Full contacts pull through the list endpoint (backfill, and the first incremental run). The list cursor is
 * committed with each page in sync_state 'backfill:contacts', so a killed run resumes after its last committed
 * page; re-applying a page is a no-op, so the overlap a crash can cause never duplicates anything. A finished pass
 * then asks Intercom about mapped contacts the list never showed (merged, deleted).
 */
import { countOutcome, mergeCounts, type Outcome, type RunCounts, type RunSummary } from '../outcome.ts';
import { applyContactPage } from './contact-page.ts';
import { resolveMissingContactMapping } from './missing-contacts.ts';
import { isExpiredCursor, isNotFound, MAX_CURSOR_RESTARTS, type RunDeps } from './run-deps.ts';

export const BACKFILL_CONTACTS_STREAM = 'backfill:contacts';
const LIST_PAGE_SIZE = 150;
/** Bounds the post-pass checks (one request each) so a huge gap does not turn into an unbounded run. */
const MAX_VANISHED_CHECKS = 500;

export interface FullPullOptions {
  signal?: AbortSignal;
  resume?: boolean;
  dryRun?: boolean;
  onProgress?: (p: { done: number; total: number | null }) => void;
  runId?: number | null;
}

interface Progress {
  status: 'running' | 'done';
  started_at: string;
  done: number;
  max_updated_at: number;
}

export async function fullPullContacts(deps: RunDeps, now: () => number, opts: FullPullOptions): Promise<Omit<RunSummary, 'requests'>> {
  const counts: RunCounts = {};
  const dryRun = opts.dryRun ?? false;
  const prior = await deps.store.getStream(BACKFILL_CONTACTS_STREAM);
  const priorProgress = prior?.details as Partial<Progress> | undefined;
  const resuming = (opts.resume ?? true) && priorProgress?.status === 'running';
  let cursor = resuming ? (prior?.cursor ?? null) : null;
  const progress: Progress = resuming
    ? {
        status: 'running',
        started_at: priorProgress?.started_at ?? new Date().toISOString(),
        done: priorProgress?.done ?? 0,
        max_updated_at: priorProgress?.max_updated_at ?? 0,
      }
    : { status: 'running', started_at: new Date().toISOString(), done: 0, max_updated_at: 0 };
  if (!dryRun) await deps.store.setStream(BACKFILL_CONTACTS_STREAM, { cursor, details: { ...progress } });

  const fetchPage = (after: string | null) => {
    const p = deps.gateway.listContacts({ perPage: LIST_PAGE_SIZE, startingAfter: after }, 'backfill');
    // Awaited below unless the run stops first; a page nobody waits for must not become an unhandled rejection.
    p.catch(() => undefined);
    return p;
  };
  let next = fetchPage(cursor);
  let restarts = 0;
  for (;;) {
    opts.signal?.throwIfAborted();
    let page;
    try {
      page = await next;
    } catch (err) {
      // A stale list cursor (a resumed run, a long pause) cannot be repositioned: the list restarts from its first
      // page, keeping the progress counted so far. Committed pages come back unchanged and are skipped without a write;
      // touched mappings stay touched, so nothing is lost or applied twice.
      if (!isExpiredCursor(err) || restarts >= MAX_CURSOR_RESTARTS) throw err;
      restarts++;
      deps.logger.warn({ restarts, done: progress.done }, 'list cursor expired; listing again from the first page');
      next = fetchPage(null);
      continue;
    }
    // The next page is read while this one is applied; the cursor committed with each page is unchanged by this.
    if (page.nextCursor && page.data.length > 0) next = fetchPage(page.nextCursor);
    progress.done += page.data.length;
    for (const c of page.data) progress.max_updated_at = Math.max(progress.max_updated_at, c.updatedAt);
    mergeCounts(
      counts,
      await applyContactPage(deps, page.data, {
        dryRun,
        touchSeen: true,
        invalid: page.invalid,
        stream: { name: BACKFILL_CONTACTS_STREAM, patch: { cursor: page.nextCursor, details: { ...progress } } },
      }),
    );
    opts.onProgress?.({ done: progress.done, total: page.totalCount });
    if (!page.nextCursor || page.data.length === 0) break;
    cursor = page.nextCursor;
  }

  if (!dryRun) {
    mergeCounts(counts, await checkVanished(deps, new Date(progress.started_at), opts.signal));
    await deps.store.setStream(BACKFILL_CONTACTS_STREAM, {
      cursor: null,
      details: { ...progress, status: 'done', finished_at: new Date(now()).toISOString() },
    });
  }
  return { counts, details: { done: progress.done, max_updated_at: progress.max_updated_at, resumed: resuming, restarts } };
}

async function checkVanished(deps: RunDeps, since: Date, signal: AbortSignal | undefined): Promise<RunCounts> {
  const counts: RunCounts = {};
  for (const m of await deps.store.staleActiveMappings('contact', since, MAX_VANISHED_CHECKS)) {
    signal?.throwIfAborted();
    let outcome: Outcome = 'unchanged';
    try {
      // Alive but unlisted (archived, or not indexed yet): nothing to do.
      await deps.gateway.getContact(m.intercom_id, 'backfill');
    } catch (err) {
      if (!isNotFound(err)) throw err;
      outcome = await resolveMissingContactMapping(deps, m);
    }
    if (outcome !== 'unchanged') countOutcome(counts, outcome);
  }
  return counts;
}
