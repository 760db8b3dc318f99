import { cpus, totalmem } from 'node:os';
import { fmt, type Figure } from './figures.ts';

export interface BenchResults {
  at: string;
  mode: 'quick' | 'full';
  machine: { cores: number; cpu: string; memoryMb: number; node: string; platform: string };
  postgres: { source: string; version: string };
  figures: Array<Omit<Figure, 'goal'> & { goal: string; meetsGoal: boolean }>;
  /** Scenarios that could not produce their figures, with the reason. */
  failures: Array<{ scenario: string; error: string }>;
}

export function machine(): BenchResults['machine'] {
  const list = cpus();
  return {
    cores: list.length,
    cpu: list[0]?.model ?? 'unknown',
    memoryMb: Math.round(totalmem() / 2 ** 20),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

export function toJsonFigures(figures: readonly Figure[]): BenchResults['figures'] {
  return figures.map((f) => ({ ...f, goal: f.goal.text, meetsGoal: f.goal.met(f.value) }));
}

/** A plain aligned table: console.table would quote every string and hide the goal beside the value. */
export function formatTable(figures: BenchResults['figures']): string {
  const rows = figures.map((f) => [
    f.label,
    `${fmt(f.value, Number.isInteger(f.value) ? 0 : Math.abs(f.value) < 10 ? 2 : 1)} ${f.unit}`.trim(),
    f.goal,
    f.meetsGoal ? 'yes' : 'NO',
    f.note ?? '',
  ]);
  const head = ['figure', 'value', 'goal', 'met', 'note'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 1 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Every figure a full set of scenarios reports (`npm run bench`, with or without --quick). */
export const EXPECTED_FIGURES: readonly string[] = [
  'requests_per_change.pull',
  'requests_per_change.backfill_matching',
  'requests_per_change.push',
  'requests_per_change.noop',
  'throughput.pull_contacts_per_second',
  'throughput.copy_rows_per_second',
  'throughput.pull_vs_copy',
  'throughput.changed_contacts_per_second',
  'throughput.changed_vs_copy',
  'latency.p50_ms',
  'latency.p95_ms',
  'budget.requests_per_minute',
  'budget.share',
  'budget.rate_limited',
  'status_page.render_ms',
  'status_page.load_render_ms',
];

/**
 * What makes a bench run incomplete, as sentences (empty when complete): a failed scenario, a figure missing, not
 * a number or without its goal, or a table line without the figure's goal. Values are never judged here: figures
 * are reported, not asserted. `expected` is EXPECTED_FIGURES unless --only picked scenarios.
 */
export function incompleteness(results: BenchResults, table: string, expected: readonly string[] | null): string[] {
  const problems = results.failures.map((f) => `scenario ${f.scenario} failed`);
  const ids = results.figures.map((f) => f.id);
  if (expected) {
    for (const id of expected) if (!ids.includes(id)) problems.push(`figure ${id} is missing`);
    for (const id of ids) if (!expected.includes(id)) problems.push(`figure ${id} is not in EXPECTED_FIGURES`);
  }
  const lines = table.split('\n');
  for (const f of results.figures) {
    if (!Number.isFinite(f.value)) problems.push(`figure ${f.id} is ${f.value}, not a number`);
    if (f.goal.length === 0) problems.push(`figure ${f.id} has no goal`);
    else if (!lines.some((l) => l.includes(f.label) && l.includes(f.goal))) problems.push(`figure ${f.id} is not printed with its goal`);
  }
  return problems;
}
