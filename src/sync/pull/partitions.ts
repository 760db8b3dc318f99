/**
 * Disjoint search partitions that together cover a contacts search exactly, so a pull can keep many cursors in
 * flight at once: one cursor pages at latency speed and leaves most of a large budget unspent (docs/performance.md,
 * "Budget use").
 * Intercom's date filters match whole days in the workspace time zone ("Search for contacts", https://developers.intercom.com/docs/references/2.14/rest-api/api.intercom.io/contacts/searchcontacts):
 * `> v` starts at the midnight after v's local day and `< v` ends at v's local midnight. So a partition is a range of
 * whole local days [from, to) on one date field, written as `field > from − 1` and `field < to` (either side may be
 * open), optionally narrowed to ids ending in a given hex suffix: Intercom ids are hex (24 digits, like the
 * simulator's), and `id $ 'x'` for the 16 hex digits splits one day that alone holds a huge import into 16 disjoint
 * parts. The split is only made when every id seen so far is lowercase hex; otherwise that day is paged sequentially.
 */
import { startOfLocalDay } from './pull-window.ts';

export type PartitionField = 'created_at' | 'updated_at';

export interface Partition {
  field: PartitionField;
  /** Unix seconds of a local midnight (inclusive), or null: no lower bound. */
  from: number | null;
  /** Unix seconds of a local midnight (exclusive), or null: no upper bound. */
  to: number | null;
  /** Ids ending with this ('' = any id). */
  suffix: string;
}

const HEX = '0123456789abcdef';
/** Three hex digits = 4,096 parts of one day: beyond that a day is paged sequentially. */
const MAX_SUFFIX = 3;
/**
 * An id-suffix split always makes 16 parts, each ending on a partial page, after a probe page read twice: about 17
 * requests more than paging the day through one cursor. Below 48 pages that is over a third more requests, which
 * under a budget is time lost, not saved (a 10-page day cut in 16 cost 36 searches).
 */
const MIN_PAGES_FOR_SUFFIX_SPLIT = 48;

export function partitionKey(p: Partition): string {
  return `${p.field}:${p.from ?? '-'}:${p.to ?? '-'}:${p.suffix || '*'}`;
}

/** The search query of a partition; null when it has no bound at all (the caller then needs another query). */
export function partitionQuery(p: Partition): unknown {
  const parts: unknown[] = [];
  // from is a local midnight, so from − 1 lies in the day before and `>` starts exactly at from.
  if (p.from !== null) parts.push({ field: p.field, operator: '>', value: p.from - 1 });
  if (p.to !== null) parts.push({ field: p.field, operator: '<', value: p.to });
  if (p.suffix) parts.push({ field: 'id', operator: '$', value: p.suffix });
  if (parts.length === 0) return null;
  return parts.length === 1 ? parts[0] : { operator: 'AND', value: parts };
}

/** The local midnight that starts the day after the one holding t. Days last 23 to 25 hours. */
export function nextLocalDay(t: number, timezone: string): number {
  return startOfLocalDay(startOfLocalDay(t, timezone) + 25 * 3600, timezone);
}

/**
 * Splits a partition in about `parts` pieces that cover it exactly: into ranges of whole local days when its records
 * span more than one day, else into 16 id-suffix parts when `hexIds` allows, else into days of its own bounds.
 * `lo`/`hi` bound where the records are (the oldest and newest seen or known); the first and last pieces keep the
 * partition's bounds so nothing outside is lost.
 * Returns null when the partition cannot be split.
 */
export function splitPartition(
  p: Partition,
  parts: number,
  o: {
    lo: number;
    hi: number;
    timezone: string;
    hexIds: boolean;
    /** Pages the partition holds, when known. */
    pages?: number;
    /**
     * Newest first (descending searches): the oldest record of the first page. Records are known to be dense from its
     * day on, and only assumed to lie somewhere below it.
     */
    denseFrom?: number;
  },
): Partition[] | null {
  // The cuts are spread over the days that hold records, not over the partition's nominal bounds: a window that runs
  // from a quiet day a year ago to now has its records at both ends, and even cuts of the year between would each
  // cost a probe that finds nothing. The outer pieces keep the partition's own bounds, so coverage is unchanged.
  const dataFrom = startOfLocalDay(Math.min(o.lo, o.hi), o.timezone);
  const dataTo = nextLocalDay(Math.max(o.lo, o.hi), o.timezone);
  /** The pieces between the partition's own bounds and these midnights inside them. */
  const pieces = (inner: readonly number[]): Partition[] => {
    const edges = [p.from, ...inner, p.to];
    return edges.slice(1).map((to, i) => ({ ...p, from: edges[i]!, to }));
  };
  const byDays = (from: number, to: number): Partition[] | null => {
    const bounds = dayBounds(from, to, Math.max(2, parts), o.timezone);
    return bounds.length === 0 ? null : pieces(bounds);
  };
  const lower = p.from === null ? dataFrom : Math.max(p.from, dataFrom);
  // A descending window whose first page ends inside the newest day (say a year-old watermark and a burst of edits
  // today): that day is one piece and the unknown rest is cut in the others. Cut evenly instead, every cut but the
  // last probed an empty range and the newest piece was cut again, level after level (29 searches for 10 pages).
  if (o.denseFrom !== undefined) {
    const cut = startOfLocalDay(o.denseFrom, o.timezone);
    if (cut > lower && (p.to === null || cut < p.to)) return pieces([...(parts > 2 ? dayBounds(lower, cut, parts - 1, o.timezone) : []), cut]);
  }
  const inData = byDays(lower, p.to === null ? dataTo : Math.min(p.to, dataTo));
  if (inData) return inData;
  const suffixWorthIt = o.pages === undefined || o.pages >= MIN_PAGES_FOR_SUFFIX_SPLIT;
  if (o.hexIds && p.suffix.length < MAX_SUFFIX && suffixWorthIt) return [...HEX].map((d) => ({ ...p, suffix: d + p.suffix }));
  // Records seen in one day only, and ids that cannot be cut by suffix: the partition's own days are all that is left.
  return p.from !== null && p.to !== null ? byDays(p.from, p.to) : null;
}

/** Up to parts − 1 local midnights strictly inside (from, to), spread evenly in time. */
function dayBounds(from: number, to: number, parts: number, timezone: string): number[] {
  const out: number[] = [];
  for (let i = 1; i < parts; i++) {
    const b = startOfLocalDay(from + Math.floor(((to - from) * i) / parts), timezone);
    if (b > from && b < to && b !== out.at(-1)) out.push(b);
  }
  // Even spacing can miss a range of two days (its only midnight lies right of the halfway mark): take it then.
  if (out.length === 0) {
    const b = nextLocalDay(from, timezone);
    if (b < to) out.push(b);
  }
  return out;
}

export function isHexId(id: string): boolean {
  return /^[0-9a-f]+$/.test(id);
}
