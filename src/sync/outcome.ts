/** Counting per-record outcomes into a run's counts. The types are the run contract in src/contract/run.ts. */
import type { Outcome, RunCounts } from '../contract/run.ts';

export type { Outcome, RunCounts, RunKind, RunSummary } from '../contract/run.ts';

export function countOutcome(counts: RunCounts, outcome: Outcome, by = 1): void {
  counts[outcome] = (counts[outcome] ?? 0) + by;
}

export function mergeCounts(into: RunCounts, from: RunCounts): RunCounts {
  for (const [k, v] of Object.entries(from) as [Outcome, number][]) countOutcome(into, k, v);
  return into;
}
