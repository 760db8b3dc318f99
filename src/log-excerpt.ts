/**
 * Values from outside (webhook bodies, Intercom answers, rows written by applications) reach our logs; a 500 KB id
 * in a signed notification must not make a 500 KB log line. Every such string is logged as a bounded excerpt that
 * says how much was cut. The logger passes every line through `boundLine`, so a value logged without calling
 * `excerpt` explicitly is still bounded.
 */
export const LOG_EXCERPT_CHARS = 512;

export function excerpt(value: string, max = LOG_EXCERPT_CHARS): string {
  if (value.length <= max) return value;
  return `${value.slice(0, max)}…[${value.length - max} more chars]`;
}

/** Bounds every string in a log object: arrays and plain objects are walked (to `depth`), lists capped to 100. */
export function excerptDeep(value: unknown, depth = 6): unknown {
  if (typeof value === 'string') return excerpt(value);
  if (depth <= 0 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const kept = value.slice(0, 100).map((v) => excerptDeep(v, depth - 1));
    return value.length > 100 ? [...kept, `…[${value.length - 100} more items]`] : kept;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  // Errors and class instances go through pino's serializers (the err serializer bounds its own strings).
  if (proto !== Object.prototype && proto !== null) return value;
  let changed = false;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const e = excerptDeep(v, depth - 1);
    if (e !== v) changed = true;
    out[k] = e;
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
