import { escapeHtml } from './escape.ts';

/**
 * A hand-rolled time-series chart as inline SVG: no script, no external asset, so the status page works offline,
 * under a strict Content-Security-Policy, and as a file saved from `intercom-sync report overview --format html`.
 */
export interface ChartSeries {
  label: string;
  color: string;
  /** One value per slot, oldest first; null = no data (drawn as a gap). */
  values: readonly (number | null)[];
  style: 'line' | 'bars';
}

export interface ChartOptions {
  title: string;
  /** Time of the first slot and slot width: x positions and the hour labels. */
  start: Date;
  slotMs: number;
  series: readonly ChartSeries[];
  /** A dashed horizontal line, such as the rate budget. */
  reference?: { value: number; label: string };
  width?: number;
  height?: number;
}

const PAD = { left: 52, right: 16, top: 28, bottom: 26 };
const TICK_STEPS_MINUTES = [5, 10, 15, 30, 60, 180, 360];

export function timeChart(opts: ChartOptions): string {
  const width = opts.width ?? 1200;
  const height = opts.height ?? 190;
  const slots = Math.max(1, ...opts.series.map((s) => s.values.length));
  const plotW = width - PAD.left - PAD.right;
  const plotH = height - PAD.top - PAD.bottom;
  const dataMax = Math.max(0, ...opts.series.flatMap((s) => s.values.filter((v): v is number => v !== null)));
  const yMax = niceCeil(Math.max(dataMax, opts.reference?.value ?? 0, 1));
  const x = (i: number) => PAD.left + (i / slots) * plotW;
  const y = (v: number) => PAD.top + plotH - (v / yMax) * plotH;
  const f = (n: number) => n.toFixed(1);

  const parts: string[] = [];
  // Horizontal grid and y labels at 0, ½ and the top.
  for (const v of [0, yMax / 2, yMax]) {
    parts.push(`<line x1="${PAD.left}" x2="${width - PAD.right}" y1="${f(y(v))}" y2="${f(y(v))}" class="grid"/>`);
    parts.push(`<text x="${PAD.left - 6}" y="${f(y(v) + 4)}" text-anchor="end" class="axis">${escapeHtml(compact(v))}</text>`);
  }
  // Time labels (UTC) along the bottom: the finest round step that gives at most eight.
  const end = opts.start.getTime() + slots * opts.slotMs;
  const step = TICK_STEPS_MINUTES.map((m) => m * 60_000).find((ms) => (end - opts.start.getTime()) / ms <= 8) ?? 6 * 3_600_000;
  for (let t = Math.ceil(opts.start.getTime() / step) * step; t <= end; t += step) {
    const px = x((t - opts.start.getTime()) / opts.slotMs);
    parts.push(`<line x1="${f(px)}" x2="${f(px)}" y1="${PAD.top}" y2="${PAD.top + plotH}" class="grid"/>`);
    parts.push(`<text x="${f(px)}" y="${height - 8}" text-anchor="middle" class="axis">${new Date(t).toISOString().slice(11, 16)}</text>`);
  }
  for (const s of opts.series) {
    if (s.style === 'bars') {
      const w = Math.max(1, plotW / slots);
      s.values.forEach((v, i) => {
        if (v === null || v <= 0) return;
        parts.push(`<rect x="${f(x(i))}" y="${f(y(v))}" width="${f(w)}" height="${f(PAD.top + plotH - y(v))}" fill="${escapeHtml(s.color)}"/>`);
      });
    } else {
      for (const run of contiguous(s.values)) {
        const points = run.map(([i, v]) => `${f(x(i + 0.5))},${f(y(v))}`).join(' ');
        parts.push(`<polyline points="${points}" fill="none" stroke="${escapeHtml(s.color)}" stroke-width="1.5" stroke-linejoin="round"/>`);
      }
    }
  }
  if (opts.reference) {
    const ry = f(y(opts.reference.value));
    parts.push(`<line x1="${PAD.left}" x2="${width - PAD.right}" y1="${ry}" y2="${ry}" class="budget"/>`);
    parts.push(`<text x="${width - PAD.right - 4}" y="${f(y(opts.reference.value) - 5)}" text-anchor="end" class="budget-label">${escapeHtml(opts.reference.label)}</text>`);
  }
  const legend = opts.series
    .map((s, i) => `<rect x="${PAD.left + i * 170}" y="8" width="10" height="10" fill="${escapeHtml(s.color)}"/><text x="${PAD.left + 15 + i * 170}" y="17" class="legend">${escapeHtml(s.label)}</text>`)
    .join('');
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="${escapeHtml(opts.title)}">` +
    `<title>${escapeHtml(opts.title)}</title>${legend}` +
    `<rect x="${PAD.left}" y="${PAD.top}" width="${plotW}" height="${plotH}" class="plot"/>${parts.join('')}</svg>`
  );
}

/** Runs of consecutive non-null values, so a gap in the data is a gap in the line. */
function contiguous(values: readonly (number | null)[]): [number, number][][] {
  const runs: [number, number][][] = [];
  let current: [number, number][] = [];
  values.forEach((v, i) => {
    if (v === null) {
      if (current.length) runs.push(current);
      current = [];
    } else current.push([i, v]);
  });
  if (current.length) runs.push(current);
  return runs;
}

/** 1, 2 or 5 times a power of ten at or above n: round axis labels. */
export function niceCeil(n: number): number {
  const p = 10 ** Math.floor(Math.log10(n));
  return ([1, 2, 5, 10].map((m) => m * p).find((c) => c >= n) ?? 10 * p);
}

function compact(n: number): string {
  if (n >= 1_000_000) return `${+(n / 1_000_000).toFixed(1)}M`;
  if (n >= 1_000) return `${+(n / 1_000).toFixed(1)}k`;
  return String(+n.toFixed(1));
}
