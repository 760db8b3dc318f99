/**
 * Incremental contacts pull (issue 4 §2). The window is built from remote time only: the watermark is the newest
 * remote updated_at committed, the search asks for everything from the local day before (watermark − lookback),
 * newest first, and stops at the first page that reaches below that floor. Lookback ≥ Intercom's indexing delay
 * catches changes that became searchable after newer ones. The watermark moves once every page is committed.
 */
import { mergeCounts, type RunCounts, type RunSummary } from '../outcome.ts';
import { applyContactPage } from './contact-page.ts';
import { isLastPage, searchWindow } from './pull-window.ts';
import { isExpiredCursor, MAX_CURSOR_RESTARTS, type RunDeps } from './run-deps.ts';

export const CONTACTS_STREAM = 'contacts';
export const SEARCH_PAGE_SIZE = 150;

export async function pullContactsIncremental(
  deps: RunDeps,
  timezone: () => Promise<string>,
  watermark: Date,
  lookbackSeconds: number,
  signal: AbortSignal | undefined,
): Promise<Omit<RunSummary, 'requests'>> {
  const counts: RunCounts = {};
  const wm = Math.floor(watermark.getTime() / 1000);
  const win = searchWindow(wm, lookbackSeconds, await timezone());
  let newest = wm;
  let cursor: string | null = null;
  let pages = 0;
  let restarts = 0;
  for (;;) {
    signal?.throwIfAborted();
    let page;
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
    const inWindow = page.data.filter((c) => c.updatedAt >= win.floor);
    const invalid = page.invalid.filter((r) => r.updatedAt === null || r.updatedAt >= win.floor);
    mergeCounts(counts, await applyContactPage(deps, inWindow, { detectMerges: true, invalid }));
    // A record that did not parse is audited, and moves the watermark past it like any other: it is not retried
    // forever, and it does not hold back the records after it.
    const stamps = [...page.data.map((c) => c.updatedAt), ...page.invalid.flatMap((r) => (r.updatedAt === null ? [] : [r.updatedAt]))];
    for (const t of stamps) if (t >= win.floor) newest = Math.max(newest, t);
    if (isLastPage({ data: stamps.sort((a, b) => b - a).map((updatedAt) => ({ updatedAt })), nextCursor: page.nextCursor }, win.floor)) break;
    cursor = page.nextCursor;
  }
  if (newest > wm) await deps.store.setStream(CONTACTS_STREAM, { watermark: new Date(newest * 1000) });
  return { counts, details: { pages, restarts, floor: win.floor, query_value: win.queryValue, watermark: newest } };
}
