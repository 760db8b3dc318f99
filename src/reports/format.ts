import { excerpt, excerptDeep, TEXT_EXCERPT_CHARS } from '../log-excerpt.ts';

export type ReportFormat = 'table' | 'csv' | 'json';

export const REPORT_FORMATS: readonly ReportFormat[] = ['table', 'csv', 'json'];

export interface Tabular {
  columns: readonly string[];
  rows: readonly Record<string, unknown>[];
}

/**
 * Output ends with a newline; `json` is one array of objects (timestamps in ISO 8601, UTC). Every value is cut to an
 * excerpt of TEXT_EXCERPT_CHARS (strings inside objects too) before anything else is done with it: error messages
 * and attribute names come from outside, and a report must cost the same for a megabyte value as for a short one.
 */
export function formatReport(data: Tabular, format: ReportFormat, opts: { maxCellWidth?: number } = {}): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(data.rows.map((r) => pick(r, data.columns)), null, 2)}\n`;
    case 'csv':
      return `${[data.columns.map(csvCell), ...data.rows.map((r) => data.columns.map((c) => csvCell(boundedText(r[c]))))].map((l) => l.join(',')).join('\r\n')}\r\n`;
    case 'table':
      return table(data, opts.maxCellWidth ?? 60);
  }
}

/** Plain text for one value: '' for null, ISO for timestamps, JSON for arrays and objects. */
export function cellText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/**
 * cellText cut to an excerpt: the strings of an object are cut before it is serialised, then the text itself.
 * `process` (masking, for one) sees only the kept part, as with `excerpt`.
 */
export function boundedText(v: unknown, process?: (kept: string, cut: boolean) => string): string {
  const bounded = typeof v === 'object' && v !== null && !(v instanceof Date) ? excerptDeep(v, 6, TEXT_EXCERPT_CHARS) : v;
  return excerpt(cellText(bounded), TEXT_EXCERPT_CHARS, process);
}

function pick(row: Record<string, unknown>, columns: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(columns.map((c) => [c, excerptDeep(row[c] ?? null, 6, TEXT_EXCERPT_CHARS)]));
}

function csvCell(s: string): string {
  return /[",\r\n]/.test(s) || s !== s.trim() ? `"${s.replaceAll('"', '""')}"` : s;
}

function table(data: Tabular, maxWidth: number): string {
  if (data.rows.length === 0) return `${data.columns.join('  ')}\n(no rows)\n`;
  const cells = data.rows.map((r) => data.columns.map((c) => clip(boundedText(r[c]).replace(/\s+/g, ' '), maxWidth)));
  const widths = data.columns.map((c, i) => Math.max(c.length, ...cells.map((row) => [...(row[i] ?? '')].length)));
  const numeric = data.columns.map((c) => data.rows.every((r) => r[c] === null || r[c] === undefined || typeof r[c] === 'number'));
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => {
        const fill = ' '.repeat(Math.max(0, (widths[i] ?? 0) - [...v].length));
        return numeric[i] ? fill + v : v + fill;
      })
      .join('  ')
      .trimEnd();
  return `${[line(data.columns), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n')}\n`;
}

function clip(s: string, max: number): string {
  const chars = [...s];
  return chars.length <= max ? s : `${chars.slice(0, max - 1).join('')}…`;
}
