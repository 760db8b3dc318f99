/**
 * What a backfill needs: the pull engine's full pulls, the push engine's drain and dry-run plan, and a little
 * bookkeeping (src/db/queries/backfill.ts). Structural subsets of the engines, so tests and the CLI pass the real ones.
 */
import type { RunSummary } from '../outcome.ts';

export interface FullPullArgs {
  signal?: AbortSignal;
  resume?: boolean;
  dryRun?: boolean;
  onProgress?: (p: { done: number; total: number | null }) => void;
  runId?: number | null;
}

export interface BackfillPullPort {
  fullPullContacts(o: FullPullArgs): Promise<RunSummary>;
  fullPullCompanies(o: FullPullArgs): Promise<RunSummary>;
}

/** The push engine's dry run: what it would send for the pending outbox (and unlinked rows), and the cost. */
export type { PushPlan } from '../push/plan.ts';
import type { PushPlan } from '../push/plan.ts';

export interface BackfillPushPort {
  drainOnce(a: { signal: AbortSignal; runId: number }): Promise<RunSummary>;
  /** Covers the whole outbox (the push engine's plan has no entity filter). */
  plan(o: { includeUnlinked: boolean }): Promise<PushPlan>;
}

export interface BackfillStorePort {
  /** Session lock so only one backfill runs per schema; null if another process holds it. */
  tryLock(): Promise<{ release(): Promise<void> } | null>;
  /** Closes backfill runs a killed process left 'running' (safe: we hold the lock, so none is alive). */
  abandonRunning(): Promise<number>;
  startRun(details: Record<string, unknown>): Promise<number>;
  /** Records in the run that a phase completed, so that `--resume` after a kill does not repeat it. */
  markPhaseDone(runId: number, phase: string): Promise<void>;
  /** Phases the latest backfill completed, if it was interrupted (aborted/failed) over the same entity and direction. */
  phasesDoneByInterruptedRun(scope: { entity: string; direction: string }): Promise<string[]>;
  finishRun(id: number, status: 'succeeded' | 'failed' | 'aborted', summary: RunSummary, error?: string): Promise<void>;
  /** Local rows with no mapping get a pending outbox entry (the push then creates or links them). */
  enqueueUnlinked(entity: 'contact' | 'company' | undefined): Promise<number>;
  /** Pending outbox entries for the entity (undefined = all), and how many are due now. */
  outboxPending(entity: 'contact' | 'company' | undefined): Promise<{ pending: number; due: number }>;
}
