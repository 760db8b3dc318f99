import { InvalidArgumentError, Option, type Command } from 'commander';
import type { SweepReport } from '../../sync/verify/index.ts';
import type { RunSummary } from '../../sync/outcome.ts';
import { withEngines } from '../with-engines.ts';

interface VerifyFlags {
  budget?: number;
  entity: 'contacts' | 'companies' | 'all';
  json?: boolean;
}

function nonNegativeInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a non-negative integer');
  return n;
}

export function registerVerifyCommand(program: Command): void {
  program
    .command('verify')
    .description('drift sweep: compare the whole workspace with the mappings and repair what incremental pulls miss (resumes where it stopped)')
    .option('--budget <requests>', 'most Intercom requests to spend (default VERIFY_BUDGET_PER_RUN)', nonNegativeInt)
    .addOption(new Option('--entity <entity>', 'what to sweep').choices(['contacts', 'companies', 'all']).default('all'))
    .option('--json', 'print the run summary as JSON')
    .action(async (flags: VerifyFlags) => {
      await withEngines({}, async ({ ctx, engines, signal }) => {
        const engine = engines.verify;
        // Recorded like the daemon's scheduled verify runs: a row when it starts, its counts or error when it ends.
        const run = await engines.runs.track(
          'verify',
          signal,
          (a) => engine.verify({ ...a, budget: flags.budget ?? ctx.config.sync.verifyBudgetPerRun, entity: flags.entity }),
          { entity: flags.entity, source: 'cli' },
        );
        if (run.error !== undefined) throw run.error instanceof Error ? run.error : new Error(String(run.error));
        if (run.runId === null) throw new Error('the verify run was not recorded');
        process.stdout.write(flags.json ? `${JSON.stringify({ runId: run.runId, ...run.summary })}\n` : describeVerify(run.runId, run.summary));
      });
    });
}

export function describeVerify(runId: number, s: RunSummary): string {
  const lines = [`Verify run ${runId}: ${s.requests} requests.`];
  for (const entity of ['contacts', 'companies'] as const) {
    const r = s.details?.[entity] as SweepReport | undefined;
    if (!r) continue;
    const repaired = Object.entries(r.repaired).map(([k, n]) => `${n} ${k}`);
    if (r.archived) repaired.push(`${r.archived} archived`);
    const state = r.passCompleted ? 'pass complete' : r.stoppedBy ? `stopped (${r.stoppedBy}); resumes next run` : 'not reached this run';
    lines.push(
      `  ${entity.padEnd(10)} listed ${r.listed}, in sync ${r.inSync}, drifted ${r.drifted}, missing checked ${r.missingChecked}; repaired: ${repaired.join(', ') || 'nothing'}; ${state}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
