/**
 * Per-record outcomes are values, not exceptions: they flow into run counts, the audit log and the reports.
 * Infrastructure faults (database down, Intercom unreachable after retries) stay exceptions.
 */
export type Outcome =
  | 'created'
  | 'updated'
  | 'unchanged'
  | 'conflict'
  | 'merged'
  | 'deleted'
  | 'linked'
  | 'invalid'
  | 'failed'
  | 'skipped';

export type RunCounts = Partial<Record<Outcome, number>>;

export interface RunSummary {
  counts: RunCounts;
  /** Intercom requests this run spent (including retries). */
  requests: number;
  details?: Record<string, unknown>;
  /** Set when the run could not work because Intercom refuses the token: the reason, recorded as a 'halted' run. */
  halted?: string;
}

export function countOutcome(counts: RunCounts, outcome: Outcome, by = 1): void {
  counts[outcome] = (counts[outcome] ?? 0) + by;
}

export function mergeCounts(into: RunCounts, from: RunCounts): RunCounts {
  for (const [k, v] of Object.entries(from) as [Outcome, number][]) countOutcome(into, k, v);
  return into;
}

export type RunKind = 'pull_contacts' | 'pull_companies' | 'push' | 'backfill' | 'verify' | 'webhook';
