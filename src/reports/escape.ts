/**
 * HTML escaping for everything the status page shows. Names, emails and error messages come from users and from
 * Intercom, so every value goes through here, in text and in double-quoted attributes alike (OWASP XSS prevention
 * rule #1 and #2: https://cheatsheetseries.owasp.org/cheatsheets/Cross_Site_Scripting_Prevention_Cheat_Sheet.html).
 */
const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

const MASK = '[email hidden]';
// What an address is made of, as free text quotes it: anything but whitespace, '@', quotes and brackets.
const STOPS = new Set([...'@<>"\'`()[]{},;:'].map((c) => c.charCodeAt(0)));
const SPACE = /\s/;

function isAddressChar(c: number): boolean {
  if (c < 128) return !STOPS.has(c) && c !== 32 && !(c >= 9 && c <= 13);
  return !SPACE.test(String.fromCharCode(c));
}

/**
 * Free text with emails masked, for when personal data may not be shown (LOG_PII=false). An email is local@domain:
 * a run of address characters, '@', and a run holding a '.' with a character on each side. Found by walking out
 * from each '@' rather than by a regular expression: a pattern that starts a match anywhere backtracks over every
 * run of address characters, which made a 200,000-character attribute name without an '@' take seconds. Each
 * character is looked at a bounded number of times (the runs on either side of an '@' end at the next '@'), so the
 * time is linear in the text.
 *
 * `cut`: the text is the start of a longer one (an excerpt). Its last word may be half an address, so it is hidden:
 * masked if it holds an '@', dropped otherwise.
 */
export function maskEmails(text: string, opts: { cut?: boolean } = {}): string {
  const n = text.length;
  let out = '';
  let last = 0;
  for (let at = text.indexOf('@'); at !== -1; ) {
    let start = at;
    while (start > last && isAddressChar(text.charCodeAt(start - 1))) start -= 1;
    let end = at + 1;
    let dot = -1;
    for (; end < n && isAddressChar(text.charCodeAt(end)); end += 1) {
      if (dot === -1 && end >= at + 2 && text.charCodeAt(end) === 0x2e) dot = end;
    }
    const complete = dot !== -1 && dot <= end - 2;
    if (start < at && (complete || (opts.cut === true && end === n))) {
      out += text.slice(last, start) + MASK;
      last = end;
    }
    at = end < n ? text.indexOf('@', end) : -1;
  }
  if (opts.cut === true && last < n) {
    let start = n;
    while (start > last && isAddressChar(text.charCodeAt(start - 1))) start -= 1;
    return out + text.slice(last, start);
  }
  return out + text.slice(last);
}
