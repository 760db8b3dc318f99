/**
 * Values from outside (webhook bodies, Intercom answers, rows written by applications) reach our logs, the error
 * columns, the status page, the reports and our HTTP answers; a 500 KB id in a signed notification must not make a
 * 500 KB log line, a 500 KB stored error or a page that takes seconds to render. Every such string is cut to a
 * bounded excerpt that says how much was cut, before anything else is done with it. The logger passes every line
 * through `boundLine`, so a value logged without calling `excerpt` explicitly is still bounded.
 */
export const LOG_EXCERPT_CHARS = 512;

/**
 * Outside text kept in an error column (sync_runs.error, sync_outbox.last_error and last_error_details, audit
 * details), shown on the status page and in reports, or quoted in an HTTP answer. Long enough for any message
 * Intercom or Postgres writes; a longer one is an attacker's or a bug's.
 */
export const TEXT_EXCERPT_CHARS = 2000;

// The end of an excerpt (bytes when the database cut it: counting characters would read the whole value). Only ever
// tested on the last few dozen characters of a string.
const MARKER = /…\[\d{1,16} more (?:chars|bytes)\]$/;

/**
 * The first `max` characters of `value` and, when that is not all of it, how many were cut. `process` sees only the
 * kept part, and learns whether it was cut (a transformation that looks at the end, such as masking an email, may
 * need to know it is looking at half of one). Never splits a surrogate pair. An excerpt of an excerpt is the same
 * excerpt, so text bounded where it was stored keeps the count of what was cut when it is bounded again on display.
 */
export function excerpt(value: string, max = LOG_EXCERPT_CHARS, process?: (kept: string, cut: boolean) => string): string {
  if (value.length <= max) return process ? process(value, false) : value;
  // Already an excerpt (a stored error, a column the database cut to as many characters, which may be up to twice as
  // many UTF-16 units): keep its count of what was cut.
  if (value.length <= 2 * max + 40) {
    const tail = value.slice(-40);
    const marked = MARKER.exec(tail);
    const at = marked ? value.length - tail.length + marked.index : Infinity;
    if (at <= 2 * max) return `${process ? process(value.slice(0, at), true) : value.slice(0, at)}${value.slice(at)}`;
  }
  let end = max;
  const last = value.charCodeAt(end - 1);
  if (end > 0 && last >= 0xd800 && last <= 0xdbff) end -= 1;
  const kept = value.slice(0, end);
  return `${process ? process(kept, true) : kept}…[${value.length - end} more chars]`;
}

/**
 * Bounds every string in a value: arrays and plain objects are walked (to `depth`), lists capped to 100 items and
 * objects to 100 keys, keys bounded like values.
 */
export function excerptDeep(value: unknown, depth = 6, max = LOG_EXCERPT_CHARS): unknown {
  if (typeof value === 'string') return excerpt(value, max);
  if (depth <= 0 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const kept = value.slice(0, 100).map((v) => excerptDeep(v, depth - 1, max));
    return value.length > 100 ? [...kept, `…[${value.length - 100} more items]`] : kept;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  // Errors and class instances go through pino's serializers (the err serializer bounds its own strings).
  if (proto !== Object.prototype && proto !== null) return value;
  let changed = false;
  const out: Record<string, unknown> = {};
  let n = 0;
  let extra = 0;
  for (const k in value) {
    if (!Object.hasOwn(value, k)) continue;
    if (n >= 100) {
      extra += 1;
      continue;
    }
    n += 1;
    const v = (value as Record<string, unknown>)[k];
    const key = excerpt(k, max);
    const e = excerptDeep(v, depth - 1, max);
    if (e !== v || key !== k) changed = true;
    out[key] = e;
  }
  if (extra > 0) {
    changed = true;
    out['…'] = `[${extra} more keys]`;
  }
  return changed ? out : value;
}

/** Lines longer than this are re-written with every string field cut to an excerpt. */
export const LOG_LINE_CHARS = 8 * 1024;

/** A pino JSON line, bounded: short lines pass untouched (the common case costs one length check). */
export function boundLine(line: string): string {
  if (line.length <= LOG_LINE_CHARS) return line;
  try {
    const bounded = JSON.stringify(excerptDeep(JSON.parse(line), 8));
    if (bounded.length <= LOG_LINE_CHARS * 4) return `${bounded}\n`;
  } catch {
    // Not JSON (pino always writes JSON, but never let logging throw): fall through to a plain cut.
  }
  return `${JSON.stringify({ msg: excerpt(line, LOG_LINE_CHARS), truncated: true })}\n`;
}
