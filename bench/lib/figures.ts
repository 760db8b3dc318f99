/**
 * What every scenario hands back: one numeric figure per line of the table, with the goal it is read against.
 * Figures are reported, never asserted: a figure that misses its goal is news for the reader, not a crash.
 */
export interface Goal {
  /** How the goal reads in the table, e.g. "≤ 1,000 (minimum)" or "≥ 95 %". */
  text: string;
  /** Whether the measured value meets it. */
  met(value: number): boolean;
}

export interface Figure {
  /** Stable key for results.json and EXPECTED_FIGURES (bench/lib/report.ts), e.g. "requests_per_change.push". */
  id: string;
  label: string;
  value: number;
  unit: string;
  goal: Goal;
  /** Anything the reader needs to interpret the value (sample sizes, the baseline it was divided by). */
  note?: string;
}

export const atMost = (limit: number, text = `≤ ${fmt(limit)}`): Goal => ({ text, met: (v) => v <= limit });
export const atLeast = (limit: number, text = `≥ ${fmt(limit)}`): Goal => ({ text, met: (v) => v >= limit });
export const reportOnly = (text: string): Goal => ({ text, met: () => true });

export function fmt(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return String(n);
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}
