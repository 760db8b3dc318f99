/**
 * Where an incremental contacts search starts and stops. Intercom compares dates by whole local day in the
 * workspace time zone and `>` starts at the NEXT local midnight (https://developers.intercom.com/docs/references/rest-api/api.intercom.io/contacts/searchcontacts, "Searching for Timestamp Fields"), so the query value must be an instant
 * in the day before the window's first day; the exact floor is then applied on the client.
 */

export interface SearchWindow {
  /** Unix seconds: contacts updated at or after this are (re)considered. */
  floor: number;
  /** Unix seconds sent as `updated_at > value`: the last second of the local day before the floor's day. */
  queryValue: number;
}

export function searchWindow(watermarkSeconds: number, lookbackSeconds: number, timezone: string): SearchWindow {
  const floor = Math.max(0, watermarkSeconds - lookbackSeconds);
  return { floor, queryValue: startOfLocalDay(floor, timezone) - 1 };
}

/** Sorted newest first, so once a page's oldest item is below the floor every later page is too. */
export function isLastPage(page: { data: readonly { updatedAt: number }[]; nextCursor: string | null }, floor: number): boolean {
  const oldest = page.data.at(-1);
  return page.nextCursor === null || oldest === undefined || oldest.updatedAt < floor;
}

// The simulator has its own copy of this day arithmetic (src/simulator/timezone.ts) on purpose: it plays Intercom,
// and test/pull/pure.test.ts checks this window against it. Sharing one function would let a bug agree with itself.
const formatters = new Map<string, Intl.DateTimeFormat>();

function localWallSeconds(unixSeconds: number, timezone: string): { y: number; m: number; d: number; wall: number } {
  let f = formatters.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timezone, f);
  }
  const p: Record<string, number> = {};
  for (const part of f.formatToParts(new Date(unixSeconds * 1000))) if (part.type !== 'literal') p[part.type] = Number(part.value);
  const y = p.year!, m = p.month!, d = p.day!;
  return { y, m, d, wall: Date.UTC(y, m - 1, d, p.hour, p.minute, p.second) / 1000 };
}

/** Unix seconds of the first instant of the local day holding `unixSeconds` (DST-safe, no tz library). */
export function startOfLocalDay(unixSeconds: number, timezone: string): number {
  const target = dayNumber(unixSeconds, timezone);
  // UTC offsets lie within -12 h … +14 h, so local midnight lies within this range of the wall-clock midnight;
  // the day number only grows with time, so a binary search finds the first second of the day even across DST gaps.
  const { y, m, d } = localWallSeconds(unixSeconds, timezone);
  const wallMidnight = Date.UTC(y, m - 1, d) / 1000;
  let lo = wallMidnight - 15 * 3600;
  let hi = Math.min(unixSeconds, wallMidnight + 13 * 3600);
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (dayNumber(mid, timezone) >= target) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function dayNumber(t: number, timezone: string): number {
  const { y, m, d } = localWallSeconds(t, timezone);
  return y * 10_000 + m * 100 + d;
}
