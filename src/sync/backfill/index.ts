/**
 * Backfill: bring a whole workspace and the local tables into agreement. Pull first — a full listing at 150 per page
 * links every record and sets every mapping's base — so the push that follows sends only real differences: a
 * workspace that already matches costs about N/150 requests, not N. Companies go before contacts so the contacts'
 * associations find their companies. Resumable: the contact listing commits its cursor with each page, the push
 * works off the durable outbox, and a company scroll simply re-reads (committed pages come back unchanged). Each run
 * records the phases it completed; `--resume` skips those of the interrupted run, so a kill during the push phase
 * resumes the push instead of listing the whole workspace again.
 */
import type { Logger } from 'pino';
import { mergeCounts, type RunCounts, type RunSummary } from '../outcome.ts';
import type { BackfillPullPort, BackfillPushPort, BackfillStorePort, PushPlan } from './ports.ts';

export type { BackfillPullPort, BackfillPushPort, BackfillStorePort, PushPlan } from './ports.ts';

export type BackfillEntity = 'contacts' | 'companies' | 'all';
export type BackfillDirection = 'pull' | 'push' | 'both';
export type BackfillPhase = 'pull:companies' | 'pull:contacts' | 'push';

export interface BackfillProgress {
  phase: BackfillPhase;
  done: number;
  total: number | null;
}

export interface BackfillDeps {
  pull: BackfillPullPort;
  push: BackfillPushPort;
  store: BackfillStorePort;
  logger: Pick<Logger, 'info' | 'warn'>;
  /** INTERCOM_RATE_LIMIT_PER_MINUTE: what the dry run prices its request count at. */
  ratePerMinute: number;
}

export interface BackfillOptions {
  entity: BackfillEntity;
  direction: BackfillDirection;
  dryRun: boolean;
  resume: boolean;
  signal: AbortSignal;
  onProgress?: (p: BackfillProgress) => void;
}

export interface PhaseResult {
  phase: BackfillPhase;
  counts: RunCounts;
  requests: number;
}

export interface BackfillResult {
  runId: number | null;
  dryRun: boolean;
  phases: PhaseResult[];
  /** Dry run only: what the push would send. */
  pushPlan: PushPlan | null;
  /** Requests spent (real run) or that a real run would spend (dry run: its own reads plus the planned writes). */
  requests: number;
  /** requests at the configured rate, in seconds. */
  estimatedSeconds: number;
}

const MAX_IDLE_ROUNDS = 3;

export class BackfillBusyError extends Error {
  constructor() {
    super('another backfill is running against this schema');
    this.name = 'BackfillBusyError';
  }
}

export async function runBackfill(deps: BackfillDeps, o: BackfillOptions): Promise<BackfillResult> {
  const lock = await deps.store.tryLock();
  if (!lock) throw new BackfillBusyError();
  const phases: PhaseResult[] = [];
  let runId: number | null = null;
  let alreadyDone = new Set<string>();
  try {
    if (!o.dryRun) {
      const abandoned = await deps.store.abandonRunning();
      if (abandoned > 0) deps.logger.warn({ runs: abandoned }, 'closed backfill runs left open by a killed process');
      if (o.resume) alreadyDone = new Set(await deps.store.phasesDoneByInterruptedRun({ entity: o.entity, direction: o.direction }));
      // A dry run records nothing, not even itself: "changes nothing" includes sync_runs.
      runId = await deps.store.startRun({
        entity: o.entity,
        direction: o.direction,
        resume: o.resume,
        // Carried over, so that a resumed run killed in turn is resumed as far again.
        ...(alreadyDone.size > 0 ? { phases_done: [...alreadyDone] } : {}),
      });
    }
    const pull = async (phase: 'pull:companies' | 'pull:contacts') => {
      if (alreadyDone.has(phase)) {
        deps.logger.info({ phase }, 'backfill --resume: phase completed by the interrupted run, skipped');
        return;
      }
      phases.push(await pullPhase(deps, o, phase, runId));
      if (runId !== null) await deps.store.markPhaseDone(runId, phase);
    };
    let pushPlan: PushPlan | null = null;
    try {
      if (o.direction !== 'push') {
        if (o.entity !== 'contacts') await pull('pull:companies');
        if (o.entity !== 'companies') await pull('pull:contacts');
      }
      if (o.direction !== 'pull') {
        if (o.dryRun) pushPlan = await deps.push.plan({ includeUnlinked: true });
        else phases.push(await pushPhase(deps, o, runId!));
      }
    } catch (err) {
      if (runId !== null) {
        const aborted = o.signal.aborted;
        await deps.store.finishRun(runId, aborted ? 'aborted' : 'failed', summarize(phases), aborted ? 'interrupted' : errorText(err));
      }
      throw err;
    }
    const requests = phases.reduce((n, p) => n + p.requests, 0) + (pushPlan?.requests ?? 0);
    const result: BackfillResult = {
      runId,
      dryRun: o.dryRun,
      phases,
      pushPlan,
      requests,
      estimatedSeconds: Math.ceil((requests / deps.ratePerMinute) * 60),
    };
    if (runId !== null) await deps.store.finishRun(runId, 'succeeded', summarize(phases));
    deps.logger.info({ runId, requests, phases }, o.dryRun ? 'backfill dry run finished' : 'backfill finished');
    return result;
  } finally {
    await lock.release();
  }
}

async function pullPhase(deps: BackfillDeps, o: BackfillOptions, phase: 'pull:companies' | 'pull:contacts', runId: number | null): Promise<PhaseResult> {
  const args = {
    signal: o.signal,
    resume: o.resume,
    dryRun: o.dryRun,
    runId,
    onProgress: (p: { done: number; total: number | null }) => o.onProgress?.({ phase, ...p }),
  };
  const r = phase === 'pull:companies' ? await deps.pull.fullPullCompanies(args) : await deps.pull.fullPullContacts(args);
  return { phase, counts: r.counts, requests: r.requests };
}

/**
 * Queues local rows Intercom has never seen, then drains the outbox until nothing is due. Entries backing off after a
 * failure stay for the daemon (or the next backfill): a backfill does not sit out retry delays.
 */
async function pushPhase(deps: BackfillDeps, o: BackfillOptions, runId: number): Promise<PhaseResult> {
  const entity = entityFilter(o.entity).entity;
  await deps.store.enqueueUnlinked(entity);
  const counts: RunCounts = {};
  let requests = 0;
  const start = await deps.store.outboxPending(entity);
  const total = start.pending;
  o.onProgress?.({ phase: 'push', done: 0, total });
  let idleRounds = 0;
  for (;;) {
    o.signal.throwIfAborted();
    const before = await deps.store.outboxPending(entity);
    if (before.due === 0) break;
    const r = await deps.push.drainOnce({ signal: o.signal, runId });
    mergeCounts(counts, r.counts);
    requests += r.requests;
    const after = await deps.store.outboxPending(entity);
    o.onProgress?.({ phase: 'push', done: Math.max(0, total - after.pending), total });
    // The outbox did not shrink: entries wait on something (a dependency, a halted push, a retry due at once).
    // A few such rounds are normal (a contact then its associations); more means stop rather than spin.
    idleRounds = after.pending < before.pending ? 0 : idleRounds + 1;
    if (idleRounds >= MAX_IDLE_ROUNDS) {
      deps.logger.warn({ pending: after.pending }, 'backfill push stopped making progress; the daemon will retry what is left');
      break;
    }
  }
  return { phase: 'push', counts, requests };
}

function entityFilter(e: BackfillEntity): { entity?: 'contact' | 'company' } {
  return e === 'contacts' ? { entity: 'contact' } : e === 'companies' ? { entity: 'company' } : {};
}

function summarize(phases: readonly PhaseResult[]): RunSummary {
  const counts: RunCounts = {};
  for (const p of phases) mergeCounts(counts, p.counts);
  return {
    counts,
    requests: phases.reduce((n, p) => n + p.requests, 0),
    details: { phases: phases.map((p) => ({ phase: p.phase, counts: p.counts, requests: p.requests })) },
  };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
