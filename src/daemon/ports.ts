import type { RunSummary } from '../sync/outcome.ts';
import type { Listen } from '../db/listen.ts';

/**
 * What the daemon needs from the sync engines, as narrow as it gets. The engines satisfy these structurally; the
 * composition root (src/main.ts) plugs them in.
 */
export interface RunArgs {
  signal: AbortSignal;
  runId: number;
}

export interface DaemonPullPort {
  pullContacts(a: RunArgs): Promise<RunSummary>;
  pullCompanies(a: RunArgs): Promise<RunSummary>;
  pullContactsByIds(ids: string[], a?: RunArgs): Promise<RunSummary>;
  pullCompaniesByIds(ids: string[], a?: RunArgs): Promise<RunSummary>;
}

export interface DaemonPushPort {
  drainOnce(a: RunArgs): Promise<RunSummary>;
  /** Returns once the signal fires (after handing back what it claimed). */
  runLoop(a: { signal: AbortSignal; listen: Listen; pollIntervalMs: number; onRun?: (summary: RunSummary) => void }): Promise<void>;
  /** The auth error that stopped pushing, if any. */
  isHalted(): Error | null;
}

export interface DaemonVerifyPort {
  verify(a: RunArgs & { budget: number }): Promise<RunSummary>;
}
