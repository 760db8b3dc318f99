/**
 * What a run reports: produced by the engines (src/sync/), recorded in sync_runs by src/db/queries/runs.ts, shown by
 * the commands and the status page. It sits below both layers (docs/ARCHITECTURE.md "Layers"); the counting helpers
 * are in src/sync/outcome.ts.
 *
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

export type RunKind = 'pull_contacts' | 'pull_companies' | 'push' | 'backfill' | 'verify' | 'webhook';
