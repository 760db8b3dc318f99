import type { ReportName } from '../db/queries/reports.ts';
import type { StatusSnapshot } from '../db/queries/status.ts';
import { boundedText, type Tabular } from './format.ts';
import { excerpt, TEXT_EXCERPT_CHARS } from '../log-excerpt.ts';
import { escapeHtml, maskEmails } from './escape.ts';
import { timeChart } from './svg-chart.ts';

/**
 * The status page (served at `/` by src/http/status-page.ts, written by `intercom-sync report overview --format
 * html`) and the HTML form of every other report. Server-rendered from the report views: no script, no external
 * asset. Every value is escaped; personal data (emails, external keys, field values) is hidden unless `pii`.
 */
export interface HtmlOptions {
  /** LOG_PII: show emails, external keys and changed values. */
  pii: boolean;
  /** INTERCOM_RATE_LIMIT_PER_MINUTE, drawn on the requests chart. */
  budgetPerMinute: number;
  /** Seconds between automatic reloads; omitted in a saved file. */
  refreshSeconds?: number;
  schema: string;
}

/** Thresholds for a stream's badge; the alert rules in deploy/prometheus/alerts.yaml use the same figures. */
export const HEALTH_THRESHOLDS = { pullLagSeconds: 900, pushLagSeconds: 300 } as const;

type Health = 'ok' | 'idle' | 'attention' | 'lagging' | 'failing';
const HEALTH_RANK: Record<Health, number> = { idle: 0, ok: 1, attention: 2, lagging: 3, failing: 4 };

/** Columns that carry personal data, shown only with LOG_PII=true (same rule as the logs: src/logger.ts). */
const PII_COLUMNS = new Set(['email', 'external_key', 'key', 'external_ids', 'changes', 'details']);
/** Free-text columns, which may quote an email. */
const TEXT_COLUMNS = new Set(['reason', 'last_error', 'status_reason', 'error']);
const HIDDEN = '<span class="hidden" title="personal data: set LOG_PII=true to show">hidden</span>';

export function streamHealth(row: Record<string, unknown>): Health {
  const stream = String(row.stream);
  const lag = typeof row.lag_seconds === 'number' ? row.lag_seconds : null;
  if (row.last_run_status === 'failed' || row.last_run_status === 'aborted') return 'failing';
  if (stream.startsWith('pull:') && lag !== null && lag > HEALTH_THRESHOLDS.pullLagSeconds) return 'lagging';
  if (stream.startsWith('push:') && lag !== null && lag > HEALTH_THRESHOLDS.pushLagSeconds) return 'lagging';
  if (typeof row.dead_letters === 'number' && row.dead_letters > 0) return 'attention';
  if (row.last_run_at === null && !(typeof row.outbox_depth === 'number' && row.outbox_depth > 0)) return 'idle';
  return 'ok';
}

export function renderStatusPage(s: StatusSnapshot, opts: HtmlOptions): string {
  const streams = s.overview.rows;
  const health = streams.map(streamHealth);
  const overall = health.reduce<Health>((worst, h) => (HEALTH_RANK[h] > HEALTH_RANK[worst] ? h : worst), 'idle');
  const push = streams.filter((r) => String(r.stream).startsWith('push:'));
  const depth = sum(push.map((r) => num(r.outbox_depth)));
  const oldest = Math.max(0, ...push.map((r) => num(r.lag_seconds)));
  const requests = sum(s.samples.map((x) => x.requests));
  const limited = sum(s.samples.map((x) => x.rate_limited));
  const peak = Math.max(0, ...s.samples.map((x) => x.requests));

  const cards = [
    card('Health', `<span class="badge ${overall}">${overall}</span>`, `${streams.filter((_, i) => health[i] !== 'idle').length} active streams`),
    card('Outbox', fmtInt(depth), depth > 0 ? `pending, oldest ${fmtAge(oldest)}` : 'nothing waiting'),
    card('Dead letters', fmtInt(s.deadLetters.total), s.retrying > 0 ? `${fmtInt(s.retrying)} more retrying` : 'need an operator when > 0', s.deadLetters.total > 0 ? 'warn' : ''),
    card(`Requests, ${s.hours} h`, fmtInt(requests), `peak ${fmtInt(peak)}/min of ${fmtInt(opts.budgetPerMinute)}/min budget`),
    card(`429s, ${s.hours} h`, fmtInt(limited), limited > 0 ? 'Intercom said slow down' : 'never rate-limited', limited > 0 ? 'warn' : ''),
    card(`Conflicts, ${s.hours} h`, fmtInt(s.conflicts.total), 'resolved by CONFLICT_POLICY'),
    card(`Merges, ${s.hours} h`, fmtInt(s.merges.total), 'done or requested'),
  ].join('');

  const body = [
    `<section class="cards">${cards}</section>`,
    section('Streams', streamsTable(streams, health, opts)),
    section('Intercom requests per minute', charts(s, opts), `against the budget of ${fmtInt(opts.budgetPerMinute)} per minute (INTERCOM_RATE_LIMIT_PER_MINUTE), last ${s.hours === 1 ? 'hour' : `${s.hours} hours`}, UTC`),
    section(`Dead letters (${fmtInt(s.deadLetters.total)})`, deadLettersTable(s, opts), 'outbox entries out of attempts: fix the cause, then run the requeue command'),
    section(`Conflicts in the last ${s.hours} hours (${fmtInt(s.conflicts.total)})`, conflictsTable(s, opts), 'fields changed on both sides since the last agreed snapshot'),
    section(`Merges in the last ${s.hours} hours (${fmtInt(s.merges.total)})`, mergesTable(s, opts), 'contacts merged in Intercom, and lead → user merges still requested'),
    section(`Invalid records in the last ${s.hours} hours (${fmtInt(s.invalid.total)})`, invalidTable(s, opts), 'records not applied: unreadable, refused by the database, or dated in the future'),
  ].join('');
  return page('intercom-sync status', `${body}`, s.at, opts, overall);
}

/** Any other report as a page: the view's columns and rows, with the same escaping and PII rule. */
export function renderReportPage(name: ReportName, data: Tabular, at: Date, opts: HtmlOptions): string {
  return page(`intercom-sync report: ${name}`, section(`${name} (${fmtInt(data.rows.length)} rows)`, table(data.columns, data.rows.map((r) => data.columns.map((c) => cell(c, r[c], opts))))), at, opts, null);
}

function charts(s: StatusSnapshot, opts: HtmlOptions): string {
  const minute = 60_000;
  const slots = s.hours * 60;
  const endMinute = Math.floor(s.at.getTime() / minute);
  const start = new Date((endMinute - slots + 1) * minute);
  const requests: (number | null)[] = new Array<number | null>(slots).fill(0);
  // 429s are rare and bursty: one bar per minute over a short window, per 10 minutes over a day.
  const bucket = s.hours <= 3 ? 1 : 10;
  const limited: number[] = new Array<number>(Math.ceil(slots / bucket)).fill(0);
  const depth: (number | null)[] = new Array<number | null>(slots).fill(null);
  // Before the first sample nothing was recording (no process ran, or the table is new): a gap, not zero requests.
  const first = s.samples[0] ? Math.floor(new Date(s.samples[0].minute).getTime() / minute) - (endMinute - slots + 1) : slots;
  requests.fill(null, 0, Math.max(0, Math.min(slots, first)));
  for (const x of s.samples) {
    const i = Math.floor(new Date(x.minute).getTime() / minute) - (endMinute - slots + 1);
    if (i < 0 || i >= slots) continue;
    requests[i] = x.requests;
    limited[Math.floor(i / bucket)] = (limited[Math.floor(i / bucket)] ?? 0) + x.rate_limited;
    if (x.outbox_depth !== null) depth[i] = x.outbox_depth;
  }
  return [
    timeChart({
      title: 'Intercom requests per minute',
      start,
      slotMs: minute,
      series: [{ label: 'requests / minute', color: '#2563eb', values: requests, style: 'line' }],
      reference: { value: opts.budgetPerMinute, label: `budget ${opts.budgetPerMinute}/min` },
    }),
    timeChart({
      title: `429 answers per ${bucket === 1 ? 'minute' : `${bucket} minutes`}`,
      start,
      slotMs: bucket * minute,
      series: [{ label: `429s / ${bucket === 1 ? 'minute' : `${bucket} minutes`}`, color: '#dc2626', values: limited, style: 'bars' }],
      height: 150,
    }),
    timeChart({
      title: 'Outbox depth (pending entries)',
      start,
      slotMs: minute,
      series: [{ label: 'outbox depth', color: '#7c3aed', values: depth, style: 'line' }],
      height: 150,
    }),
  ].join('');
}

function streamsTable(rows: Record<string, unknown>[], health: Health[], opts: HtmlOptions): string {
  const head = ['stream', 'health', 'last run', 'last success', 'lag', 'watermark', 'outbox', 'oldest pending', 'dead', 'last error'];
  const body = rows.map((r, i) => {
    const push = String(r.stream).startsWith('push:');
    return [
      `<code>${esc(r.stream)}</code>${r.in_progress === true ? ' <span class="note">resuming</span>' : ''}`,
      `<span class="badge ${health[i]}">${health[i]}</span>`,
      r.last_run_at ? `${fmtTime(r.last_run_at)} <span class="note">${esc(r.last_run_status)}</span>` : '<span class="note">never</span>',
      fmtTime(r.last_success_at),
      push ? '' : fmtAge(r.lag_seconds),
      fmtTime(r.watermark),
      push ? fmtInt(num(r.outbox_depth)) : '',
      push && num(r.outbox_depth) > 0 ? fmtAge(r.lag_seconds) : '',
      push ? fmtInt(num(r.dead_letters)) : '',
      cell('last_error', r.last_error, opts),
    ];
  });
  return table(head, body, health.map((h) => (h === 'idle' ? 'idle' : '')));
}

function deadLettersTable(s: StatusSnapshot, opts: HtmlOptions): string {
  if (s.deadLetters.total === 0) return '<p class="empty">No dead letters.</p>';
  const rows = s.deadLetters.rows.map((r) => [
    fmtTime(r.at),
    esc(r.entity_type),
    esc(r.local_id),
    esc(r.operation),
    esc(r.attempts),
    cell('reason', r.reason, opts),
    `<code>intercom-sync requeue --entity ${esc(r.entity_type)} --id ${esc(r.local_id)}</code>`,
  ]);
  return (
    table(['at', 'entity', 'local id', 'operation', 'attempts', 'reason', 'requeue'], rows) +
    more(s.deadLetters.total, rows.length, 'intercom-sync report errors') +
    `<p class="note">All at once: <code>intercom-sync requeue</code> (or <code>--entity contact</code>).</p>`
  );
}

function conflictsTable(s: StatusSnapshot, opts: HtmlOptions): string {
  if (s.conflicts.total === 0) return '<p class="empty">No conflicts.</p>';
  const rows = s.conflicts.rows.map((r) => [
    fmtTime(r.at),
    esc(r.entity_type),
    esc(r.local_id),
    cell('external_key', r.external_key, opts),
    (Array.isArray(r.fields) ? r.fields : []).slice(0, 100).map((f) => `<code>${esc(f)}</code>`).join(' '),
    esc(r.policy ?? 'ambiguous'),
    esc(r.winner),
    esc(r.mapping_status),
  ]);
  return table(['at', 'entity', 'local id', 'key', 'fields', 'policy', 'winner', 'mapping'], rows) + more(s.conflicts.total, rows.length, 'intercom-sync report conflicts');
}

function invalidTable(s: StatusSnapshot, opts: HtmlOptions): string {
  if (s.invalid.total === 0) return '<p class="empty">No invalid records.</p>';
  const rows = s.invalid.rows.map((r) => [fmtTime(r.at), esc(r.entity_type), esc(r.local_id), intercomId(r.intercom_id), cell('reason', r.reason, opts)]);
  return table(['at', 'entity', 'local id', 'intercom id', 'reason'], rows) + more(s.invalid.total, rows.length, 'intercom-sync report errors');
}

function mergesTable(s: StatusSnapshot, opts: HtmlOptions): string {
  if (s.merges.total === 0) return '<p class="empty">No merges.</p>';
  const rows = s.merges.rows.map((r) => [
    fmtTime(r.at),
    esc(r.state),
    esc(r.entity_type),
    esc(r.local_id),
    cell('external_key', r.external_key, opts),
    `${intercomId(r.from_intercom_id)} → ${intercomId(r.into_intercom_id)}`,
    esc(r.into_local_id),
    cell('reason', r.reason, opts),
  ]);
  return table(['at', 'state', 'entity', 'local id', 'key', 'Intercom ids', 'into local id', 'reason'], rows) + more(s.merges.total, rows.length, 'intercom-sync report merges');
}

/**
 * Any value shown, escaped. Values come from applications' rows, Intercom and error messages, so each is cut to an
 * excerpt before it is escaped: a megabyte error must cost the page what 2,000 characters cost.
 */
function esc(value: unknown): string {
  return escapeHtml(excerpt(String(value ?? ''), TEXT_EXCERPT_CHARS));
}

/**
 * One escaped cell; personal columns hidden and emails masked in free text unless LOG_PII=true. The text is cut to
 * an excerpt first, so masking and escaping only ever see a bounded string.
 */
function cell(column: string, value: unknown, opts: HtmlOptions): string {
  if (value === null || value === undefined || value === '') return '';
  if (!opts.pii && PII_COLUMNS.has(column)) return HIDDEN;
  if (value instanceof Date) return fmtTime(value);
  const mask = !opts.pii && TEXT_COLUMNS.has(column);
  return escapeHtml(boundedText(value, mask ? (kept, cut) => maskEmails(kept, { cut }) : undefined));
}

function table(head: readonly string[], rows: readonly (readonly string[])[], rowClasses: readonly string[] = []): string {
  if (rows.length === 0) return '<p class="empty">No rows.</p>';
  const th = head.map((h) => `<th>${esc(h)}</th>`).join('');
  const tr = rows
    .map((r, i) => `<tr${rowClasses[i] ? ` class="${esc(rowClasses[i])}"` : ''}>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`)
    .join('');
  return `<div class="scroll"><table><thead><tr>${th}</tr></thead><tbody>${tr}</tbody></table></div>`;
}

function more(total: number, shown: number, command: string): string {
  return total > shown ? `<p class="note">${fmtInt(shown)} of ${fmtInt(total)} shown; all of them: <code>${esc(command)}</code></p>` : '';
}

function card(title: string, value: string, note: string, cls = ''): string {
  return `<div class="card ${esc(cls)}"><div class="card-title">${esc(title)}</div><div class="card-value">${value}</div><div class="note">${esc(note)}</div></div>`;
}

function section(title: string, content: string, note?: string): string {
  return `<section><h2>${esc(title)}</h2>${note ? `<p class="note">${esc(note)}</p>` : ''}${content}</section>`;
}

function page(title: string, body: string, at: Date, opts: HtmlOptions, overall: Health | null): string {
  const refresh = opts.refreshSeconds ? `<meta http-equiv="refresh" content="${Math.max(5, Math.trunc(opts.refreshSeconds))}">` : '';
  const footer = [
    `Read-only. From the report views in schema <code>${esc(opts.schema)}</code> (docs/reports.md).`,
    opts.pii ? 'Personal data shown (LOG_PII=true).' : 'Personal data hidden (LOG_PII=false).',
    opts.refreshSeconds ? `Reloads every ${Math.trunc(opts.refreshSeconds)} s.` : '',
  ].join(' ');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">${refresh}<title>${overall ? `[${esc(overall)}] ` : ''}${esc(title)}</title>
<style>${CSS}</style></head>
<body><header><h1>${esc(title)}</h1><div class="generated">${esc(fmtTime(at))}</div></header>
<main>${body}</main><footer>${footer}</footer></body></html>
`;
}

function intercomId(v: unknown): string {
  return v === null || v === undefined || v === '' ? '<span class="note">unknown</span>' : `<code>${esc(v)}</code>`;
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function fmtInt(n: number): string {
  return esc(Math.round(n).toLocaleString('en-US'));
}

/** ISO timestamps without milliseconds, in UTC like every report. */
export function fmtTime(v: unknown): string {
  if (v === null || v === undefined) return '';
  const d = v instanceof Date ? v : new Date(String(v));
  if (Number.isNaN(d.getTime())) return esc(v);
  return esc(`${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`);
}

/** 45s, 12m 03s, 5h 07m, 3d 04h. */
export function fmtAge(v: unknown): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '';
  const s = Math.max(0, Math.round(v));
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${pad(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86_400)}d ${pad(Math.floor((s % 86_400) / 3600))}h`;
}

const CSS = `
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2937;background:#f3f4f6}
header{display:flex;justify-content:space-between;align-items:baseline;padding:14px 24px;background:#111827;color:#f9fafb}
h1{margin:0;font-size:18px;font-weight:600}
.generated{color:#9ca3af;font-size:13px}
main{padding:16px 24px;max-width:1280px;margin:0 auto}
section{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:14px 16px;margin:0 0 14px}
section.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px;background:none;border:0;padding:0}
h2{margin:0 0 4px;font-size:15px}
.card{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:10px 12px}
.card.warn{border-color:#f59e0b;background:#fffbeb}
.card-title{font-size:12px;color:#6b7280;text-transform:uppercase;letter-spacing:.03em}
.card-value{font-size:24px;font-weight:600;margin:2px 0}
.note{color:#6b7280;font-size:12px;margin:2px 0 8px}
td .note{margin:0}
.empty{color:#6b7280;margin:6px 0}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:13px}
th{text-align:left;font-weight:600;color:#4b5563;border-bottom:2px solid #e5e7eb;padding:5px 8px;white-space:nowrap}
td{border-bottom:1px solid #f3f4f6;padding:5px 8px;vertical-align:top;overflow-wrap:break-word}
td code,.badge{white-space:nowrap}
tr.idle td{color:#9ca3af}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;background:#f3f4f6;padding:1px 4px;border-radius:4px}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600}
.badge.ok{background:#dcfce7;color:#166534}.badge.idle{background:#f3f4f6;color:#6b7280}
.badge.attention{background:#fef3c7;color:#92400e}.badge.lagging{background:#ffedd5;color:#9a3412}
.badge.failing{background:#fee2e2;color:#991b1b}
.hidden{color:#9ca3af;font-style:italic}
svg{display:block;margin:4px 0 10px}
svg .plot{fill:#fafafa;stroke:#e5e7eb}svg .grid{stroke:#e5e7eb;stroke-width:1}
svg .axis,svg .legend,svg .budget-label{font:11px system-ui,sans-serif;fill:#6b7280}
svg .legend{fill:#374151}svg .budget{stroke:#f59e0b;stroke-width:1.5;stroke-dasharray:6 4}svg .budget-label{fill:#b45309}
footer{color:#6b7280;font-size:12px;padding:0 24px 24px;max-width:1280px;margin:0 auto}
`;
