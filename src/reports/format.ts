export type ReportFormat = 'table' | 'csv' | 'json';

export const REPORT_FORMATS: readonly ReportFormat[] = ['table', 'csv', 'json'];

export interface Tabular {
  columns: readonly string[];
  rows: readonly Record<string, unknown>[];
}

/** Output ends with a newline; `json` is one array of objects (timestamps in ISO 8601, UTC). */
export function formatReport(data: Tabular, format: ReportFormat, opts: { maxCellWidth?: number } = {}): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(data.rows.map((r) => pick(r, data.columns)), null, 2)}\n`;
    case 'csv':
      return `${[data.columns.map(csvCell), ...data.rows.map((r) => data.columns.map((c) => csvCell(cellText(r[c]))))].map((l) => l.join(',')).join('\r\n')}\r\n`;
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

function pick(row: Record<string, unknown>, columns: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(columns.map((c) => [c, row[c] ?? null]));
}

function csvCell(s: string): string {
  return /[",\r\n]/.test(s) || s !== s.trim() ? `"${s.replaceAll('"', '""')}"` : s;
}

function table(data: Tabular, maxWidth: number): string {
  if (data.rows.length === 0) return `${data.columns.join('  ')}\n(no rows)\n`;
  const cells = data.rows.map((r) => data.columns.map((c) => clip(cellText(r[c]).replace(/\s+/g, ' '), maxWidth)));
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
