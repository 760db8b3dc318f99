import type { Command } from 'commander';
import { formatOption, outputOption, printReport, type OutputFormat } from './report.ts';

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('print the overview report: per stream last success, lag, watermark, outbox depth, dead letters')
    .addOption(formatOption())
    .addOption(outputOption())
    .action(async (flags: { format: OutputFormat; output?: string }) => {
      await printReport('overview', { format: flags.format, ...(flags.output ? { output: flags.output } : {}) });
    });
}
