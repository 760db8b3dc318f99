import type { Command } from 'commander';
import type { RunKind, RunSummary } from '../../sync/outcome.ts';
import { withEngines } from '../with-engines.ts';

interface SyncFlags {
  once?: boolean;
  json?: boolean;
}

interface StepResult {
  kind: RunKind;
  runId: number | null;
  status: string;
  seconds: number | null;
  summary: RunSummary;
}

/**
 * `intercom-sync sync --once`: one incremental cycle — pull contacts, pull companies, push the outbox — then exit.
 * For schedulers that start a process per cycle (cron, a Kubernetes CronJob) instead of running the daemon, and for
 * measuring what one cycle costs. Each step is a sync_runs row, as in the daemon. Safe beside a running daemon:
 * pulled pages apply idempotently, outbox entries are claimed with leases, the company scroll takes its lock.
 */
export function registerSyncCommand(program: Command): void {
  program
    .command('sync')
    .description('one incremental cycle (pull contacts and companies, push the outbox), then exit; for cron and CronJobs')
    .option('--once', 'run one cycle and exit (required: the continuous form is `intercom-sync run`)')
    .option('--json', 'print the cycle summary as JSON')
    .action(async (flags: SyncFlags) => {
      if (!flags.once) throw new Error('sync runs one cycle: pass --once (the daemon is `intercom-sync run`)');
      await withEngines({}, async ({ engines: e, signal }) => {
        const steps: StepResult[] = [];
        const started = performance.now();
        const step = async (kind: RunKind, job: string, work: (a: { runId: number; signal: AbortSignal }) => Promise<RunSummary>) => {
          const run = await e.runs.track(kind, signal, work, { job, source: 'sync --once' });
          steps.push({ kind, runId: run.runId, status: run.status, seconds: run.durationSeconds, summary: run.summary });
          if (run.error !== undefined) throw run.error instanceof Error ? run.error : new Error(String(run.error));
        };
        await step('pull_contacts', 'contacts-pull', (a) => e.pull.pullContacts(a));
        await step('pull_companies', 'companies-pull', (a) => e.pull.pullCompanies(a));
        await step('push', 'outbox-drain', (a) => e.push.drainOnce(a));
        const seconds = (performance.now() - started) / 1000;
        const requests = steps.reduce((n, s) => n + s.summary.requests, 0);
        process.stdout.write(flags.json ? `${JSON.stringify({ seconds, requests, steps })}\n` : describeCycle(steps, seconds, requests));
      });
    });
}

function describeCycle(steps: StepResult[], seconds: number, requests: number): string {
  const lines = [`Cycle done in ${seconds.toFixed(1)} s: ${requests} Intercom requests.`];
  for (const s of steps) {
    const counts = Object.entries(s.summary.counts).map(([k, n]) => `${n} ${k}`).join(', ') || 'nothing';
    lines.push(`  ${s.kind.padEnd(15)} run ${s.runId ?? '-'} ${s.status}: ${s.summary.requests} requests; ${counts}`);
  }
  return `${lines.join('\n')}\n`;
}
