/**
 * Runs a contacts search as many disjoint partitions at once (partitions.ts), so a pull spends the budget instead of
 * waiting on latency: about budget/s × latency partitions are paged concurrently (Little's law, the gateway's
 * in-flight target), each with its own cursor. Pages are applied one at a time in arrival order, exactly as a single
 * cursor's pages were, so exactly-once apply and conflict handling are unchanged; only the fetching is parallel.
 *
 * Restart-safe: every partition has a sync_state row `<stream>:p:<key>` whose cursor and progress are committed in
 * the same transaction as its page. A split commits its children and marks the parent 'split' in one transaction.
 * A rerun continues the unfinished rows; a cursor that died meanwhile (or mid-run: Intercom answers 400 to a cursor
 * it no longer knows) restarts its partition from the local day of the last applied record, so the overlap is at
 * most one day of re-applied (unchanged) records.
 *
 * Completeness is checked, not assumed: when all children of a split have reported their first page's total_count
 * and together hold fewer records than the parent did, the parent is paged again on its own, sequentially. (Records
 * created during the pull inflate the sum, which is harmless; deletions and merges deflate it and cost a re-read.)
 */
import { z } from 'zod';
import { SyncStateError } from '../../errors.ts';
import type { IntercomContact, Page } from '../../intercom/payloads.ts';
import { mergeCounts, type RunCounts } from '../outcome.ts';
import { applyContactPage, type ContactPageOptions } from './contact-page.ts';
import { futureLimit, isFromFuture } from './future.ts';
import { isHexId, nextLocalDay, partitionKey, partitionQuery, splitPartition, type Partition } from './partitions.ts';
import { startOfLocalDay } from './pull-window.ts';
import type { StreamPatch } from './ports.ts';
import { isExpiredCursor, MAX_CURSOR_RESTARTS, type RunDeps } from './run-deps.ts';

export const PAGE_SIZE = 150;
/**
 * A search of at most this many pages is paged through one cursor (at 300 ms a page, 2.4 s): a split costs a probe
 * page that is read again and a partial last page per part, more than such a search saves.
 */
export const SEQUENTIAL_PAGES = 8;
/**
 * Pages fetched ahead of the apply, beyond the requests that keep the apply busy for one request's latency. When the
 * budget no longer bounds fetching (limits off, a fast network), this is what bounds memory: each page is 150 parsed
 * contacts.
 */
const PAGES_AHEAD = 2;
/** Below this many pages a partition is not worth a split: each split costs one probe page and a partial last page. */
const MIN_PAGES_PER_PARTITION = 3;
/** More partitions than in-flight slots, so that the tail (partitions of unequal size) still keeps requests busy. */
const PARTITIONS_PER_SLOT = 2;
/**
 * Until a page has been applied, the apply time a page is taken to need when sizing partitions (about 5,000
 * contacts/s, what `npm run bench -- --only throughput` measures here): splits are decided on probe pages, which are
 * never applied, so most are decided before anything is measured.
 */
const APPLY_MS_GUESS = 30;

export interface PartitionedPullSpec {
  /** Parent stream; partition rows are `<stream>:p:<key>`. */
  stream: string;
  order: 'ascending' | 'descending';
  /** Incremental pulls: only records updated at or after this count, and a descending partition stops below it. */
  floor: number | null;
  priority: 'pull' | 'backfill' | 'verify';
  timezone: string;
  /** Unix ms. */
  now: () => number;
  dryRun: boolean;
  signal?: AbortSignal | undefined;
  page: Omit<ContactPageOptions, 'dryRun' | 'stream' | 'futureLimit'>;
  /** The partitions to start from when no saved rows exist; together they must cover the search exactly. */
  roots: Partition[];
  /**
   * Upper bound on the sort field's values, used to cut open-ended ranges evenly: for created_at, the newest
   * updated_at (a contact is not updated before it is created). Defaults to now.
   */
  newestHint?: number;
  /** Requests to keep in flight (the gateway's in-flight target). */
  inFlight: () => number;
  /** Records the roots hold together, when the caller knows (a backlog's first page); else the first root's count. */
  totalHint?: number;
  /**
   * Descending pulls with a floor: records the window's first local day is known to hold below the floor. Intercom
   * counts them in total_count, but the pull stops at the floor, so they are left out when judging a split.
   */
  belowFloor?: number;
  onPage?: (p: { items: number; total: number | null }) => void;
}

export interface PartitionedPullResult {
  counts: RunCounts;
  pages: number;
  items: number;
  /** Newest believable updated_at applied (future.ts). */
  newest: number;
  partitions: number;
  splits: number;
  rereads: number;
  cursorRestarts: number;
  resumed: boolean;
}

/**
 * What each partition row keeps in sync_state.details (jsonb, committed with each page). Parsed where it is read back
 * so a row edited by hand or left by another version stops the pull with its name instead of steering it wrongly.
 */
const rowDetailsSchema = z.object({
  partition: z.object({
    field: z.enum(['created_at', 'updated_at']),
    from: z.number().nullable(),
    to: z.number().nullable(),
    suffix: z.string(),
  }),
  status: z.enum(['pending', 'running', 'done', 'split']),
  pages: z.number(),
  items: z.number(),
  newest: z.number(),
  /** Sort key (created_at ascending, updated_at descending) of the last applied record: where a dead cursor restarts. */
  last: z.number().nullable(),
  /** total_count of the first page. */
  total: z.number().nullable(),
  parent: z.string().nullable(),
  /** Paged sequentially: a re-read after a failed coverage check, or a part that cannot be split further. */
  nosplit: z.boolean(),
});
type RowDetails = z.infer<typeof rowDetailsSchema>;

function parseRowDetails(stream: string, details: unknown): RowDetails {
  const parsed = rowDetailsSchema.safeParse(details);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SyncStateError(
      stream,
      `details cannot be resumed (${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'})`,
      `delete the ${stream.slice(0, stream.indexOf(':p:'))}:p:* rows of sync_state to start that pull over`,
    );
  }
  return parsed.data;
}

interface Row {
  name: string;
  cursor: string | null;
  d: RowDetails;
}

export async function runPartitionedPull(deps: RunDeps, spec: PartitionedPullSpec): Promise<PartitionedPullResult> {
  const prefix = `${spec.stream}:p:`;
  const result: PartitionedPullResult = {
    counts: {}, pages: 0, items: 0, newest: 0, partitions: 0, splits: 0, rereads: 0, cursorRestarts: 0, resumed: false,
  };
  const rows = new Map<string, Row>();
  const saved = spec.dryRun ? [] : await deps.store.listStreams(prefix);
  const savedLimit = futureLimit(deps.gateway);
  for (const s of saved) {
    const d = parseRowDetails(s.stream, s.details);
    // A row saved before future.ts may hold a newest from the future: it then counts for nothing, and the window
    // is read again from where it started.
    if (isFromFuture(d.newest, savedLimit)) d.newest = 0;
    rows.set(s.stream, { name: s.stream, cursor: s.cursor, d });
    if (d.status === 'done' || d.status === 'running') {
      result.items += d.items;
      result.newest = Math.max(result.newest, d.newest);
    }
  }
  result.resumed = saved.length > 0;
  if (rows.size === 0) {
    const roots = spec.roots.map((p) => newRow(prefix, p, null));
    if (!spec.dryRun) await deps.store.applyTransaction(async (tx) => {
      for (const r of roots) await tx.setStream(r.name, { cursor: null, details: { ...r.d } });
    });
    for (const r of roots) rows.set(r.name, r);
  }
  const queue = [...rows.values()].filter((r) => r.d.status === 'pending' || r.d.status === 'running');
  let rootPages: number | null = null;
  const run: { failed: Error | null } = { failed: null };

  // Fetching is bounded by the apply as well as by the budget. With the budget as the limit pages are applied as fast
  // as they come and this bound stays above the gateway's target; with no budget limit, pages would otherwise arrive
  // faster than one apply at a time takes them and pile up in memory. Little's law on the consuming side: the apply
  // keeps busy with latency ÷ apply time requests in flight, and PAGES_AHEAD more absorb the jitter.
  let pending = 0;
  let latencyMs: number | null = null;
  let applyMs: number | null = null;
  const ewma = (avg: number | null, sample: number) => (avg === null ? sample : avg + 0.2 * (sample - avg));
  /** Requests that keep the apply busy (latency ÷ apply time + PAGES_AHEAD), capped by the gateway's target. */
  const applyBound = (applyGuessMs: number | null) => {
    const target = Math.max(1, spec.inFlight());
    const apply = applyMs ?? applyGuessMs;
    if (latencyMs === null || apply === null) return Math.min(target, PAGES_AHEAD);
    return Math.min(target, Math.ceil(latencyMs / Math.max(1, apply)) + PAGES_AHEAD);
  };
  const pageLimit = () => applyBound(null);
  const waiting: (() => void)[] = [];
  let pumpMore = () => {};
  const wake = () => {
    for (const w of waiting.splice(0)) w();
    pumpMore();
  };
  const acquire = async () => {
    while (pending >= pageLimit()) {
      if (run.failed) throw run.failed;
      await new Promise<void>((resolve) => waiting.push(resolve));
    }
    if (run.failed) throw run.failed;
    pending++;
  };
  const release = () => {
    pending--;
    wake();
  };

  // Pages are applied one at a time, in the order they arrive: the apply is what the single cursor did before.
  let applyChain: Promise<unknown> = Promise.resolve();
  const applySerially = <T>(fn: () => Promise<T>): Promise<T> => {
    const r = applyChain.then(fn);
    applyChain = r.catch(() => undefined);
    return r;
  };

  const persist = async (patches: { name: string; patch: StreamPatch }[]) => {
    if (spec.dryRun) return;
    await deps.store.applyTransaction(async (tx) => {
      for (const p of patches) await tx.setStream(p.name, p.patch);
    });
  };

  /**
   * Fetches one page, stamped with when it was requested (contact-page.ts skips records older than that). The page
   * counts against pageLimit until its release() (once applied, or dropped).
   */
  const fetchPage = (row: Row, cursor: string | null): Promise<HeldPage> => {
    const query = partitionQuery(row.d.partition);
    if (query === null) throw new Error(`partition ${row.name} has no bound: roots must be bounded on one side`);
    const p = (async (): Promise<HeldPage> => {
      await acquire();
      const readAt = new Date();
      const t0 = performance.now();
      let page: Page<IntercomContact>;
      try {
        page = await deps.gateway.searchContacts(
          { query, perPage: PAGE_SIZE, sort: { field: row.d.partition.field, order: spec.order }, startingAfter: cursor },
          spec.priority,
        );
      } catch (err) {
        release();
        throw err;
      }
      latencyMs = ewma(latencyMs, performance.now() - t0);
      let held = true;
      const releasePage = () => {
        if (held) release();
        held = false;
      };
      // Read after the answer, so it includes this answer's Date; the apply and the partition's newest share it.
      return { ...page, readAt, limit: futureLimit(deps.gateway), release: releasePage };
    })();
    // Awaited below unless the run stops first; a page nobody waits for must not become an unhandled rejection.
    p.catch(() => undefined);
    return p;
  };

  /**
   * Partitions worth fetching at once: the gateway's target, or fewer when the apply is the slower side (Little's law
   * as in pageLimit). Parts beyond that only add probe pages and partial last pages: sized by the budget alone, a
   * 20,000-contact backlog at 10,000/min was cut into 256 parts of one page and cost 264 searches (minimum 134).
   */
  const slots = () => applyBound(APPLY_MS_GUESS);
  const maxPages = () => Math.max(MIN_PAGES_PER_PARTITION, Math.ceil((rootPages ?? 0) / (PARTITIONS_PER_SLOT * slots())));
  const live = () => [...rows.values()].filter((r) => r.d.status === 'pending' || r.d.status === 'running').length;

  /** Whether the children of `parent` together cover what it held; a shortfall means records would be missed. */
  const coverageShortfall = (parent: string): Row | null => {
    const p = rows.get(parent);
    if (!p || p.d.total === null) return null;
    const children = [...rows.values()].filter((r) => r.d.parent === parent);
    if (children.some((c) => c.d.total === null && c.d.status !== 'split')) return null;
    const sum = children.reduce((n, c) => n + (c.d.total ?? 0), 0);
    return sum < p.d.total ? p : null;
  };

  async function runPartition(row: Row): Promise<Row[]> {
    const spawned: Row[] = [];
    let cursor = row.cursor;
    let next = fetchPage(row, cursor);
    for (;;) {
      spec.signal?.throwIfAborted();
      let page: HeldPage;
      try {
        page = await next;
      } catch (err) {
        // One classifier for every pass (run-deps.ts): only Intercom's "Invalid starting_after" 400 is a dead cursor; any
        // other 400 is a real refusal, and restarting on it would loop. Bounded like the sequential passes, per partition.
        if (cursor === null || !isExpiredCursor(err) || result.cursorRestarts >= MAX_CURSOR_RESTARTS * Math.max(1, rows.size)) throw err;
        // The cursor is gone (expired, or the search was evicted): narrow the partition to what is left and
        // start it over. Records of the restart day that were already applied come back unchanged.
        row.d.partition = narrowed(row.d.partition, row.d.last, spec);
        result.cursorRestarts++;
        deps.logger.warn({ partition: row.name, last: row.d.last }, 'search cursor no longer valid: restarting the partition from its last day');
        cursor = null;
        next = fetchPage(row, null);
        continue;
      }
      const first = cursor === null && row.d.pages === 0;
      if (first) {
        row.d.total = page.totalCount;
        rootPages ??= spec.totalHint !== undefined
          ? Math.ceil(spec.totalHint / PAGE_SIZE)
          : page.totalCount === null ? null : Math.ceil(inWindowTotal(row.d.partition, page.totalCount) / PAGE_SIZE);
        const children = first && !row.d.nosplit ? split(row, page) : null;
        if (children) {
          // The probe page is dropped: the child that holds its records reads them again.
          page.release();
          row.d.status = 'split';
          result.splits++;
          await persist([
            ...children.map((c) => ({ name: c.name, patch: { cursor: null, details: { ...c.d } } })),
            { name: row.name, patch: { cursor: null, details: { ...row.d } } },
          ]);
          for (const c of children) rows.set(c.name, c);
          return children;
        }
        if (row.d.parent) {
          const short = coverageShortfall(row.d.parent);
          if (short) spawned.push(reread(short));
        }
      }
      const lastPage = spec.floor !== null && spec.order === 'descending'
        ? page.nextCursor === null || page.data.length === 0 || page.data.at(-1)!.updatedAt < spec.floor
        : page.nextCursor === null || page.data.length === 0;
      if (!lastPage) next = fetchPage(row, page.nextCursor);
      const items = spec.floor === null ? page.data : page.data.filter((c) => c.updatedAt >= spec.floor!);
      // Records that did not parse are audited `invalid` with the page, which goes on without them.
      const invalid = page.invalid.filter((r) => spec.floor === null || r.updatedAt === null || r.updatedAt >= spec.floor);
      const counted = await applySerially(async () => {
        row.d.pages++;
        row.d.items += items.length;
        for (const c of items) if (!isFromFuture(c.updatedAt, page.limit)) row.d.newest = Math.max(row.d.newest, c.updatedAt);
        const lastItem = page.data.at(-1);
        if (lastItem) row.d.last = row.d.partition.field === 'created_at' ? lastItem.createdAt : lastItem.updatedAt;
        row.d.status = lastPage ? 'done' : 'running';
        row.cursor = lastPage ? null : page.nextCursor;
        const t0 = performance.now();
        try {
          return await applyContactPage(deps, items, {
            ...spec.page,
            invalid,
            readAt: page.readAt,
            futureLimit: page.limit,
            dryRun: spec.dryRun,
            ...(spec.dryRun ? {} : { stream: { name: row.name, patch: { cursor: row.cursor, details: { ...row.d } } } }),
          });
        } finally {
          applyMs = ewma(applyMs, performance.now() - t0);
          page.release();
        }
      });
      mergeCounts(result.counts, counted);
      result.pages++;
      result.items += items.length;
      result.newest = Math.max(result.newest, row.d.newest);
      spec.onPage?.({ items: result.items, total: rootPages === null ? null : rootPages * PAGE_SIZE });
      if (lastPage) return spawned;
      cursor = page.nextCursor;
    }
  }

  /** A partition's total_count without the records below the floor it is known to hold (see belowFloor). */
  function inWindowTotal(p: Partition, total: number): number {
    if (!spec.belowFloor || spec.floor === null) return total;
    const holdsFloor = (p.from === null || p.from <= spec.floor) && (p.to === null || p.to > spec.floor);
    // An id-suffix part holds about its share of the day.
    return holdsFloor ? Math.max(0, total - Math.floor(spec.belowFloor / 16 ** p.suffix.length)) : total;
  }

  function split(row: Row, page: HeldPage): Row[] | null {
    if (page.totalCount === null || page.data.length === 0) return null;
    const pages = Math.ceil(Math.max(page.data.length, inWindowTotal(row.d.partition, page.totalCount)) / PAGE_SIZE);
    if (pages <= SEQUENTIAL_PAGES || pages <= maxPages()) return null;
    // Enough parts already wait or run to keep every slot busy: an id-suffix split makes 16 at a time, and splitting
    // each of them again would make 256 where a few dozen do.
    if (live() >= PARTITIONS_PER_SLOT * slots()) return null;
    // Records from the future (future.ts) say nothing about where the others lie: one from 2100 would spread the cuts
    // over decades.
    const keys = page.data
      .filter((c) => !isFromFuture(c.updatedAt, page.limit))
      .map((c) => (row.d.partition.field === 'created_at' ? c.createdAt : c.updatedAt))
      .filter((k) => !isFromFuture(k, page.limit));
    if (keys.length === 0) return null;
    // Where the records are. Ascending: from the oldest on the first page to the newest known (a contact is created
    // before its last update). Descending: the first page starts at the newest, and the rest lie down to the start.
    const newest = Math.min(Math.floor(spec.now() / 1000), spec.newestHint ?? Number.POSITIVE_INFINITY);
    const [lo, hi] = spec.order === 'ascending'
      ? [Math.min(newest, ...keys), Math.max(newest, ...keys)]
      : [row.d.partition.from ?? Math.min(...keys), Math.max(...keys)];
    const parts = splitPartition(row.d.partition, Math.ceil(pages / maxPages()), {
      lo,
      hi,
      timezone: spec.timezone,
      hexIds: page.data.length > 0 && page.data.every((c) => isHexId(c.id)),
      pages,
      ...(spec.order === 'descending' ? { denseFrom: Math.min(...keys) } : {}),
    });
    if (!parts) return null;
    return parts.map((p) => newRow(prefix, p, row.name));
  }

  /** A split that lost records: the parent is paged again, sequentially, under a new row. */
  function reread(parent: Row): Row {
    result.rereads++;
    deps.logger.warn({ partition: parent.name, total: parent.d.total }, 'partitions hold fewer records than their parent: paging the parent sequentially');
    const r = newRow(`${prefix}reread:`, parent.d.partition, null);
    r.d.nosplit = true;
    // Only once per parent: the re-read row has no parent, so it is never checked again.
    parent.d.total = null;
    rows.set(r.name, r);
    return r;
  }

  // The pump: start partitions while fewer than the in-flight target (and pageLimit) run; children join the queue.
  await new Promise<void>((resolve, reject) => {
    let active = 0;
    const pump = () => {
      if (run.failed !== null) {
        if (active === 0) reject(run.failed);
        return;
      }
      // No more partitions than pages may be fetched at once: a partition started beyond that only waits, holding a
      // cursor that may go stale meanwhile.
      while (queue.length > 0 && active < pageLimit()) {
        const row = queue.shift()!;
        active++;
        result.partitions++;
        runPartition(row)
          .then(async (more) => {
            for (const m of more) {
              if (m.name.includes(':reread:')) await persist([{ name: m.name, patch: { cursor: null, details: { ...m.d } } }]);
              queue.push(m);
            }
          })
          .catch((err: unknown) => {
            run.failed ??= err instanceof Error ? err : new Error(String(err));
            // Partitions waiting for a page slot stop too.
            for (const w of waiting.splice(0)) w();
          })
          .finally(() => {
            active--;
            pump();
          });
      }
      // A failure returned above; here every partition finished.
      if (active === 0 && queue.length === 0) resolve();
    };
    pumpMore = () => {
      if (run.failed === null && active > 0) pump();
    };
    pump();
  });
  await applyChain;
  return result;
}

/** limit: the future limit (future.ts) read when the page arrived. */
type HeldPage = Page<IntercomContact> & { readAt: Date; limit: number; release: () => void };

function newRow(prefix: string, p: Partition, parent: string | null): Row {
  return {
    name: `${prefix}${partitionKey(p)}`,
    cursor: null,
    d: { partition: p, status: 'pending', pages: 0, items: 0, newest: 0, last: null, total: null, parent, nosplit: false },
  };
}

/** What remains of a partition after its records up to `last` were applied, in whole local days. */
function narrowed(p: Partition, last: number | null, spec: Pick<PartitionedPullSpec, 'order' | 'timezone'>): Partition {
  if (last === null) return p;
  if (spec.order === 'ascending') {
    const from = startOfLocalDay(last, spec.timezone);
    return p.from === null || from > p.from ? { ...p, from } : p;
  }
  const to = nextLocalDay(last, spec.timezone);
  return p.to === null || to < p.to ? { ...p, to } : p;
}

