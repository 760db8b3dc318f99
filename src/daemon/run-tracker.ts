import type { Logger } from 'pino';
import type { Pool } from '../db/client.ts';
import { IntercomAuthError } from '../errors.ts';
import { runQueries } from '../db/queries/runs.ts';
import type { RunKind, RunSummary } from '../sync/outcome.ts';

/**
 * Records every piece of daemon work in sync_runs: a row when it starts, its counts or error when it ends. The
 * replica id goes into the row's details, so an operator (and the leader tests) can see which process did the work.
 */
/** 'halted': Intercom refused the access token, so the run could not work (it is neither a success nor a bug). */
export type RunStatus = 'succeeded' | 'failed' | 'aborted' | 'halted';

export interface RunContext {
  runId: number;
  signal: AbortSignal;
}

export interface FinishedRun {
  kind: RunKind;
  /** The sync_runs row; null when even its start could not be recorded. */
  runId: number | null;
  status: RunStatus;
  /** null when only the end of the run was observed (push loop rounds). */
  durationSeconds: number | null;
  summary: RunSummary;
  /** Why the run failed or was aborted (or why it could not be recorded), for a caller that must report it. */
  error?: unknown;
}

export interface RunTracker {
  /** Never rejects: failures are logged with their cause and recorded; the result says how it went. */
  track(
    kind: RunKind,
    signal: AbortSignal,
    work: (ctx: RunContext) => Promise<RunSummary>,
    details?: Record<string, unknown>,
  ): Promise<FinishedRun>;
  /**
   * Records a run that happened elsewhere and reported only its result: the push engine's continuous loop calls
   * back after each round that did something. Never rejects.
   */
  recordCompleted(kind: RunKind, summary: RunSummary, details?: Record<string, unknown>): Promise<void>;
  /** Closes runs a dead process left 'running'; only for a caller holding the lock those runs ran under. */
  abandonRunning(kind?: RunKind): Promise<number>;
}

export interface RunTrackerOptions {
  pool: Pool;
  schema: string;
  replicaId: string;
  logger: Logger;
  onFinished?: (run: FinishedRun) => void;
}

const EMPTY: RunSummary = { counts: {}, requests: 0 };

export function createRunTracker(opts: RunTrackerOptions): RunTracker {
  const runs = runQueries(opts.schema);
  return {
    abandonRunning: (kind) => runs.abandonRunning(opts.pool, kind ? { kind } : {}),
    async recordCompleted(kind, summary, details = {}) {
      try {
        const runId = await runs.start(opts.pool, kind, { ...details, replica: opts.replicaId });
        const failed = (summary.counts.failed ?? 0) > 0 && Object.keys(summary.counts).length === 1;
        const status: RunStatus = summary.halted ? 'halted' : failed ? 'failed' : 'succeeded';
        await runs.finish(opts.pool, runId, status, summary, summary.halted);
        const run: FinishedRun = { kind, runId, status, durationSeconds: null, summary };
        opts.onFinished?.(run);
      } catch (err) {
        opts.logger.error({ err, kind }, 'could not record a completed run');
      }
    },
    async track(kind, signal, work, details = {}) {
      const log = opts.logger.child({ module: 'runs', kind });
      const started = performance.now();
      let runId: number;
      try {
        runId = await runs.start(opts.pool, kind, { ...details, replica: opts.replicaId });
      } catch (err) {
        log.error({ err }, 'could not record the start of a run; skipping it');
        return report(kind, null, 'failed', started, EMPTY, err);
      }
      const runLog = log.child({ run: runId });
      let status: RunStatus = 'succeeded';
      let summary: RunSummary = EMPTY;
      let error: string | undefined;
      let cause: unknown;
      try {
        summary = await work({ runId, signal });
        if (signal.aborted) status = 'aborted';
        else if (summary.halted) {
          status = 'halted';
          error = summary.halted;
        }
      } catch (err) {
        status = signal.aborted ? 'aborted' : err instanceof IntercomAuthError ? 'halted' : 'failed';
        cause = err;
        error = err instanceof Error ? err.message : String(err);
        if (status === 'failed') runLog.error({ err }, 'run failed');
        else if (status === 'halted') runLog.warn({ error }, 'run halted: Intercom refuses the access token');
        else runLog.warn({ err }, 'run aborted by shutdown');
      }
      try {
        await runs.finish(opts.pool, runId, status, summary, error);
      } catch (err) {
        runLog.error({ err }, 'could not record the end of a run');
      }
      const finished = report(kind, runId, status, started, summary, cause);
      runLog.info(
        { status, counts: summary.counts, requests: summary.requests, seconds: finished.durationSeconds },
        'run finished',
      );
      return finished;
    },
  };

  function report(kind: RunKind, runId: number | null, status: RunStatus, started: number, summary: RunSummary, error?: unknown): FinishedRun {
    const run: FinishedRun = { kind, runId, status, durationSeconds: (performance.now() - started) / 1000, summary };
    if (error !== undefined) run.error = error;
    try {
      opts.onFinished?.(run);
    } catch (err) {
      opts.logger.warn({ err }, 'run observer failed');
    }
    return run;
  }
}
