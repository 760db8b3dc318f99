// Search truncates date values to local midnight in the workspace time zone (https://developers.intercom.com/docs/references/rest-api/api.intercom.io/contacts/searchcontacts, "Searching for Timestamp Fields").
// Node ships full ICU, so Intl gives us offsets without a tz library.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(tz, f);
  }
  return f;
}

export function isValidTimeZone(tz: string): boolean {
  try {
    formatter(tz);
    return true;
  } catch {
    return false;
  }
}

function localParts(unixSeconds: number, tz: string) {
  const parts: Record<string, number> = {};
  for (const p of formatter(tz).formatToParts(new Date(unixSeconds * 1000))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  return parts as { year: number; month: number; day: number; hour: number; minute: number; second: number };
}

/** Seconds to add to UTC to get local wall time at this instant. */
function offsetSeconds(unixSeconds: number, tz: string): number {
  const p = localParts(unixSeconds, tz);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) / 1000;
  return asUtc - unixSeconds;
}

/** Unix seconds of the local midnight that starts the day containing `unixSeconds`. */
export function startOfLocalDay(unixSeconds: number, tz: string): number {
  const p = localParts(unixSeconds, tz);
  const wallMidnight = Date.UTC(p.year, p.month - 1, p.day) / 1000;
  let guess = wallMidnight - offsetSeconds(wallMidnight, tz);
  // A second pass settles days whose offset changes between midnight and the first guess (DST).
  guess = wallMidnight - offsetSeconds(guess, tz);
  // Where DST starts at midnight (America/Santiago, for one), 00:00 does not exist and the guess lands on the
  // previous evening: the day then begins at the transition, found by bisection over the next few hours.
  if (sameLocalDate(guess, p, tz)) return guess;
  let lo = guess;
  let hi = guess + 4 * 3600;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (sameLocalDate(mid, p, tz)) hi = mid;
    else lo = mid;
  }
  return hi;
}

function sameLocalDate(unixSeconds: number, day: { year: number; month: number; day: number }, tz: string): boolean {
  const q = localParts(unixSeconds, tz);
  return q.year === day.year && q.month === day.month && q.day === day.day;
}

/** Local days are 23–25 hours long, so 26 hours after a midnight always lands in the next day. */
export function startOfNextLocalDay(unixSeconds: number, tz: string): number {
  return startOfLocalDay(startOfLocalDay(unixSeconds, tz) + 26 * 3600, tz);
}
