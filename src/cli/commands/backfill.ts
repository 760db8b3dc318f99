import { Option, type Command } from 'commander';
import cliProgress from 'cli-progress';
import { withEngines } from '../with-engines.ts';
import { runBackfill, type BackfillDirection, type BackfillEntity, type BackfillProgress, type BackfillResult } from '../../sync/backfill/index.ts';

interface ProgressOutput {
  update(p: BackfillProgress): void;
  stop(): void;
}

/** Bars with rate and ETA on a terminal; one JSON line per update otherwise (logs, CI, pipes). */
function progressOutput(tty: boolean): ProgressOutput {
  if (!tty) {
    const started = new Map<string, number>();
    return {
      update(p) {
        const t0 = started.get(p.phase) ?? Date.now();
        started.set(p.phase, t0);
        const seconds = (Date.now() - t0) / 1000;
        const rate = seconds > 0 ? p.done / seconds : null;
        const eta = rate && p.total !== null ? Math.max(0, Math.round((p.total - p.done) / rate)) : null;
        process.stdout.write(
          `${JSON.stringify({ event: 'progress', phase: p.phase, done: p.done, total: p.total, rate_per_second: rate === null ? null : Math.round(rate * 10) / 10, eta_seconds: eta })}\n`,
        );
      },
      stop() {},
    };
  }
  const multi = new cliProgress.MultiBar(
    {
      format: '{phase} [{bar}] {value}/{total} | {rate}/s | ETA {eta_formatted}',
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  const bars = new Map<string, { bar: cliProgress.SingleBar; t0: number }>();
  return {
    update(p) {
      let entry = bars.get(p.phase);
      // A scroll does not say how many there are: the bar's total follows the count until the end.
      const total = p.total ?? Math.max(p.done, 1);
      if (!entry) {
        entry = { bar: multi.create(total, 0, { phase: p.phase.padEnd(14), rate: '0' }), t0: Date.now() };
        bars.set(p.phase, entry);
      }
      const seconds = (Date.now() - entry.t0) / 1000;
      entry.bar.setTotal(Math.max(total, p.done));
      entry.bar.update(p.done, { phase: p.phase.padEnd(14), rate: seconds > 0 ? (p.done / seconds).toFixed(1) : '0' });
    },
    stop() {
      multi.stop();
    },
  };
}

interface BackfillFlags {
  entity: BackfillEntity;
  direction: BackfillDirection;
  dryRun?: boolean;
  resume?: boolean;
}

export function registerBackfillCommand(program: Command): void {
  program
    .command('backfill')
    .description('full sync: pull everything, then push only the differences (resumable; --dry-run changes nothing)')
    .addOption(new Option('--entity <entity>', 'what to sync').choices(['contacts', 'companies', 'all']).default('all'))
    .addOption(new Option('--direction <direction>', 'which way').choices(['pull', 'push', 'both']).default('both'))
    .option('--dry-run', 'read Intercom and print what would change and what it would cost; write nothing')
    .option('--resume', 'continue the contact listing of an interrupted backfill instead of starting over')
    .action(async (flags: BackfillFlags) => {
      const tty = process.stdout.isTTY === true;
      const progress = progressOutput(tty);
      // A dry run promises to write nothing, its own bookkeeping included.
      await withEngines({ recordUsage: flags.dryRun !== true }, async ({ ctx, engines, signal }) => {
        try {
          const result = await runBackfill(
            {
              pull: engines.pull,
              push: engines.push,
              store: engines.backfillStore,
              logger: ctx.logger,
              ratePerMinute: ctx.config.intercom.ratePerMinute,
            },
            {
              entity: flags.entity,
              direction: flags.direction,
              dryRun: flags.dryRun === true,
              resume: flags.resume === true,
              signal,
              onProgress: (p) => progress.update(p),
            },
          );
          progress.stop();
          process.stdout.write(tty ? describeResult(result, ctx.config.intercom.ratePerMinute) : `${JSON.stringify({ event: 'done', ...result })}\n`);
        } catch (err) {
          progress.stop();
          if (signal.aborted) throw new Error('backfill interrupted; run it again with --resume to continue', { cause: err });
          throw err;
        }
      });
    });
}

const PULL_LABELS: [string, string][] = [
  ['created', 'to create locally'],
  ['updated', 'to update locally'],
  ['linked', 'to link'],
  ['unchanged', 'unchanged'],
  ['conflict', 'conflicts'],
  ['invalid', 'invalid'],
  ['merged', 'merged'],
  ['deleted', 'deleted'],
  ['skipped', 'skipped'],
  ['failed', 'failed'],
];

export function describeResult(r: BackfillResult, ratePerMinute: number): string {
  const lines: string[] = [r.dryRun ? 'Dry run: nothing was changed.' : `Backfill finished (run ${r.runId}).`];
  for (const p of r.phases) {
    const counts = p.counts as Record<string, number | undefined>;
    const parts = PULL_LABELS.filter(([k]) => counts[k]).map(([k, label]) => `${counts[k]} ${r.dryRun ? label : k}`);
    lines.push(`  ${p.phase.padEnd(15)} ${parts.join(', ') || 'nothing to do'} (${p.requests} requests)`);
  }
  if (r.pushPlan) {
    const q = r.pushPlan;
    lines.push(
      `  ${'push'.padEnd(15)} ${q.create} to create, ${q.update} to update, ${q.unchanged} unchanged, ${q.invalid} invalid, ${q.delete} to delete (${q.requests} requests)`,
    );
  }
  lines.push(
    r.dryRun
      ? `Request cost: ${r.requests}, about ${formatDuration(r.estimatedSeconds)} at ${ratePerMinute} requests/minute.`
      : `Requests: ${r.requests}.`,
  );
  return `${lines.join('\n')}\n`;
}

function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h > 0 ? `${h} h ${m} min` : `${m} min ${s} s`;
}
