/**
 * Full contacts pull (backfill, and the first incremental run): the workspace as disjoint created_at partitions
 * paged concurrently (partitioned-pull.ts), each committing its cursor with its pages in sync_state, so a killed run
 * resumes each partition after its last committed page; re-applying a page is a no-op, so the overlap a crash can
 * cause never duplicates anything. A finished pass then asks Intercom about mapped contacts it never showed (merged,
 * deleted), and leaves the incremental stream's watermark where an incremental pull would: at the newest updated_at
 * noted before the pass began, so the next cycle reads only what changed since (⌈changes/150⌉ requests).
 */
import { countOutcome, mergeCounts, type Outcome, type RunCounts, type RunSummary } from '../outcome.ts';
import { futureLimit, isFromFuture, loadWatermark, newestBelieved } from './future.ts';
import { resolveMissingContactMapping } from './missing-contacts.ts';
import { runPartitionedPull } from './partitioned-pull.ts';
import { nextLocalDay } from './partitions.ts';
import { isNotFound, type RunDeps } from './run-deps.ts';

export const BACKFILL_CONTACTS_STREAM = 'backfill:contacts';
export const CONTACTS_STREAM = 'contacts';
const PARTITIONS_CURSOR = 'partitions';
/** Bounds the post-pass checks (one request each) so a huge gap does not turn into an unbounded run. */
const MAX_VANISHED_CHECKS = 500;
/**
 * Records the newest-first probe reads to find the newest believable updated_at: records from the future (future.ts)
 * sort first, so the newest believable one can be below a few of them.
 */
const PROBE_PAGE = 50;

export interface FullPullOptions {
  signal?: AbortSignal;
  resume?: boolean;
  dryRun?: boolean;
  onProgress?: (p: { done: number; total: number | null }) => void;
  runId?: number | null;
}

interface Progress {
  status: 'running' | 'done';
  mode: 'partitioned';
  started_at: string;
  /** Newest remote updated_at before the pass began: the incremental watermark it leaves. */
  initial_watermark: number;
}

export async function fullPullContacts(deps: RunDeps, now: () => number, opts: FullPullOptions): Promise<Omit<RunSummary, 'requests'>> {
  const dryRun = opts.dryRun ?? false;
  const prefix = `${BACKFILL_CONTACTS_STREAM}:p:`;
  const prior = await deps.store.getStream(BACKFILL_CONTACTS_STREAM);
  const priorProgress = prior?.details as Partial<Progress> | undefined;
  const resuming =
    (opts.resume ?? true) && priorProgress?.status === 'running' && priorProgress.mode === 'partitioned' &&
    typeof priorProgress.initial_watermark === 'number' &&
    // Noted before future.ts by an earlier version: the pass starts over rather than leave a watermark in the future.
    !isFromFuture(priorProgress.initial_watermark, futureLimit(deps.gateway));
  if (!resuming && !dryRun) await deps.store.deleteStreams(prefix);
  const progress: Progress = {
    status: 'running',
    mode: 'partitioned',
    started_at: resuming ? (priorProgress?.started_at ?? new Date(now()).toISOString()) : new Date(now()).toISOString(),
    initial_watermark: resuming ? priorProgress.initial_watermark! : await newestUpdatedAt(deps),
  };
  // The cursors live in the partitions' rows; this one says a resumable listing exists (report_overview's
  // in_progress reads it) until the pass is done.
  if (!dryRun) await deps.store.setStream(BACKFILL_CONTACTS_STREAM, { cursor: PARTITIONS_CURSOR, details: { ...progress } });

  const timezone = await deps.timezone();
  // One root: everything created before the local day after tomorrow (Intercom sets created_at itself, so only clock
  // skew could put one later). A contact created after the pass began is the next incremental cycle's anyway: its
  // updated_at is past the watermark this pass leaves.
  const edge = nextLocalDay(Math.max(Math.floor(now() / 1000), progress.initial_watermark) + 86_400, timezone);
  const r = await runPartitionedPull(deps, {
    stream: BACKFILL_CONTACTS_STREAM,
    order: 'ascending',
    floor: null,
    priority: 'backfill',
    timezone,
    now,
    dryRun,
    signal: opts.signal,
    page: { touchSeen: true },
    roots: [{ field: 'created_at', from: null, to: edge, suffix: '' }],
    newestHint: progress.initial_watermark,
    inFlight: deps.inFlight,
    onPage: (p) => opts.onProgress?.({ done: p.items, total: p.total }),
  });
  const counts: RunCounts = r.counts;
  let repaired: { from: string; to: string } | null = null;

  if (!dryRun) {
    mergeCounts(counts, await checkVanished(deps, new Date(progress.started_at), opts.signal));
    // A stored watermark from the future would otherwise stay above the one this pass leaves: it is lowered first.
    const state = await loadWatermark(deps, CONTACTS_STREAM);
    repaired = state.repaired;
    const wm = state.watermark ? Math.floor(state.watermark.getTime() / 1000) : null;
    await deps.store.applyTransaction(async (tx) => {
      if (wm === null || wm < progress.initial_watermark) {
        await tx.setStream(CONTACTS_STREAM, { watermark: new Date(progress.initial_watermark * 1000) });
      }
      await tx.setStream(BACKFILL_CONTACTS_STREAM, {
        cursor: null,
        details: { ...progress, status: 'done', done: r.items, max_updated_at: r.newest, finished_at: new Date(now()).toISOString() },
      });
    });
    await deps.store.deleteStreams(prefix);
  }
  return {
    counts,
    details: {
      done: r.items,
      max_updated_at: r.newest,
      resumed: resuming,
      pages: r.pages,
      partitions: r.partitions,
      splits: r.splits,
      rereads: r.rereads,
      cursor_restarts: r.cursorRestarts,
      watermark: progress.initial_watermark,
      ...(repaired ? { watermark_repaired: repaired } : {}),
    },
  };
}

/**
 * The newest believable updated_at Intercom reports (one search, newest first); 0 for an empty workspace. When the
 * probe holds nothing but records from the future, Intercom's now: every believable record is older than that.
 */
async function newestUpdatedAt(deps: RunDeps): Promise<number> {
  const probe = await deps.gateway.searchContacts(
    { query: { field: 'updated_at', operator: '>', value: 0 }, perPage: PROBE_PAGE, sort: { field: 'updated_at', order: 'descending' } },
    'backfill',
  );
  const limit = futureLimit(deps.gateway);
  const newest = newestBelieved(probe.data.map((c) => c.updatedAt), limit, 0);
  if (newest > 0 || probe.data.length === 0) return newest;
  return Math.floor(deps.gateway.serverClock().nowMs / 1000);
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
