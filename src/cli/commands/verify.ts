import { InvalidArgumentError, Option, type Command } from 'commander';
import type { SweepReport } from '../../sync/verify/index.ts';
import type { RunSummary } from '../../sync/outcome.ts';
import type { CliEngines } from '../engines.ts';
import { abortOnSignals } from './backfill.ts';

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
      const [{ runQueries }, { createCliContext }, { openEngines }] = await Promise.all([
        import('../../db/queries/runs.ts'),
        import('../context.ts'),
        import('../engines.ts'),
      ]);
      const ctx = await createCliContext();
      const interrupt = abortOnSignals();
      const runs = runQueries(ctx.config.schema);
      let engines: CliEngines | undefined;
      let runId: number | null = null;
      try {
        engines = openEngines(ctx);
        const engine = engines.verify;
        runId = await runs.start(ctx.database.pool, 'verify', { entity: flags.entity, source: 'cli' });
        const summary = await engine.verify({
          signal: interrupt.signal,
          runId,
          budget: flags.budget ?? ctx.config.sync.verifyBudgetPerRun,
          entity: flags.entity,
        });
        await runs.finish(ctx.database.pool, runId, interrupt.signal.aborted ? 'aborted' : 'succeeded', summary);
        process.stdout.write(flags.json ? `${JSON.stringify({ runId, ...summary })}\n` : describeVerify(runId, summary));
      } catch (err) {
        if (runId !== null) {
          await runs.finish(ctx.database.pool, runId, interrupt.signal.aborted ? 'aborted' : 'failed', { counts: {}, requests: 0 }, err instanceof Error ? err.message : String(err));
        }
        throw err;
      } finally {
        interrupt.dispose();
        await engines?.close();
        await ctx.close();
      }
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
