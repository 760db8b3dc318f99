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
