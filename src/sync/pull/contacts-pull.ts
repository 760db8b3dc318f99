/**
 * Incremental contacts pull. The window is built from remote time only: the watermark is the newest
 * remote updated_at committed, the search asks for everything from the local day before (watermark − lookback),
 * newest first, and stops at the first page that reaches below that floor. Lookback ≥ Intercom's indexing delay
 * catches changes that became searchable after newer ones. The watermark moves once every page is committed.
 *
 * A large backlog (the first page's total_count says more than a few pages) is not paged through one cursor at
 * latency speed: the window is cut into disjoint partitions (whole days, then id suffixes within a day) paged
 * concurrently (partitioned-pull.ts), with the same floor, the same apply and the same watermark rule. Their rows in
 * sync_state make a killed cycle resume them: the watermark has not moved, so the window is the same.
 */
import { mergeCounts, type RunCounts, type RunSummary } from '../outcome.ts';
import { applyContactPage } from './contact-page.ts';
import { FUTURE_SKEW_SECONDS, futureLimit, newestBelieved } from './future.ts';
import { CONTACTS_STREAM } from './contacts-full-pull.ts';
import { PAGE_SIZE, runPartitionedPull, SEQUENTIAL_PAGES } from './partitioned-pull.ts';
import { isHexId, splitPartition, type Partition } from './partitions.ts';
import { isLastPage, searchWindow } from './pull-window.ts';
import { isExpiredCursor, MAX_CURSOR_RESTARTS, type RunDeps } from './run-deps.ts';

export { CONTACTS_STREAM } from './contacts-full-pull.ts';
export const SEARCH_PAGE_SIZE = PAGE_SIZE;
export const BACKLOG_STREAM = 'contacts:backlog';

export async function pullContactsIncremental(
  deps: RunDeps,
  watermark: Date,
  lookbackSeconds: number,
  signal: AbortSignal | undefined,
  now: () => number,
): Promise<Omit<RunSummary, 'requests'>> {
  const counts: RunCounts = {};
  const wm = Math.floor(watermark.getTime() / 1000);
  const timezone = await deps.timezone();
  const win = searchWindow(wm, lookbackSeconds, timezone);
  const details = { floor: win.floor, query_value: win.queryValue };
  const partitioned = (roots: Partition[], belowFloor: number, totalHint?: number) =>
    runPartitionedPull(deps, {
      stream: BACKLOG_STREAM,
      order: 'descending',
      floor: win.floor,
      priority: 'pull',
      timezone,
      now,
      dryRun: false,
      signal,
      page: { detectMerges: true },
      roots,
      inFlight: deps.inFlight,
      belowFloor,
      ...(totalHint === undefined ? {} : { totalHint }),
    });
  const finish = async (newest: number, extra: Record<string, unknown>) => {
    await deps.store.deleteStreams(`${BACKLOG_STREAM}:p:`);
    // newest counts only believable records (future.ts); checked once more here, where the watermark is written.
    const moved = newest > wm && newest <= futureLimit(deps.gateway);
    if (moved) await deps.store.setStream(CONTACTS_STREAM, { watermark: new Date(newest * 1000) });
    return { counts, details: { ...details, ...extra, watermark: moved ? newest : wm } };
  };

  // A partitioned backlog a killed cycle left behind: the watermark did not move, so its window is this one.
  if ((await deps.store.listStreams(`${BACKLOG_STREAM}:p:`)).length > 0) {
    const r = await partitioned([], await knownBelowFloor(deps, win));
    mergeCounts(counts, r.counts);
    return finish(r.newest, { pages: r.pages, partitions: r.partitions, resumed: true });
  }

  let newest = wm;
  let cursor: string | null = null;
  let pages = 0;
  let restarts = 0;
  for (;;) {
    signal?.throwIfAborted();
    let page;
    const readAt = new Date();
    try {
      page = await deps.gateway.searchContacts(
        {
          query: { field: 'updated_at', operator: '>', value: win.queryValue },
          perPage: SEARCH_PAGE_SIZE,
          sort: { field: 'updated_at', order: 'descending' },
          startingAfter: cursor,
        },
        'pull',
      );
    } catch (err) {
      // The watermark moves only once the whole window is read, so the window itself is the last committed position:
      // search it again from its first page. Pages already applied come back unchanged and are skipped.
      if (!isExpiredCursor(err) || cursor === null || restarts >= MAX_CURSOR_RESTARTS) throw err;
      restarts++;
      deps.logger.warn({ restarts, pages }, 'search cursor expired; searching the window again from the watermark');
      cursor = null;
      continue;
    }
    pages++;
    // Read after the answer, so the limit includes this very answer's Date; the apply and the watermark share it.
    const limit = futureLimit(deps.gateway);
    if (pages === 1 && !isLastPage(page, win.floor) && page.totalCount !== null && Math.ceil(page.totalCount / PAGE_SIZE) > SEQUENTIAL_PAGES) {
      // total_count counts the window's whole first local day, and only the part of it from the floor on is read: the
      // rest was read by earlier cycles (or the full pull), and on a busy day, or the first cycle after a full pull
      // whose newest record is old, it can be most of the count. What we already hold of it is left out, so that a
      // window of few changes is paged through one cursor at ⌈changes/150⌉ requests instead of being cut.
      const belowFloor = await knownBelowFloor(deps, win);
      const changed = Math.max(page.data.length, page.totalCount - belowFloor);
      const roots = Math.ceil(changed / PAGE_SIZE) > SEQUENTIAL_PAGES
        ? backlogPartitions(deps, changed, win.queryValue + 1, believedStamps(page.data, limit), timezone, page.data.every((c) => isHexId(c.id)))
        : null;
      if (roots) {
        // This first page is re-read by the partition that holds it: one request, against minutes of latency.
        const r = await partitioned(roots, belowFloor, changed);
        mergeCounts(counts, r.counts);
        return finish(Math.max(newest, r.newest), { pages: pages + r.pages, partitions: r.partitions, splits: r.splits });
      }
    }
    const inWindow = page.data.filter((c) => c.updatedAt >= win.floor);
    const invalid = page.invalid.filter((r) => r.updatedAt === null || r.updatedAt >= win.floor);
    mergeCounts(counts, await applyContactPage(deps, inWindow, { detectMerges: true, invalid, readAt, futureLimit: limit }));
    // A record that did not parse is audited, and moves the watermark past it like any other: it is not retried
    // forever, and it does not hold back the records after it. One dated in the future is audited and moves nothing.
    const stamps = [...page.data.map((c) => c.updatedAt), ...page.invalid.flatMap((r) => (r.updatedAt === null ? [] : [r.updatedAt]))];
    newest = newestBelieved(stamps.filter((t) => t >= win.floor), limit, newest);
    if (isLastPage({ data: stamps.sort((a, b) => b - a).map((updatedAt) => ({ updatedAt })), nextCursor: page.nextCursor }, win.floor)) break;
    cursor = page.nextCursor;
  }
  return finish(newest, { pages, restarts });
}

/**
 * The first page's updated_at values that can be believed, which place the backlog's cuts: a record from the year 2100
 * would stretch the last part over decades. A page of nothing else gives Intercom's now.
 */
function believedStamps(records: readonly { updatedAt: number }[], limit: number): number[] {
  const stamps = records.map((c) => c.updatedAt).filter((t) => t <= limit);
  return stamps.length > 0 ? stamps : [limit - FUTURE_SKEW_SECONDS];
}

/**
 * Contacts we pulled whose version lies in the window's first local day but below its floor. An underestimate (a
 * contact updated again since, or deleted) only makes a cut less likely, which costs time, never requests.
 */
function knownBelowFloor(deps: RunDeps, win: { floor: number; queryValue: number }): Promise<number> {
  return deps.store.countContactsPulledBetween(new Date((win.queryValue + 1) * 1000), new Date(win.floor * 1000));
}

/**
 * The search window [its first local day, open end) cut into about 2 × in-flight parts, or null if it cannot be. The
 * first page (sorted newest first) shows where records are dense: from the day of its oldest record on, which is one
 * part; the other cuts lie between the window's start and that day. The last part stays open for records updated
 * meanwhile.
 */
function backlogPartitions(deps: RunDeps, total: number, from: number, firstPage: readonly number[], timezone: string, hexIds: boolean): Partition[] | null {
  const newest = Math.max(...firstPage);
  const pages = Math.ceil(total / PAGE_SIZE);
  const parts = Math.max(2, Math.min(Math.ceil(pages / 3), 2 * deps.inFlight()));
  return splitPartition({ field: 'updated_at', from, to: null, suffix: '' }, parts, { lo: from, hi: newest, timezone, hexIds, pages, denseFrom: Math.min(...firstPage) });
}
